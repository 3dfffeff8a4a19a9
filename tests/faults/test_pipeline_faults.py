"""Faults before the sender: two scheduler ticks at once, a fan-out worker that dies mid-shard,
a webhook delivered three times over three days, an SMS provider that times out. Each test ends
at the outbox: everyone reached once, nobody twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from optout.campaigns import schedule
from optout.channels.sms_http import _session
from optout.core import clock, settings
from optout.sending import fanout
from optout.store import CampaignStore, DeliveryStore
from tests.helpers import CAMPAIGN, LINKEDIN, FakeProvider, active, at
from tests.integration.conftest import Stack


def received(stack: Stack) -> Counter[str]:
    return Counter(message.to for message in stack.outbox())


def test_two_ticks_at_once_on_two_threads_reach_everyone_once(
    stack: Stack, test_clock, campaign, atomic_aws, monkeypatch
) -> None:
    # Given subscribers in four regions whose "two weeks left" is due, and two scheduler ticks
    # that both read the due index before either leases anything
    everyone = [f"{region.lower()}@example.org" for region in ("DE", "NO", "CH", "HK")]
    for address, region in zip(everyone, ("DE", "NO", "CH", "HK"), strict=True):
        active(address, region, "en")
    test_clock.now = datetime(2025, 10, 20, 7, 0, tzinfo=UTC)
    both_read = threading.Barrier(2, timeout=30)
    real_read = CampaignStore.due

    def read_together(self, until):  # type: ignore[no-untyped-def]
        due = real_read(self, until)
        both_read.wait()
        return due

    monkeypatch.setattr(CampaignStore, "due", read_together)
    results: list[dict[str, int]] = []
    ticks = [
        threading.Thread(target=lambda: results.append(schedule.tick(settings.get(), clock.now())))
        for _ in range(2)
    ]
    for tick in ticks:
        tick.start()
    for tick in ticks:
        tick.join(60)
    # When the fan-out and the sender run
    stack.run_fanout()
    stack.run_sender()
    # Then each reminder was started by one tick only, and everyone got one message
    assert sum(result["reminders_started"] for result in results) == 4  # shared, none twice
    assert received(stack) == Counter(everyone)


def test_a_fan_out_worker_that_dies_mid_shard_resumes_and_nobody_is_missed_or_sent_twice(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    # Given pages of one, and a worker that dies after queuing a page, before its checkpoint
    # (30 people in a region's 16 shards: some shard has a second page, whatever the contact
    # key that places them)
    monkeypatch.setattr(fanout, "PAGE_SIZE", 1)
    everyone = [f"p{n}@example.org" for n in range(30)]
    for address in everyone:
        active(address, "FR", "fr")
    real_checkpoint, died = CampaignStore.record_fanout_page, []

    def die_once(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not died:
            died.append(1)
            raise RuntimeError("the fan-out Lambda was stopped mid-shard")
        return real_checkpoint(self, *args, **kwargs)

    monkeypatch.setattr(CampaignStore, "record_fanout_page", die_once)
    # When the reminder is due (SQS redelivers the dead worker's job; the drain plays it)
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    # Then the job resumed: everyone got exactly one message, the page queued twice counted once
    assert died == [1]
    assert received(stack) == Counter(everyone)
    stats = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert stats["sent"] == 30 and stats["skipped_duplicate"] == 1  # the one page queued twice
    reminder = CampaignStore(settings.get()).get_reminder(CAMPAIGN, "REMINDER#EU#07")
    assert reminder is not None and reminder.state == "fanned-out"


def test_a_webhook_delivered_three_times_over_three_days_makes_one_campaign_and_one_plan(
    stack: Stack, test_clock
) -> None:
    # Given the policy monitor retries one delivery on three days, each time freshly signed
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    active("lena@example.org", "DE", "de")
    answers = []
    for day in range(3):
        test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC) + timedelta(days=day)
        answers.append(stack.post_webhook(LINKEDIN, webhook_id="msg_retried"))
        if day == 0:
            plan = CampaignStore(settings.get()).reminders(CAMPAIGN)
    # Then the first made the campaign and the others changed nothing
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert [answer.json()["status"] for answer in answers] == ["active", "duplicate", "duplicate"]
    campaigns = [item for item in stack.items("CAMPAIGNS_TABLE") if item["sk"] == "CAMPAIGN"]
    assert len(campaigns) == 1
    assert CampaignStore(settings.get()).reminders(CAMPAIGN) == plan
    assert [i["pk"] for i in stack.items("DELIVERIES_TABLE")] == ["webhook#msg_retried"]
    # And its "one week left" reaches Lena once
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    assert received(stack) == Counter(["lena@example.org"])


@pytest.fixture
def slow_provider(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A Twilio-compatible provider that takes every text and answers after the timeout."""
    with FakeProvider().serving() as server:
        _session.cache_clear()
        for name, value in {
            "SMS_PROVIDER": "http",
            "SMS_HTTP_URL": server.url,
            "SMS_HTTP_ACCOUNT": "AC123",
            "OPTOUT_SMS_HTTP_TOKEN": "secret-token",
            "SMS_FROM": "+15005550006",
            "SMS_HTTP_TIMEOUT_SECONDS": "1",
        }.items():
            monkeypatch.setenv(name, value)
        settings.get.cache_clear()
        yield server
    _session.cache_clear()


