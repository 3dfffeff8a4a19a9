"""A person acts while their batch is in flight: the sender has read them as active, and the
unsubscribe (or "I've switched it off") lands before their message goes out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from optout.core import clock, keys, settings, tokens
from optout.sending import sender
from optout.store import CampaignStore, SubscriberStore
from tests.helpers import CAMPAIGN, active, at, confirm_path, link, to
from tests.integration.conftest import Stack


def token(purpose: tokens.Purpose, *parts: str) -> str:
    return tokens.mint(
        keys.token_keyring(settings.get()), purpose, parts, clock.now() + timedelta(days=30)
    )


def acts_after_the_read(monkeypatch: pytest.MonkeyPatch, subscriber_id: str, act) -> list[str]:  # type: ignore[no-untyped-def]
    """Run `act` once, when the sender takes `subscriber_id` from what it read, before the
    claim and the send."""
    real_get, done = sender.ReadAhead.get, []

    def get(self, wanted: str):  # type: ignore[no-untyped-def]
        found = real_get(self, wanted)
        if wanted == subscriber_id and not done:
            assert found is not None and found.status.value == "active"  # read as active
            done.append(act())
        return found

    monkeypatch.setattr(sender.ReadAhead, "get", get)
    return done


def test_an_unsubscribe_after_the_read_stops_that_message(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    # Given three subscribers in one batch, and one of them unsubscribes after the sender read them
    leaving = active("leaving@example.org", "FR", "fr")
    for name in ("a", "b"):
        active(f"{name}@example.org", "FR", "fr")
    path = "/unsubscribe/" + token(tokens.Purpose.UNSUBSCRIBE, leaving, CAMPAIGN, "EU")
    acted = acts_after_the_read(
        monkeypatch, leaving, lambda: stack.call("unsubscribe-one-click", path=path).status
    )
    # When the reminder goes out
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    # Then the unsubscribe took effect before their message: nothing reached them, the others got one
    assert acted == [200]
    assert to(stack, "leaving@example.org") == []
    assert sorted(m.to for m in stack.outbox()) == ["a@example.org", "b@example.org"]
    stats = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert stats["sent"] == 2 and stats["skipped_unsubscribed"] == 1


def test_switched_it_off_after_the_read_stops_that_message(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    done = active("done@example.org", "FR", "fr")
    active("a@example.org", "FR", "fr")
    path = "/done/" + token(tokens.Purpose.DONE, CAMPAIGN, "EU", done)
    acted = acts_after_the_read(monkeypatch, done, lambda: stack.call("done", path=path).status)
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    assert acted == [200]
    assert to(stack, "done@example.org") == []
    assert [m.to for m in stack.outbox()] == ["a@example.org"]
    stats = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert stats["sent"] == 1 and stats["skipped_already_done"] == 1


def test_a_confirmation_clicked_twice_at_once_activates_once(
    stack: Stack, test_clock, monkeypatch
) -> None:
    # Given a pending subscriber who presses "confirm" twice: the second request, a second
    # later, runs whole between the first one's read and its conditional write
    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    (confirmation,) = stack.outbox()
    path = confirm_path(confirmation.text)
    real_get, replies, started = SubscriberStore.get, [], []

    def second_click_in_between(self, subscriber_id):  # type: ignore[no-untyped-def]
        found = real_get(self, subscriber_id)
        if not started:
            started.append(1)
            test_clock.advance(seconds=1)
            replies.append(stack.call("confirm", path=path))
        return found

    monkeypatch.setattr(SubscriberStore, "get", second_click_in_between)
    first = stack.call("confirm", path=path)
    # Then both see "subscribed", and the subscriber is active once, in the audience index
    assert [first.status, replies[0].status] == [200, 200]
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert record["status"] == "active" and record["audience_sk"] == record["subscriber_id"]
    # And the one activation is the one on record: the first request's write, landing after
    # the second's, found the subscriber active and changed nothing. The person's own data
    # says they confirmed when the second click did it, not a second earlier
    shown = stack.call(
        "privacy-page", path=link(first.text, "privacy"), headers={"Accept": "application/json"}
    )
    assert shown.json()["confirmed_at"] == "2025-10-27T09:00:01Z"


def test_another_campaigns_message_counted_after_the_read_holds_this_one_for_the_cap(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    # Given the sender has read Ada with nothing sent today, and before her claim another
    # campaign's sender counts its message to her today (the day's one place, MessagesPerDay 1)
    ada = active("ada@example.org", "DE", "en", platforms=())
    subscribers = SubscriberStore(settings.get())

    def other_campaign_counts_a_message() -> bool:
        table = subscribers._table  # as another sender's claim writes it
        table.update_item(
            Key={"subscriber_id": ada},
            UpdateExpression="SET recent_sends = :sends",
            ExpressionAttributeValues={":sends": ["2025-10-27 meta-ai-2025"]},
        )
        return True

    acted = acts_after_the_read(monkeypatch, ada, other_campaign_counts_a_message)
    # When LinkedIn's "one week left" goes out
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    # Then her claim saw the count change, decided again, and held LinkedIn's for the next day
    assert acted == [True]
    assert to(stack, "ada@example.org") == []
    stats = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert stats.get("sent", 0) == 0 and stats["deferred_cap"] == 1
    held = subscribers.get(ada)
    assert held is not None and held.recent_sends == ("2025-10-27 meta-ai-2025",)
    # And it goes the next morning, counted on that day
    at(stack, test_clock, "2025-10-28T08:00:00Z")
    assert len(to(stack, "ada@example.org")) == 1
    counted = subscribers.get(ada)
    assert counted is not None and counted.recent_sends[-1] == f"2025-10-28 {CAMPAIGN}"
