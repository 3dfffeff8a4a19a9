"""The sender under faults: killed mid-send, the same batch twice at once, and every kind of
error its providers and DynamoDB answer with. Each test counts every message the providers
accepted (moto's SES and SNS, read through the outbox): nothing lost, nothing sent twice.

Already proven in tests/integration/test_sender.py (not repeated here): a batch replayed after
it finished and two ticks in a row; SES throttling on every other call; a crash while writing
the records; the daily quota on the first send; a timeout of SES; a failure before the send."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from optout.campaigns import schedule
from optout.core import clock, jobs, settings
from optout.sending import sender
from optout.store import CampaignStore, DeliveryStore
from tests.faults.conftest import (
    DAILY_QUOTA,
    DYNAMODB_THROTTLED,
    SES_5XX,
    SNS_5XX,
    SNS_THROTTLED,
    THROTTLED_SES,
    Injector,
    ses,
    sns,
)
from tests.helpers import CAMPAIGN, active, at
from tests.integration.conftest import Stack

ONE_WEEK_LEFT_EU = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)


def people(count: int, prefix: str = "p") -> list[str]:
    addresses = [f"{prefix}{n}@example.org" for n in range(count)]
    for address in addresses:
        active(address, "FR", "fr")
    return addresses


def queued_batches(stack: Stack, test_clock) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Tick at "one week left" in the EU and fan out; the send batches, taken off the queue and
    packed into one, as a big shard gives them."""
    test_clock.now = ONE_WEEK_LEFT_EU
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    batches = stack.send_batches()
    return [{**batches[0], "ids": sorted(i for batch in batches for i in batch["ids"])}]


def redeliver(stack: Stack, batches: list[dict[str, Any]]) -> None:
    for batch in batches:
        stack.sqs.send_message(QueueUrl=stack.env["SEND_QUEUE_URL"], MessageBody=json.dumps(batch))


def received(stack: Stack) -> Counter[str]:
    return Counter(message.to for message in stack.outbox())


def eu_stats() -> dict[str, int]:
    return CampaignStore(settings.get()).stats(CAMPAIGN).get("EU", {})


def test_a_sender_killed_after_ses_took_the_message_never_resends_it(
    stack: Stack, test_clock, campaign
) -> None:
    # Given a sender that dies (frozen for good, as a Lambda stopped by its timeout) the moment
    # SES has accepted the second message, before anything more is written
    everyone = people(3)
    batches = queued_batches(stack, test_clock)
    accepted, frozen, thaw = [], threading.Event(), threading.Event()

    def freeze_after_second(**_: Any) -> None:
        accepted.append(1)
        if len(accepted) == 2:
            frozen.set()
            thaw.wait(30)
            raise SystemExit("the test is over")  # only once every assertion is made

    ses().meta.events.register("after-call.sesv2.SendEmail", freeze_after_second)
    killed = threading.Thread(
        target=_quietly,
        args=(
            sender.send_batch,
            settings.get(),
            jobs.read(jobs.SendJob, batches[0]),
            clock.now(),
            sender.unpaced(),
        ),
        daemon=True,
    )
    killed.start()
    assert frozen.wait(30)
    ses().meta.events.unregister("after-call.sesv2.SendEmail", freeze_after_second)
    # When SQS delivers the batch again, after its visibility timeout
    redeliver(stack, batches)
    stack.run_sender()
    # Then everyone got exactly one message, and the one in doubt is counted "unknown"
    assert received(stack) == Counter(everyone)
    # (records are written at the end of a batch: both sends of the killed run are in doubt)
    assert (eu_stats()["unknown"], eu_stats()["sent"]) == (2, 1)
    thaw.set()
    killed.join(30)


def _quietly(*args: Any) -> None:
    with contextlib.suppress(BaseException):  # a killed sender has nobody to tell
        args[0](*args[1:])


def test_the_same_batch_delivered_twice_at_once_sends_each_message_once(
    stack: Stack, test_clock, campaign, atomic_aws, monkeypatch
) -> None:
    # Given two senders that take the same batch at the same time (SQS at-least-once)
    everyone = people(6)
    batches = queued_batches(stack, test_clock)
    both_at_the_claim = threading.Barrier(2, timeout=30)
    real_claim, first_claim = DeliveryStore.claim_or_state, threading.local()

    def claim_together(self, key, now, **attributes):  # type: ignore[no-untyped-def]
        if not getattr(first_claim, "seen", False):
            first_claim.seen = True
            both_at_the_claim.wait()  # both have read the batch; now they race for every claim
        return real_claim(self, key, now, **attributes)

    monkeypatch.setattr(DeliveryStore, "claim_or_state", claim_together)
    counts: list[Counter[str]] = []

    def deliver() -> None:
        for batch in batches:
            job = jobs.read(jobs.SendJob, batch)
            counts.append(sender.send_batch(settings.get(), job, clock.now(), sender.unpaced()))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Then each person got one message; the other delivery counted each as taken
    assert received(stack) == Counter(everyone)
    total = sum(counts, Counter())
    assert total["sent"] == 6
    assert total["sent"] + total["skipped_duplicate"] + total["unknown"] == 12


