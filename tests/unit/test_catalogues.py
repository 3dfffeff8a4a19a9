"""The translated message catalogues and the demo campaign's translated policy texts.

Every catalogue must translate exactly the template's messages, fully, with the same
``%(name)s`` placeholders, and keep the SMS keywords the phone networks act on.
"""

import io
import json
import re
from gettext import c2py
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from optout.domain.locales import DEFAULT_LOCALE, SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "layers" / "optout" / "python" / "optout" / "locales"
TEMPLATE = LOCALES / "messages.pot"
CATALOGUES = sorted(LOCALES.glob("*/LC_MESSAGES/messages.po"))
PAYLOAD = ROOT / "events" / "payloads" / "policy-changed.linkedin.json"

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
SMS_KEYWORD_LINE = "Reply STOP to stop, HELP for help."
SMS_KEYWORDS = ("STOP", "HELP")
# Plural forms by catalogue, where not two (gettext's conventions).
PLURAL_FORMS = {"pl": 3, "zh_HK": 1}


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as po_file:
        return read_po(po_file)


def directory_of(path: Path) -> str:
    return path.parents[1].name


def messages(catalogue: Catalog) -> list[Message]:
    """The catalogue's messages, without its header entry."""
    return [message for message in catalogue if message.id]


def translations_of(message: Message) -> list[str]:
    """Every msgstr of `message`: one, or one per plural form."""
    if isinstance(message.string, str):
        return [message.string]
    return list(message.string)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def msgid_placeholders(message: Message) -> set[str]:
    ids = [message.id] if isinstance(message.id, str) else list(message.id)
    return set().union(*(placeholders(text) for text in ids))


def as_word(keyword: str) -> re.Pattern[str]:
    """`keyword` standing alone, not inside a longer Latin word (CJK may touch it)."""
    return re.compile(rf"(?<![A-Za-z]){keyword}(?![A-Za-z])")


@pytest.fixture(scope="module")
def template_ids() -> set[str | tuple[str, ...]]:
    return {message.id for message in messages(read_catalogue(TEMPLATE))}


catalogue_paths = pytest.mark.parametrize("path", CATALOGUES, ids=directory_of)


def test_every_supported_language_but_english_has_a_catalogue() -> None:
    # Given the supported locales, which templates spell as directories (fr-CA -> fr_CA)
    expected = {code.replace("-", "_") for code in SUPPORTED_LOCALES if code != DEFAULT_LOCALE}
    # Then each has a catalogue, and no catalogue is for a language we do not offer
    assert {directory_of(path) for path in CATALOGUES} == expected


@catalogue_paths
def test_a_catalogue_has_exactly_the_template_messages(
    path: Path, template_ids: set[str | tuple[str, ...]]
) -> None:
    catalogue = read_catalogue(path)
    ids = {message.id for message in messages(catalogue)}
    assert template_ids - ids == set(), "missing from the catalogue"
    assert ids - template_ids == set(), "not in the template"
    assert dict(catalogue.obsolete) == {}, "obsolete entries left behind"


@catalogue_paths
def test_a_catalogue_header_names_its_language_and_project(path: Path) -> None:
    catalogue = read_catalogue(path)
    headers = dict(catalogue.mime_headers)
    assert headers["Language"] == directory_of(path)
    assert headers["Language-Team"] == "optout-bot"
    assert "optout-bot" in headers["Project-Id-Version"]
    assert "EMAIL@ADDRESS" not in f"{headers['Last-Translator']} {headers['Report-Msgid-Bugs-To']}"


@catalogue_paths
def test_the_compiled_catalogue_is_the_one_its_source_compiles_to(path: Path) -> None:
    # Given a catalogue as translators edit it, compiled as `make messages` compiles it
    compiled = io.BytesIO()
    with path.open("rb") as po_file:
        write_mo(compiled, read_po(po_file, locale=directory_of(path)))
    # Then the messages.mo beside it, which the pages read, is exactly that
    assert path.with_suffix(".mo").read_bytes() == compiled.getvalue(), (
        f"{path.with_suffix('.mo')} is out of date: run `make messages`"
    )


@catalogue_paths
def test_every_message_is_translated_in_every_plural_form(path: Path) -> None:
    # Given a catalogue and the number of plural forms its Plural-Forms header declares
    catalogue = read_catalogue(path)
    for message in messages(catalogue):
        texts = translations_of(message)
        # Then a plural message has one translation per form, and none is empty
        if message.pluralizable:
            assert len(texts) == catalogue.num_plurals, message.id
        assert all(text.strip() for text in texts), f"untranslated: {message.id!r}"
        assert not message.fuzzy, f"fuzzy: {message.id!r}"


@catalogue_paths
def test_the_plural_rule_is_the_gettext_one_of_the_language(path: Path) -> None:
    # Given the catalogue's plural rule: pybabel init takes CLDR's, which for fr, es, it and pt
    # puts a form for round millions between "one" and "other"; gettext's has two forms
    catalogue = read_catalogue(path)
    form = c2py(catalogue.plural_expr)
    # Then the language has its usual number of forms, "1 day" uses the first one, "7 days" the
    # last one, and every count maps to a form the catalogue has
    assert catalogue.num_plurals == PLURAL_FORMS.get(directory_of(path), 2)
    assert form(1) == 0
    assert form(7) == catalogue.num_plurals - 1
    assert all(0 <= form(count) < catalogue.num_plurals for count in range(0, 1_000_001, 997))


@catalogue_paths
def test_every_translation_keeps_exactly_the_placeholders_of_its_message(path: Path) -> None:
    for message in messages(read_catalogue(path)):
        expected = msgid_placeholders(message)
        for text in translations_of(message):
            assert placeholders(text) == expected, f"{message.id!r} -> {text!r}"
            # and formats with them, as Jinja's i18n extension does (a stray % would fail)
            text % dict.fromkeys(expected, "x")


@catalogue_paths
def test_the_sms_line_keeps_the_stop_and_help_keywords(path: Path) -> None:
    message = read_catalogue(path).get(SMS_KEYWORD_LINE)
    assert message is not None
    for keyword in SMS_KEYWORDS:
        assert as_word(keyword).search(message.string), f"{keyword} lost in {message.string!r}"


# The demo campaign's policy texts, translated in the payload.

POLICY = json.loads(PAYLOAD.read_text(encoding="utf-8"))["policy"]
TRANSLATED = sorted(POLICY.get("translations", {}).items())


def test_the_payload_translates_into_supported_locales_only() -> None:
    assert TRANSLATED, "the demo payload carries no translations"
    assert {code for code, _ in TRANSLATED} <= set(SUPPORTED_LOCALES) - {DEFAULT_LOCALE}


@pytest.mark.parametrize("code, text", TRANSLATED, ids=[code for code, _ in TRANSLATED])
def test_a_payload_translation_is_complete_and_fits_a_text_message(
    code: str, text: dict[str, object]
) -> None:
    assert set(text) == {"title", "short_title", "summary", "steps"}
    assert isinstance(text["steps"], list)
    assert len(text["steps"]) == len(POLICY["steps"]), "one translated step per English step"
    assert all(isinstance(step, str) and step.strip() for step in text["steps"])
    assert isinstance(text["short_title"], str)
    assert 0 < len(text["short_title"]) <= 40
