"""A person's own data: shown on request, erased on request, and an erased contact stays out
until it subscribes and confirms again."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from markupsafe import escape

from optout.core import clock, keys, settings, tokens
from optout.links import privacy
from optout.messages import consent
from optout.store import SubscriberStore
from tests.helpers import BASE, active, confirm_path, deliver, link
from tests.integration.conftest import Stack

JSON = {"Accept": "application/json"}
FORM_PAGE_IN_FRENCH = {"Accept": "text/html", "Accept-Language": "fr"}
NOTICE = "https://rights.example.org/privacy-notice"


def privacy_path(stack: Stack) -> str:
    """Subscribe Ada, confirm, and take the privacy link from the confirmation page."""
    stack.call("subscribe-json")
    stack.drain_notices()
    page = stack.call("confirm", path=confirm_path(stack.outbox()[0].text))
    return link(page.text, "privacy")


def test_the_person_sees_everything_kept_as_a_page_and_as_json(stack: Stack) -> None:
    path = privacy_path(stack)
    page = stack.call("privacy-page", path=path)
    assert (
        page.status == 200 and "ada@example.org" in page.text and "Meine Daten löschen" in page.text
    )
    data = stack.call("privacy-page", path=path, headers={"Accept": "application/json"}).json()
    assert data["contact"] == "ada@example.org" and data["status"] == "active"
    assert data["consent"]["form_version"].startswith("subscribe-form/de/")
    assert data["platforms"] == ["linkedin"]
    assert "audience_pk" not in data


def test_erasure_keeps_only_the_keyed_hash_with_reason_and_date(stack: Stack) -> None:
    path = privacy_path(stack)
    evidence = stack.call("privacy-page", path=path, headers=JSON).json()["consent_evidence"]
    assert stack.call("privacy-erase", path=path).status == 200
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert set(record) == {"subscriber_id", "status", "erased_at", "erased_reason"}
    assert record["status"] == "erased" and "ada" not in str(record)
    # The evidence of consent went with the rest: its wording's hash and version are nowhere
    assert evidence["wording_sha256"] not in str(record)
    assert evidence["form_version"] not in str(record) and "consent" not in str(record)
    assert stack.call("privacy-page", path=path, headers=JSON).status == 404
    assert stack.call("privacy-page", path=path).status == 404  # nothing left to show
    assert stack.call("privacy-erase", path=path).status == 200  # idempotent
    assert stack.items("SUBSCRIBERS_TABLE") == [record]


def test_an_unsubscribe_or_a_bounce_after_an_erasure_leaves_only_the_erasure(
    stack: Stack, test_clock
) -> None:
    # Given Ada erased, and an unsubscribe link made after it (as the smoke test's test-links
    # route makes them; found by schemathesis: the unsubscribe was a 500, its record corrupt)
    path = privacy_path(stack)
    assert stack.call("privacy-erase", path=path).status == 200
    (erased,) = stack.items("SUBSCRIBERS_TABLE")
    test_clock.advance(minutes=1)
    fresh = tokens.mint(
        keys.token_keyring(settings.get()),
        tokens.Purpose.UNSUBSCRIBE,
        [erased["subscriber_id"]],
        clock.now() + tokens.LIFETIMES[tokens.Purpose.UNSUBSCRIBE],
    )
    # When it is followed, and a bounce for the address arrives
    assert stack.call("unsubscribe-one-click", path=f"/unsubscribe/{fresh}").status == 200
    assert stack.call("unsubscribe-page", path=f"/unsubscribe/{fresh}").status == 200
    assert not SubscriberStore(settings.get()).suppress(
        erased["subscriber_id"], "bounce", clock.now()
    )
    # Then nothing is kept but the erasure
    assert stack.items("SUBSCRIBERS_TABLE") == [erased]


def test_an_erased_contact_stays_out_until_it_confirms_again(stack: Stack, test_clock) -> None:
    path = privacy_path(stack)
    stack.call("privacy-erase", path=path)
    test_clock.advance(minutes=11)
    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert record["status"] == "pending" and "audience_pk" not in record
    assert stack.call("confirm", path=confirm_path(stack.outbox()[-1].text)).status == 200
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert record["status"] == "active"


def test_a_privacy_link_for_someone_else_purpose_is_refused(stack: Stack) -> None:
    path = privacy_path(stack)
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert stack.call("privacy-page", path=forged).status == 404
    assert stack.call("privacy-erase", path=forged).status == 404
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert record["status"] == "active"


def test_links_issued_before_an_erasure_do_not_reach_the_contact_s_new_record(
    stack: Stack, test_clock
) -> None:
    # Given a person who erased their data, keeping their old privacy link (found by an
    # attacker: a recycled number's previous owner kept access for up to 90 days)
    old_privacy = privacy_path(stack)
    old_confirm = confirm_path(stack.outbox()[0].text)
    stack.call("privacy-erase", path=old_privacy)
    # When the same contact subscribes and confirms again, later
    test_clock.advance(minutes=11)
    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    new_page = stack.call("confirm", path=confirm_path(stack.outbox()[-1].text))
    assert new_page.status == 200
    # Then the old links show and change nothing of the new record
    shown = stack.call("privacy-page", path=old_privacy, headers={"Accept": "application/json"})
    assert shown.status in (403, 404, 410) and "ada@example.org" not in shown.text
    assert stack.call("privacy-erase", path=old_privacy).status in (403, 404, 410)
    assert stack.call("confirm", path=old_confirm).status in (403, 404, 410)
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert record["status"] == "active" and record["contact"] == "ada@example.org"
    # And the new privacy link works
    assert stack.call("privacy-page", path=link(new_page.text, "privacy")).status == 200


def test_a_confirmation_link_from_before_an_erasure_stays_refused_whatever_its_lifetime(
    stack: Stack, test_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given confirmation links that live longer than the default week, and a person who
    # erased their data a day after subscribing, keeping the first confirmation link
    monkeypatch.setenv("CONFIRM_TOKEN_DAYS", "30")
    settings.get.cache_clear()
    old_privacy = privacy_path(stack)
    old_confirm = confirm_path(stack.outbox()[0].text)
    test_clock.advance(days=1)
    stack.call("privacy-erase", path=old_privacy)
    # When the same contact subscribes again and that old link is used before the new one
    test_clock.advance(minutes=11)
    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    reply = stack.call("confirm", path=old_confirm)
    # Then the old link is refused (when it was issued is read with the lifetime it had)
    assert reply.status in (403, 404, 410)
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert record["status"] == "pending"


# -- consent kept as evidence -----------------------------------------------------------------


def with_privacy_notice(monkeypatch: pytest.MonkeyPatch, url: str = NOTICE) -> None:
    """The operator sets PrivacyNoticeUrl (the subscriptions function's PRIVACY_NOTICE_URL)."""
    monkeypatch.setenv("PRIVACY_NOTICE_URL", url)
    settings.get.cache_clear()


def test_the_form_links_to_the_privacy_notice_and_shows_the_wording_whose_version_is_kept(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the organisation's privacy notice set
    with_privacy_notice(monkeypatch)
    # When a person opens the form in French
    page = stack.call("subscribe-form-page", headers=FORM_PAGE_IN_FRENCH)
    # Then it links to the notice, and shows the French consent wording, paragraph by paragraph
    assert page.status == 200 and f'href="{NOTICE}"' in page.text
    assert "Politique de confidentialité" in page.text
    for paragraph in consent.form_wording("fr").paragraphs:
        assert str(escape(paragraph)) in page.text  # as Jinja escapes it


def test_the_form_shown_again_with_its_problems_still_links_to_the_privacy_notice(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_privacy_notice(monkeypatch)
    reply = stack.call("subscribe-form", body="contact=not-an-address&region=DE")
    assert reply.status == 400 and f'href="{NOTICE}"' in reply.text


def test_without_a_privacy_notice_the_form_shows_no_such_link(stack: Stack) -> None:
    page = stack.call("subscribe-form-page")
    assert page.status == 200 and "Privacy notice" not in page.text


def test_a_person_who_subscribed_on_the_form_sees_the_evidence_of_their_consent(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, test_clock
) -> None:
    # Given a privacy notice, and Ana reading the form in French who asks for reminders in
    # Spanish (the sample form body: locale=es)
    with_privacy_notice(monkeypatch)
    assert stack.call("subscribe-form", headers=FORM_PAGE_IN_FRENCH).status == 202
    stack.drain_notices()
    # When she confirms a minute later and opens her privacy page
    test_clock.advance(minutes=1)
    confirmed = stack.call("confirm", path=confirm_path(stack.outbox()[0].text))
    path = link(confirmed.text, "privacy")
    data = stack.call("privacy-page", path=path, headers=JSON).json()
    # Then its JSON names the French wording she read, its hash, when and with which notice
    french = consent.form_wording("fr")
    assert data["consent_evidence"] == {
        "source": "form",
        "source_detail": "web-form",
        "form_version": french.version,
        "wording_sha256": french.sha256,
        "language": "fr",
        "subscribed_at": "2025-10-27T09:00:00Z",
        "confirmed_at": "2025-10-27T09:01:00Z",
        "privacy_notice_url": NOTICE,
        "proof": None,
        "imported_at": None,
    }
    assert french.version.startswith("subscribe-form/fr/") and len(french.sha256) == 64
    assert hashlib.sha256(french.text.encode()).hexdigest() == french.sha256
    # And her page (in Spanish, her language) shows the same
    page = stack.call("privacy-page", path=path).text
    assert "Prueba de tu consentimiento" in page and "En nuestro formulario de suscripción" in page
    for shown in (french.version, french.sha256, "2025-10-27T09:01:00Z", f'href="{NOTICE}"'):
        assert shown in page


def test_an_api_subscription_without_a_privacy_notice_says_none_was_shown(stack: Stack) -> None:
    data = stack.call("privacy-page", path=privacy_path(stack), headers=JSON).json()
    evidence = data["consent_evidence"]
    assert (evidence["source"], evidence["source_detail"]) == ("form", "api")
    assert evidence["form_version"] == consent.form_wording("de").version  # the API's locale
    assert evidence["privacy_notice_url"] == ""  # none shown, which is not "not recorded"
    page = stack.call("privacy-page", path=privacy_path(stack)).text
    assert "Datenschutzhinweis im Formular</dt>\n<dd>Keiner</dd>" in page


def test_a_record_from_before_the_evidence_was_kept_reads_not_recorded(stack: Stack) -> None:
    # Given a subscriber written as they were before consent was kept as evidence
    subscriber_id = active("old@example.org", "DE", "en")
    path = privacy.privacy_link(settings.get(), subscriber_id, BASE, clock.now())
    path = path.removeprefix(BASE)
    # When they open their privacy page
    data = stack.call("privacy-page", path=path, headers=JSON).json()
    page = stack.call("privacy-page", path=path)
    # Then what was not recorded says so, and what was is shown
    evidence = data["consent_evidence"]
    assert evidence["source"] is None and evidence["wording_sha256"] is None
    assert evidence["privacy_notice_url"] is None and evidence["language"] == "en"
    assert evidence["form_version"] == "test"
    assert evidence["subscribed_at"] == "2025-10-01T00:00:00Z"
    assert page.status == 200 and page.text.count("Not recorded") == 4


def test_start_texted_after_stop_is_kept_as_consent_by_keyword(stack: Stack, test_clock) -> None:
    # Given a number subscribed through the form (in its daytime), confirmed, then stopped by text
    test_clock.now = datetime(2025, 10, 27, 15, 0, tzinfo=UTC)
    assert stack.call("subscribe-sms-json").status == 202
    stack.drain_notices()
    (confirmation,) = stack.outbox()
    confirmed = stack.call("confirm", path=confirm_path(confirmation.text))
    path = link(confirmed.text, "privacy")
    before = stack.call("privacy-page", path=path, headers=JSON).json()["consent_evidence"]
    number = confirmation.to
    deliver("feedback-sms-stop", originationNumber=number, messageBody="STOP")
    # When it texts START a day later
    test_clock.advance(days=1)
    deliver(
        "feedback-sms-stop",
        originationNumber=number,
        messageBody="Start",
        inboundMessageId="inbound-start-1",
    )
    # Then its consent on record is the text, naming the wording it first agreed to
    after = stack.call("privacy-page", path=path, headers=JSON).json()["consent_evidence"]
    assert after["source"] == "keyword" and after["source_detail"] == "keyword"
    assert after["subscribed_at"] == after["confirmed_at"] == "2025-10-28T15:00:00Z"
    assert after["proof"] == "START texted from this number (message inbound-start-1)"
    assert after["wording_sha256"] == before["wording_sha256"] is not None