def test_bursts_of_ses_throttling_lose_nothing_and_send_nothing_twice(
    stack: Stack, test_clock, campaign, inject: Injector
) -> None:
    # Given SES answering "Maximum sending rate exceeded" five times in a row, every eight calls
    everyone = people(8)
    inject.before_call(
        ses(), "SendEmail", lambda n: THROTTLED_SES if n % 8 in (2, 3, 4, 5, 6) else None
    )
    # When the reminder goes out, and SQS redelivers what failed
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    for _ in range(5):
        stack.run_sender()
    # Then everyone got exactly one message
    assert received(stack) == Counter(everyone)
    assert eu_stats()["sent"] == 8 and inject.calls["SendEmail"] > 8


def test_the_daily_quota_mid_batch_pauses_keeps_the_rest_and_raises_the_alarm_metric(
    stack: Stack, test_clock, campaign, inject: Injector, capsys
) -> None:
    # Given an account whose daily quota runs out after two messages
    everyone = people(5)
    inject.before_call(ses(), "SendEmail", lambda n: DAILY_QUOTA if n > 2 else None)
    # When the reminder goes out
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    stack.run_sender()  # nothing is left on the queue to loop on
    # Then two went out, the campaign is paused with an alarm, and the three others are kept
    sent = set(received(stack))
    assert len(sent) == 2 and max(received(stack).values()) == 1
    campaign_now = CampaignStore(settings.get()).get_campaign(CAMPAIGN)
    assert campaign_now is not None
    assert campaign_now.status == "paused" and "quota" in campaign_now.status_reason
    assert '"DailyQuotaExceeded"' in capsys.readouterr().out  # the metric the alarm watches
    kept = {
        i
        for item in stack.items("CAMPAIGNS_TABLE")
        if item["sk"].startswith("DEFERRED#")
        for i in item["ids"]
    }
    ids = {active(address, "FR", "fr"): address for address in everyone}  # same ids again
    assert {ids[i] for i in kept} == set(everyone) - sent
    # and none of them is claimed, so that they go out when the organiser resumes
    claims = [
        item["pk"] for item in stack.items("DELIVERIES_TABLE") if item["pk"].endswith("#email")
    ]
    assert not {pk.split("#")[3] for pk in claims} & kept
    assert eu_stats()["sent"] == 2 and eu_stats()["deferred"] == 3


def test_an_ses_5xx_is_counted_unknown_and_never_resent(
    stack: Stack, test_clock, campaign, inject: Injector
) -> None:
    # Given SES answering 500 to the second message (it may have sent it)
    people(3)
    batches = queued_batches(stack, test_clock)
    inject.before_call(ses(), "SendEmail", lambda n: SES_5XX if n == 2 else None)
    # When the batch is sent, and delivered again
    redeliver(stack, batches)
    stack.run_sender()
    redeliver(stack, batches)
    stack.run_sender()
    # Then two got theirs, the third is "unknown" and was never tried again
    assert len(received(stack)) == 2 and max(received(stack).values()) == 1
    assert inject.calls["SendEmail"] == 3
    assert eu_stats()["unknown"] == 2  # the 5xx, then the redelivery that found its claim


def _texts(stack: Stack, test_clock) -> None:  # type: ignore[no-untyped-def]
    for number in ("+14165550101", "+14165550102", "+14165550103"):
        active(number, "CA", "en")
    at(stack, test_clock, "2025-10-27T13:00:00Z")  # one week left in Canada, 09:00 in Toronto


def test_an_sns_5xx_is_counted_unknown_and_never_resent(
    stack: Stack, test_clock, campaign, inject: Injector
) -> None:
    inject.before_call(sns(), "Publish", lambda n: SNS_5XX if n == 1 else None)
    _texts(stack, test_clock)
    stack.run_sender()
    assert len(received(stack)) == 2 and inject.calls["Publish"] == 3
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["CA"]["unknown"] == 1


def test_sns_throttling_is_retried_and_each_text_goes_once(
    stack: Stack, test_clock, campaign, inject: Injector
) -> None:
    inject.before_call(sns(), "Publish", lambda n: SNS_THROTTLED if n in (1, 2, 4) else None)
    _texts(stack, test_clock)
    assert received(stack) == Counter(["+14165550101", "+14165550102", "+14165550103"])
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["CA"]["sent"] == 3


@pytest.mark.parametrize(
    "operation, failing",
    [
        ("BatchGetItem", range(1, 4)),  # reading the batch's subscribers: botocore retries
        ("TransactWriteItems", range(2, 9)),  # the claims: past botocore's 5 attempts
        ("BatchWriteItem", range(1, 6)),  # the records after the sends: past the 5 attempts
    ],
)
def test_dynamodb_throttling_loses_nothing_and_sends_nothing_twice(
    stack: Stack, test_clock, campaign, inject: Injector, operation: str, failing: range
) -> None:
    everyone = people(4)
    batches = queued_batches(stack, test_clock)
    inject.on_the_wire(operation, lambda n: DYNAMODB_THROTTLED if n in failing else None)
    redeliver(stack, batches)
    for _ in range(4):  # SQS redelivers a failed batch
        stack.run_sender()
    assert received(stack) == Counter(everyone)
    stats = eu_stats()
    # A batch whose records could not be written leaves its sends in doubt: "unknown", not resent.
    assert stats["sent"] + stats.get("unknown", 0) >= 4
    assert inject.calls[operation] > len(failing)
