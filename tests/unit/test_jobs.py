"""Queue jobs are read at the handler's edge: what a queue carries reads back as it was queued,
and a malformed body is refused there, naming what is wrong."""

from __future__ import annotations

import json

import pytest

from optout.core.jobs import (
    CatchUpJob,
    DeliveryJob,
    EventJob,
    FanoutJob,
    MalformedJob,
    NoticeJob,
    SendJob,
    SubscribeJob,
    body,
    read,
    read_events_job,
    read_notice,
)

SUBSCRIBE = SubscribeJob(
    channel="email",
    contact="ada@example.org",
    region="DE",
    locale="de",
    timezone="Europe/Berlin",
    platforms=("linkedin",),
    source="web-form",
    requested_at="2025-10-27T09:00:00Z",
    base_url="https://example.org",
)


@pytest.mark.parametrize(
    "job",
    [
        FanoutJob("linkedin-genai-2025", "EU-07", "EU", 3),
        FanoutJob("linkedin-genai-2025", "EU-07", "EU", 3, cursor="abc"),
        SendJob("linkedin-genai-2025", "EU-07", ("a", "b")),
        SendJob("linkedin-genai-2025", "EU-07", ("a",), catch_up=True),
        NoticeJob("sub-1", "2025-10-27T09:00:00Z", "https://example.org"),
    ],
)
def test_a_job_reads_back_as_it_was_queued(job: FanoutJob | SendJob | NoticeJob) -> None:
    assert read(type(job), body(job)) == job


def test_the_notice_queue_s_three_kinds_read_back_as_themselves() -> None:
    confirm = NoticeJob("sub-1", "2025-10-27T09:00:00Z", "https://example.org")
    catch_up = CatchUpJob(("sub-1", "sub-2"), "2025-10-28T09:00:00Z")
    assert read_notice(body(SUBSCRIBE)) == SUBSCRIBE
    assert read_notice(body(confirm)) == confirm
    assert read_notice(body(catch_up)) == catch_up
    assert json.loads(body(confirm))["kind"] == "confirm"
    assert json.loads(body(catch_up))["kind"] == "catch-up"


def test_a_send_job_queued_before_catch_ups_reads_as_no_catch_up() -> None:
    queued = '{"campaign_id": "c", "ids": ["a"], "reminder": "EU-07"}'
    assert read(SendJob, queued).catch_up is False


def test_a_send_job_queued_before_reminders_had_ids_still_reads() -> None:
    queued = '{"campaign_id": "c", "ids": ["a"], "reminder": "REMINDER#EU#07"}'
    assert read(SendJob, queued) == SendJob("c", "REMINDER#EU#07", ("a",))


def test_fields_a_newer_version_added_are_ignored() -> None:
    queued = '{"campaign_id": "c", "ids": ["a"], "reminder": "EU-07", "priority": 1}'
    assert read(SendJob, queued) == SendJob("c", "EU-07", ("a",))


@pytest.mark.parametrize(
    ("kind", "message", "named"),
    [
        (SendJob, "not json", "not JSON"),
        (SendJob, '["c", "EU-07"]', "a JSON object is expected"),
        (SendJob, '{"campaign_id": "c", "reminder": "EU-07"}', "ids is missing"),
        (SendJob, '{"campaign_id": "c", "reminder": "EU-07", "ids": [1]}', "ids must be a list"),
        (
            SendJob,
            '{"campaign_id": 7, "reminder": "EU-07", "ids": []}',
            "campaign_id must be a string",
        ),
        (
            FanoutJob,
            '{"campaign_id": "c", "reminder": "EU-07", "group": "EU", "shard": "3"}',
            "shard must be a whole number",
        ),
        (
            FanoutJob,
            '{"campaign_id": "c", "reminder": "EU-07", "group": "EU", "shard": true}',
            "shard must be a whole number",
        ),
        (
            NoticeJob,
            '{"kind": "subscribe", "subscriber_id": "s", "requested_at": "t", "base_url": "u"}',
            "kind must be 'confirm'",
        ),
        (
            SendJob,
            '{"campaign_id": "c", "reminder": "EU-07", "ids": [], "catch_up": "yes"}',
            "catch_up must be true or false, not str",
        ),
        (CatchUpJob, '{"kind": "catch-up", "activated_at": "t"}', "subscriber_ids is missing"),
    ],
)
def test_a_malformed_job_is_refused_naming_what_is_wrong(
    kind: type, message: str, named: str
) -> None:
    with pytest.raises(MalformedJob, match=named) as refused:
        read(kind, message)
    assert kind.__name__ in str(refused.value)


def test_an_unknown_notice_kind_is_refused() -> None:
    with pytest.raises(MalformedJob, match="unknown notice kind 'welcome'"):
        read_notice('{"kind": "welcome", "subscriber_id": "s"}')


def test_the_events_queue_s_two_kinds_read_back_as_themselves() -> None:
    event = EventJob("evt_a", "campaign.launched", '{"type":"campaign.launched"}')
    delivery = DeliveryJob("evt_a", "ep_b", "2025-10-30T09:00:00Z", attempt=3, not_before="x")

    assert read_events_job(body(event)) == event
    assert read_events_job(body(delivery)) == delivery
    assert json.loads(body(delivery))["kind"] == "event-delivery"


def test_a_delivery_job_without_its_endpoint_is_refused_naming_it() -> None:
    queued = '{"kind": "event-delivery", "event_id": "evt_a", "give_up_at": ""}'

    with pytest.raises(MalformedJob, match="endpoint_id is missing"):
        read_events_job(queued)
