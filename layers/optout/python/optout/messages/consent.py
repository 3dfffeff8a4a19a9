"""The subscribe form's consent wording, one version per language, and the record of every
version there has been.

The wording is ``templates/consent/subscribe_form.txt`` rendered in a language: the paragraphs
the form shows around its button and the button's label, one a line, with nothing of the
page's markup. The form shows exactly these paragraphs, so what a person read is what is hashed.
Its SHA-256 (of the UTF-8 text, paragraphs joined by newlines) and its version id
(`domain.consent.version_id`, ``subscribe-form/de/3f2a9c1b0d4e``) are made from it when first
used in an execution environment: changing a sentence or its translation in one catalogue
changes that language's hash and id, and no other language's.

``locales/consent_wordings.json`` keeps the text of every version (by version id: its language,
its hash and its text). It only grows: `make messages` adds the current wordings with
``python -m optout.messages.consent``, and a unit test fails while a current wording is missing
from it, so that anyone holding a person's version id and hash can read the text they agreed
to, and check it (``sha256sum`` of the text gives the hash).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from optout.domain import consent
from optout.domain.locales import SUPPORTED_LOCALES
from optout.messages import render

TEMPLATE = "consent/subscribe_form.txt"
RECORD = Path(str(resources.files("optout") / "locales" / "consent_wordings.json"))


@dataclass(frozen=True)
class Wording:
    """One language's consent wording of the form: its paragraphs (the last is the button's
    label), and the version id and hash that a subscription on it records."""

    locale: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def sha256(self) -> str:
        return consent.wording_sha256(self.text)

    @property
    def version(self) -> str:
        return consent.version_id(self.locale, self.sha256)


@cache
def form_wording(locale: str) -> Wording:
    """The form's consent wording in `locale`, as the form shows it."""
    rendered = render.text(TEMPLATE, {}, locale)
    paragraphs = tuple(line.strip() for line in rendered.splitlines() if line.strip())
    return Wording(locale, paragraphs)


def recorded(path: Path = RECORD) -> dict[str, dict[str, str]]:
    """Every version of the wording there has been: version id -> its locale, sha256, text."""
    if not path.is_file():
        return {}
    data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def unrecorded(path: Path = RECORD) -> list[Wording]:
    """The current wordings (one a supported language) that the record does not hold."""
    kept = recorded(path)
    return [
        wording
        for wording in (form_wording(locale) for locale in SUPPORTED_LOCALES)
        if kept.get(wording.version, {}).get("text") != wording.text
    ]


def record(path: Path = RECORD) -> list[str]:
    """Add the current wordings the record lacks (it never loses one); their version ids."""
    kept = recorded(path)
    added = unrecorded(path)
    for wording in added:
        kept[wording.version] = {
            "locale": wording.locale,
            "sha256": wording.sha256,
            "text": wording.text,
        }
    if added:
        text = json.dumps(dict(sorted(kept.items())), ensure_ascii=False, indent=2)
        path.write_text(text + "\n", encoding="utf-8")
    return [wording.version for wording in added]


if __name__ == "__main__":
    for version in record():
        print(f"recorded {version}", file=sys.stderr)
