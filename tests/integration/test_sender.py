"""The sender: the right reminder, in each subscriber's language and time zone, exactly once."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from optout.campaigns import schedule
from optout.core import aws, clock, jobs, settings
from optout.core.observability import logger
from optout.domain.models import Status
from optout.messages import render
from optout.store import CampaignStore, DeliveryStore
from tests.helpers import CAMPAIGN, active, at, to
from tests.integration.conftest import Stack


def test_each_subscriber_gets_the_reminder_in_their_language_with_their_local_deadline(
    stack: Stack, test_clock, campaign
) -> None:
    active("lena@example.org", "DE", "de")
    active("julie@example.org", "CA", "fr-CA")
    active("wing@example.org", "HK", "zh-HK")
    at(stack, test_clock, "2025-10-27T08:00:00Z")  # one week left in the EU
    (german,) = to(stack, "lena@example.org")
    assert german.subject.startswith("Noch 1 Woche zum Widersprechen: LinkedIn trainiert")
    assert "3. November 2025" in german.text and "00:00" in german.text  # Berlin's midnight
    assert "Mitteleuropäische" in german.text
    at(stack, test_clock, "2025-10-27T13:00:00Z")  # one week left in Canada
    (french,) = to(stack, "julie@example.org")
    assert "3 novembre 2025" in french.text
    (chinese,) = to(stack, "wing@example.org")  # HK's came due at 01:00 UTC
    assert "2025年11月3日" in chinese.text


def test_a_reminder_carries_its_links_and_one_click_unsubscribe_headers(
    stack: Stack, test_clock, campaign
) -> None:
    active("lena@example.org", "DE", "de")
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    (message,) = to(stack, "lena@example.org")
    base = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"
    headers = {entry["headers"]["List-Unsubscribe"] for entry in _outbox_entries(stack)}
    assert len(headers) == 1, headers
    (unsubscribe,) = headers
    assert re.fullmatch(rf"<{re.escape(base)}/unsubscribe/k1\.unsubscribe\.[\w.-]+>", unsubscribe)
    assert all(
        entry["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        for entry in _outbox_entries(stack)
    )
    assert f"{base}/r/k1.click." in message.text and f"{base}/done/k1.done." in message.text
    assert "lena" not in unsubscribe and "Data Rights Watch (demo)" in message.text  # organisation
    assert "Rue de l'Exemple 1" in message.text  # and its postal address
    assert "Einstellungen" in message.text  # the steps, in German


def _outbox_entries(stack: Stack) -> list[dict]:
    stack.outbox()
    return [entry for entry in stack._outbox.messages() if entry["channel"] == "email"]


def test_a_text_due_at_night_waits_for_eight_in_the_morning(
    stack: Stack, test_clock, campaign
) -> None:
    # A Canadian in Vancouver: Toronto's 09:00 "last day" is 06:00 there
    active("+16045550123", "CA", "en", timezone="America/Vancouver")
    at(stack, test_clock, "2025-11-02T14:00:00Z")
    assert (
        CampaignStore(settings.get()).get_reminder(CAMPAIGN, "REMINDER#CA#01").state == "fanned-out"
    )
    assert to(stack, "+16045550123") == []
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["CA"]["deferred"] == 1
    at(stack, test_clock, "2025-11-02T15:59:00Z")
    assert to(stack, "+16045550123") == []
    released = at(stack, test_clock, "2025-11-02T16:00:00Z")  # 08:00 in Vancouver
    assert released["deferred_batches_released"] == 1
    (text,) = to(stack, "+16045550123")
    assert "Reply STOP to stop, HELP for help." in text.text  # their first text says how to stop


def test_only_the_first_text_to_a_number_says_how_to_stop(
    stack: Stack, test_clock, campaign
) -> None:
    active("+14165550123", "CA", "en")
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    at(stack, test_clock, "2025-11-02T14:00:00Z")
    first, second = to(stack, "+14165550123")
    assert "STOP" in first.text and "STOP" not in second.text


def test_replaying_a_batch_and_ticking_twice_send_nothing_twice(
    stack: Stack, test_clock, campaign
) -> None:
    ids = [active(f"p{n}@example.org", "FR", "fr") for n in range(5)]
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    batches = stack._peek(stack.env["SEND_QUEUE_URL"])
    stack.run_sender()
    for batch in batches:  # SQS delivers the same batches again
        stack.sqs.send_message(QueueUrl=stack.env["SEND_QUEUE_URL"], MessageBody=json.dumps(batch))
    stack.run_sender()
    assert sorted(message.to for message in stack.outbox()) == sorted(
        f"p{n}@example.org" for n in range(5)
    )
    stats = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert (stats["sent"], stats["skipped_duplicate"]) == (5, 5)
    assert len(ids) == 5


def test_a_throttled_ses_loses_nothing(stack: Stack, test_clock, campaign, monkeypatch) -> None:
    for n in range(4):
        active(f"t{n}@example.org", "FR", "fr")
    ses = aws.send_client("sesv2")
    real_send, calls = ses.send_email, {"n": 0}

    def sometimes_throttled(**request):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise ClientError(
                {
                    "Error": {
                        "Code": "TooManyRequestsException",
                        "Message": "Maximum sending rate exceeded.",
                    }
                },
                "SendEmail",
            )
        return real_send(**request)

    monkeypatch.setattr(ses, "send_email", sometimes_throttled)
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    for _ in range(6):  # SQS redelivers the failed batch; each pass gets further
        stack.run_sender()
    assert sorted(m.to for m in stack.outbox()) == [f"t{n}@example.org" for n in range(4)]


def test_a_crash_between_send_and_record_is_counted_unknown_never_resent(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    active("ana@example.org", "ES", "es")
    real_record = DeliveryStore.record_sent_many

    def crash(self, sent, now):  # type: ignore[no-untyped-def]
        raise RuntimeError("the function died before writing its records")

    monkeypatch.setattr(DeliveryStore, "record_sent_many", crash)
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    monkeypatch.setattr(DeliveryStore, "record_sent_many", real_record)
    stack.run_sender()  # the redelivered batch
    assert len(to(stack, "ana@example.org")) == 1
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["unknown"] == 1


def test_the_daily_quota_pauses_the_campaign_instead_of_looping(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    for n in range(3):
        active(f"q{n}@example.org", "FR", "fr")

    def quota_exceeded(**_):  # type: ignore[no-untyped-def]
        raise ClientError(
            {
                "Error": {
                    "Code": "LimitExceededException",
                    "Message": "Daily message quota exceeded.",
                }
            },
            "SendEmail",
        )

    monkeypatch.setattr(aws.send_client("sesv2"), "send_email", quota_exceeded)
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    campaign_now = CampaignStore(settings.get()).get_campaign(CAMPAIGN)
    assert campaign_now is not None
    assert campaign_now.status == "paused" and "quota" in campaign_now.status_reason
    assert stack.outbox() == []
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["deferred"] == 3
    assert stack.items("DELIVERIES_TABLE") == [
        item for item in stack.items("DELIVERIES_TABLE") if item["pk"].startswith("webhook#")
    ]


def test_people_who_left_or_are_done_are_skipped_and_counted(
    stack: Stack, test_clock, campaign
) -> None:
    active("stays@example.org", "FR", "fr")
    active("left@example.org", "FR", "fr", status=Status.UNSUBSCRIBED)
    done = active("done@example.org", "FR", "fr")
    aws.table(settings.get().subscribers_table).update_item(
        Key={"subscriber_id": done},
        UpdateExpression="ADD done_campaigns :c",
        ExpressionAttributeValues={":c": {CAMPAIGN}},
    )
    # "left" is out of the audience index already; make the fan-out list them anyway, as a race would
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    assert [m.to for m in stack.outbox()] == ["stays@example.org"]
    stats = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert stats["sent"] == 1 and stats["skipped_already_done"] == 1


def test_a_permanent_refusal_is_recorded_with_its_reason(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    active("bounce@example.org", "FR", "fr")

    def rejected(**_):  # type: ignore[no-untyped-def]
        raise ClientError(
            {
                "Error": {
                    "Code": "MessageRejected",
                    "Message": "Email address is on the suppression list.",
                }
            },
            "SendEmail",
        )

    monkeypatch.setattr(aws.send_client("sesv2"), "send_email", rejected)
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    (failed,) = [item for item in stack.items("DELIVERIES_TABLE") if item.get("state") == "failed"]
    assert "MessageRejected" in failed["reason"]
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["failed"] == 1


def test_a_template_that_fails_stops_the_reminder_before_any_send(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    active("lena@example.org", "DE", "de")
    real = render.message_part

    def broken_in_polish(message, locale, part, context):  # type: ignore[no-untyped-def]
        if locale == "pl" and part == "sms.txt":
            raise render.RenderError(
                "messages/reminder/sms.txt, line 1: 'short_title' is undefined"
            )
        return real(message, locale, part, context)

    monkeypatch.setattr(render, "message_part", broken_in_polish)
    ticked = at(stack, test_clock, "2025-10-27T08:00:00Z")
    assert ticked["reminders_failed"] >= 1 and ticked["reminders_started"] == 0
    assert stack.outbox() == []
    reminder = CampaignStore(settings.get()).get_reminder(CAMPAIGN, "REMINDER#EU#07")
    assert reminder is not None
    assert reminder.state == "failed" and "sms.txt, line 1" in reminder.reason


def test_a_send_that_timed_out_is_counted_unknown_and_never_resent(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    from botocore.exceptions import ReadTimeoutError

    active("slow@example.org", "FR", "fr")

    def timed_out(**_):  # type: ignore[no-untyped-def]
        raise ReadTimeoutError(endpoint_url="https://email.eu-west-1.amazonaws.com")

    monkeypatch.setattr(aws.send_client("sesv2"), "send_email", timed_out)
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    monkeypatch.undo()
    stack.run_sender()
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["unknown"] == 1
    assert to(stack, "slow@example.org") == []  # it may have gone out: never a second copy


def test_a_failure_before_the_send_leaves_no_claim_and_the_retry_sends(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    from optout.messages import reminders

    active("ana@example.org", "ES", "es")
    real_links, calls = reminders.links, {"n": 0}

    def secrets_manager_blip(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("Secrets Manager throttled the key read")
        return real_links(*args, **kwargs)

    monkeypatch.setattr(reminders, "links", secrets_manager_blip)
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    stack.run_sender()
    assert len(to(stack, "ana@example.org")) == 1


def test_a_sender_short_of_time_hands_the_rest_of_its_batch_on(
    stack: Stack, test_clock, campaign
) -> None:
    from optout.sending import sender

    for n in range(3):
        active(f"r{n}@example.org", "FR", "fr")
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    batches = stack.send_batches()  # one batch with everyone, as a big shard would give
    batch = jobs.read(jobs.SendJob, {**batches[0], "ids": [i for b in batches for i in b["ids"]]})
    budget = iter([60_000, 60_000, 1_000])  # time for two sends, then the Lambda is nearly out
    counts = sender.send_batch(
        settings.get(), batch, clock.now(), sender.unpaced(), lambda: next(budget, 1_000)
    )
    assert counts["sent"] == 2 and len(stack.outbox()) == 2
    stack.run_sender()  # the handed-on rest
    assert sorted(m.to for m in stack.outbox()) == [f"r{n}@example.org" for n in range(3)]


def test_a_number_opted_out_at_the_provider_is_unsubscribed_everywhere(
    stack: Stack, test_clock, campaign, monkeypatch
) -> None:
    active("+14165550123", "CA", "en")

    def opted_out(**_):  # type: ignore[no-untyped-def]
        raise ClientError(
            {"Error": {"Code": "OptedOut", "Message": "Phone number is opted out"}}, "Publish"
        )

    monkeypatch.setattr(aws.send_client("sns"), "publish", opted_out)
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    (item,) = stack.items("SUBSCRIBERS_TABLE")
    assert item["status"] == "unsubscribed" and "audience_pk" not in item
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["CA"]["failed"] == 1


@pytest.mark.parametrize(
    ("queue", "function", "body", "why"),
    [
        (
            "SEND_QUEUE_URL",
            "SenderFunction",
            '{"campaign_id": "c", "reminder": "EU-07"}',
            "not a SendJob: ids is missing",
        ),
        (
            "FANOUT_QUEUE_URL",
            "FanoutFunction",
            '{"campaign_id": "c", "reminder": "EU-07", "group": "EU", "shard": "1"}',
            "shard must be a whole number",
        ),
        (
            "NOTICE_QUEUE_URL",
            "NotifierFunction",
            '{"kind": "welcome"}',
            "unknown notice kind 'welcome'",
        ),
    ],
)
def test_a_malformed_job_fails_at_the_handler_s_edge_with_its_reason_logged_and_stays_queued(
    stack: Stack, queue: str, function: str, body: str, why: str
) -> None:
    stack.sqs.send_message(QueueUrl=stack.env[queue], MessageBody=body)
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(logger.registered_formatter)  # the JSON lines CloudWatch would keep
    logger.addHandler(handler)
    try:
        assert stack.drain(queue, function) == {"processed": 0, "failed": 1}
    finally:
        logger.removeHandler(handler)
    logged = [json.loads(line) for line in lines.getvalue().splitlines()]
    errors = [line["error"] for line in logged if "error" in line]
    assert len(errors) == 1 and why in errors[0], errors
    assert stack.outbox() == []
    (kept,) = stack._take(stack.env[queue])  # back on the queue for its retries, then the DLQ
    assert kept == json.loads(body)
