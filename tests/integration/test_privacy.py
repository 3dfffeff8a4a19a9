"""A person's own data: shown on request, erased on request, and an erased contact stays out
until it subscribes and confirms again."""

from __future__ import annotations

import pytest

from optout.core import clock, keys, settings, tokens
from optout.store import SubscriberStore
from tests.helpers import confirm_path, link
from tests.integration.conftest import Stack


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
    assert stack.call("privacy-erase", path=path).status == 200
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert set(record) == {"subscriber_id", "status", "erased_at", "erased_reason"}
    assert record["status"] == "erased" and "ada" not in str(record)
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
