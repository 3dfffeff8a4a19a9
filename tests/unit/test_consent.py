"""Consent kept as evidence: the form's consent wording has a version id and a hash per
language, changing the wording changes them, every version's text is kept, and a record from
before the evidence was kept reads "not recorded"."""

from __future__ import annotations

import gettext
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from markupsafe import escape

from optout.domain import consent as evidence
from optout.domain.locales import SUPPORTED_LOCALES
from optout.domain.models import Consent, Status, Subscriber
from optout.messages import consent, render
from optout.web import public

INTRO = (
    "When a platform switches on a new use of your data by default, we remind you before the "
    "deadline and tell you exactly where to switch it off. By email or by text, in your "
    "language, in your daytime."
)


@pytest.fixture(autouse=True)
def fresh_wordings() -> Iterator[None]:
    """Each test makes the wordings from the catalogues as they are in it."""
    consent.form_wording.cache_clear()
    yield
    consent.form_wording.cache_clear()


class _Reworded(gettext.NullTranslations):
    """A catalogue with one sentence translated differently (a translator's edit)."""

    def __init__(self, catalogue: gettext.NullTranslations, msgid: str, text: str) -> None:
        super().__init__()
        self._catalogue, self._msgid, self._text = catalogue, msgid, text

    def gettext(self, message: str) -> str:
        return self._text if message == self._msgid else self._catalogue.gettext(message)


def test_changing_the_wording_in_one_catalogue_changes_that_language_s_hash_and_version_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the wordings as the catalogues have them
    before = {locale: consent.form_wording(locale) for locale in SUPPORTED_LOCALES}
    # When a translator rewords one sentence of the German catalogue
    original = render.translations

    def reworded(locale: str) -> gettext.NullTranslations:
        if locale != "de":
            return original(locale)
        return _Reworded(original("de"), INTRO, "Wir erinnern Sie rechtzeitig vor der Frist.")

    monkeypatch.setattr(render, "translations", reworded)
    consent.form_wording.cache_clear()
    after = {locale: consent.form_wording(locale) for locale in SUPPORTED_LOCALES}
    # Then German has a new hash and version id, and no other language changes
    assert after["de"].sha256 != before["de"].sha256
    assert after["de"].version != before["de"].version
    assert after["de"].version.startswith("subscribe-form/de/")
    assert {k: v for k, v in after.items() if k != "de"} == {
        k: v for k, v in before.items() if k != "de"
    }
    # And the form in German shows the new sentence, which the hash is made of
    page = render.page("subscribe", public.form_context("de"), "de")
    assert "Wir erinnern Sie rechtzeitig vor der Frist." in page
    assert after["de"].paragraphs[0] == "Wir erinnern Sie rechtzeitig vor der Frist."


def test_the_hash_is_the_sha256_of_the_exact_wording_and_the_version_names_it() -> None:
    wording = consent.form_wording("en")
    assert wording.paragraphs == (
        INTRO,
        "We send one message to confirm. Nothing else happens until you confirm. Every "
        "reminder has a one-click unsubscribe; by text, reply STOP.",
        "Send me a confirmation",
    )
    assert wording.sha256 == hashlib.sha256(wording.text.encode("utf-8")).hexdigest()
    assert wording.version == f"subscribe-form/en/{wording.sha256[:12]}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_form_shows_exactly_the_wording_whose_version_it_records(locale: str) -> None:
    # Given the wording of a language: what it says, what it asks for, the button
    wording = consent.form_wording(locale)
    assert len(wording.paragraphs) == 3
    # When the form is rendered in that language
    page = render.page("subscribe", public.form_context(locale), locale)
    # Then each paragraph is on it as it is hashed (escaped as Jinja escapes it)
    for paragraph in wording.paragraphs:
        assert str(escape(paragraph)) in page


def test_every_current_wording_is_kept_in_the_record_and_checks_against_its_hash() -> None:
    # Run `make messages` when this fails: it records the wording a catalogue change made.
    assert [wording.version for wording in consent.unrecorded()] == []
    for version, kept in consent.recorded().items():
        assert kept["sha256"] == evidence.wording_sha256(kept["text"])
        assert version == evidence.version_id(kept["locale"], kept["sha256"])


def test_recording_adds_a_new_wording_and_keeps_every_earlier_one(tmp_path: Path) -> None:
    # Given a record that holds an earlier German wording
    path = tmp_path / "consent_wordings.json"
    earlier = {"locale": "de", "sha256": evidence.wording_sha256("alt"), "text": "alt"}
    old_version = evidence.version_id("de", earlier["sha256"])
    path.write_text(json.dumps({old_version: earlier}), encoding="utf-8")
    # When the current wordings are recorded
    added = consent.record(path)
    # Then every language's current wording is added and the earlier one stays
    kept = consent.recorded(path)
    assert len(added) == len(SUPPORTED_LOCALES) and kept[old_version] == earlier
    assert consent.unrecorded(path) == [] and consent.record(path) == []


def subscriber(consent_record: Consent, **changes: str) -> Subscriber:
    fields = {
        "subscriber_id": "id",
        "channel": "email",
        "contact": "a@example.org",
        "region": "DE",
        "home_group": "EU",
        "locale": "de",
        "timezone": "Europe/Berlin",
        "created_at": "2025-10-01T00:00:00Z",
        "confirmed_at": "2025-10-01T00:05:00Z",
        **changes,
    }
    return Subscriber(platforms=(), status=Status.ACTIVE, consent=consent_record, **fields)


def test_a_record_from_before_the_evidence_reads_not_recorded_and_never_guesses() -> None:
    old = subscriber(Consent("2025-10-01T00:00:00Z", "subscribe-form-v1", "web-form"))
    assert evidence.evidence(old).as_dict() == {
        "source": "form",  # what its source says
        "source_detail": "web-form",
        "form_version": "subscribe-form-v1",
        "wording_sha256": None,
        "language": "de",  # theirs
        "subscribed_at": "2025-10-01T00:00:00Z",
        "confirmed_at": "2025-10-01T00:05:00Z",
        "privacy_notice_url": None,  # not recorded, which is not "none shown"
        "proof": None,
        "imported_at": None,
    }


def test_older_imports_read_as_imports_with_their_proof() -> None:
    imported = Consent(
        "2025-02-01T10:30:00Z",
        "fosdem-2025-v2",
        "paper form at FOSDEM",
        proof="box 3",
        imported_at="2025-10-01T00:00:00Z",
    )
    read = evidence.evidence(subscriber(imported))
    assert (read.source, read.source_detail, read.proof) == (
        "import",
        "paper form at FOSDEM",
        "box 3",
    )
    pending = Consent("2025-10-01T00:00:00Z", "", "import: old newsletter")
    assert evidence.evidence(subscriber(pending, confirmed_at="")).source == "import"
    assert evidence.evidence(subscriber(pending, confirmed_at="")).confirmed_at is None


def test_a_form_record_without_a_privacy_notice_says_none_was_shown() -> None:
    shown = Consent("t", "v", "api", kind="form", wording_sha256="0" * 64, locale="de")
    assert evidence.evidence(subscriber(shown)).privacy_notice_url == ""