def test_an_sms_provider_that_times_out_after_taking_the_text_is_never_asked_again(
    stack: Stack, test_clock, campaign, slow_provider: FakeProvider
) -> None:
    # Given the provider takes the first text and answers too late, the second in time
    slow_provider.script = [(201, {"sid": "SM1"}, 1.3), (201, {"sid": "SM2"}, 0)]
    active("+14165550101", "CA", "en")
    active("+14165550102", "CA", "en")
    # When "one week left" goes out in Canada, and SQS delivers the batches again
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    stack.run_sender()
    # Then each number was sent exactly one request; the one in doubt is counted "unknown"
    assert sorted(r["form"]["To"][0] for r in slow_provider.received) == [
        "+14165550101",
        "+14165550102",
    ]
    stats = CampaignStore(settings.get()).stats(CAMPAIGN)["CA"]
    assert (stats["sent"], stats["unknown"]) == (1, 1)


def test_one_webhook_delivered_twice_at_once_makes_one_campaign_and_one_plan(
    stack: Stack, test_clock, atomic_aws, monkeypatch
) -> None:
    # Given the policy monitor's retry arrives while the first delivery is still being applied
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    both_checked = threading.Barrier(2, timeout=30)
    real_get, first = DeliveryStore.get, threading.local()

    def check_together(self, key):  # type: ignore[no-untyped-def]
        seen = real_get(self, key)
        if key.startswith("webhook#") and not getattr(first, "done", False):
            first.done = True
            both_checked.wait()  # neither has recorded the id yet
        return seen

    monkeypatch.setattr(DeliveryStore, "get", check_together)
    replies: list = []
    deliveries = [
        threading.Thread(
            target=lambda: replies.append(stack.post_webhook(LINKEDIN, webhook_id="msg_twice"))
        )
        for _ in range(2)
    ]
    for delivery in deliveries:
        delivery.start()
    for delivery in deliveries:
        delivery.join(60)
    # Then both are answered 200, and the result is the one campaign a single delivery makes
    assert [reply.status for reply in replies] == [200, 200]
    reminders = CampaignStore(settings.get()).reminders(CAMPAIGN)
    assert len(reminders) == 20 and {r.state for r in reminders} == {"pending"}
    assert len([i for i in stack.items("CAMPAIGNS_TABLE") if i["sk"] == "CAMPAIGN"]) == 1
    assert [i["pk"] for i in stack.items("DELIVERIES_TABLE")] == ["webhook#msg_twice"]
    # And its reminder still reaches a subscriber once
    active("lena@example.org", "DE", "de")
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    assert received(stack) == Counter(["lena@example.org"])
