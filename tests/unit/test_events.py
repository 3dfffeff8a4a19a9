"""Events for the organisers' endpoints, as a producer emits them: a Standard Webhooks payload
with a stable id, queued once; a queue that refuses them never undoes what happened."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from optout.core import events, settings
from optout.core.events import EventType
from optout.core.jobs import EventJob, read
from tests.helpers import COMPLETE

AT = datetime(2025, 10, 27, 9, 30, tzinfo=UTC)
CONVERSION = {"campaign_id": "linkedin-genai-2025", "subscriber_id": "s1", "region": "EU"}


def test_the_payload_is_type_timestamp_and_data() -> None:
    happened = events.event(EventType.CONVERSION_RECORDED, CONVERSION, AT)

    assert json.loads(happened.body()) == {
        "type": "conversion.recorded",
        "timestamp": "2025-10-27T09:30:00Z",
        "data": CONVERSION,
    }
    assert happened.event_id.startswith("evt_")


def test_the_same_key_gives_the_same_event_id_and_no_key_a_new_one() -> None:
    first = events.event(EventType.CONVERSION_RECORDED, CONVERSION, AT, key="c#s1")
    again = events.event(EventType.CONVERSION_RECORDED, CONVERSION, AT, key="c#s1")
    other_type = events.event(EventType.SUBSCRIBER_ERASED, CONVERSION, AT, key="c#s1")

    assert first.event_id == again.event_id
    assert other_type.event_id != first.event_id
    assert (
        events.event(EventType.REMINDER_SENT, {}, AT).event_id
        != events.event(EventType.REMINDER_SENT, {}, AT).event_id
    )


def test_emit_queues_one_job_that_reads_back_as_it_was_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with mock_aws():
        url = boto3.client("sqs").create_queue(QueueName="events")["QueueUrl"]
        configured = settings.from_environ({**COMPLETE, "EVENTS_QUEUE_URL": url})

        event_id = events.emit(
            configured, EventType.CONVERSION_RECORDED, CONVERSION, AT, key="linkedin#s1"
        )

        messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    [message] = messages["Messages"]
    job = read(EventJob, message["Body"])
    assert job.event_id == event_id
    assert job.type == "conversion.recorded"
    assert json.loads(job.body)["data"] == CONVERSION


def test_a_queue_that_refuses_the_event_is_logged_and_the_caller_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with mock_aws():
        missing = "https://sqs.eu-west-1.amazonaws.com/123456789012/no-such-queue"
        configured = settings.from_environ({**COMPLETE, "EVENTS_QUEUE_URL": missing})

        event_id = events.emit(configured, EventType.SUBSCRIBER_ERASED, {"subscriber_id": "s1"}, AT)

    [record] = [r for r in caplog.records if r.getMessage() == "event not queued"]
    assert (record.levelname, record.event_id, record.type) == (
        "ERROR",
        event_id,
        "subscriber.erased",
    )
