"""The notifier sends each confirmation once, retries what the provider did not accept, and
records what it never can send."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from optout.core import aws
from tests.helpers import confirm_path, sample_event
from tests.integration.conftest import Stack


def refuse(code: str, message: str):  # type: ignore[no-untyped-def]
    def send_email(**_: object) -> None:
        raise ClientError({"Error": {"Code": code, "Message": message}}, "SendEmail")

    return send_email


def deliveries(stack: Stack) -> list[dict]:
    """The claims of notices (the table also holds rate-limit counters and webhook ids)."""
    return [item for item in stack.items("DELIVERIES_TABLE") if item["pk"].startswith("notice#")]


def test_a_redelivered_job_sends_nothing_twice(stack: Stack) -> None:
    stack.call("subscribe-json")
    (job,) = stack.notice_jobs()
    event = sample_event("notice-confirm")
    event["Records"][0]["body"] = json.dumps(job)
    from local import invoke

    for _ in range(2):  # SQS delivers at least once
        assert invoke.invoke("NotifierFunction", event) == {"batchItemFailures": []}
    assert len(stack.outbox()) == 1
    (record,) = deliveries(stack)
    assert record["state"] == "sent" and record["message_id"]
    assert record["expires_at"] > 0  # TTL


def test_a_throttled_send_is_retried_and_then_goes_out_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.call("subscribe-json")
    ses = aws.send_client("sesv2")
    with monkeypatch.context() as patch:
        patch.setattr(
            ses, "send_email", refuse("TooManyRequestsException", "Maximum sending rate exceeded.")
        )
        result = stack.drain_notices()
    assert len(result["batchItemFailures"]) == 1
    assert stack.outbox() == [] and deliveries(stack) == []  # the claim was given back
    stack.drain_notices()  # SQS makes it visible again; this time SES accepts it
    assert len(stack.outbox()) == 1


def test_a_permanent_refusal_is_recorded_with_its_reason_and_not_retried(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.call("subscribe-json")
    monkeypatch.setattr(
        aws.send_client("sesv2"), "send_email", refuse("MessageRejected", "Address blacklisted.")
    )
    assert stack.drain_notices()["batchItemFailures"] == []
    (record,) = deliveries(stack)
    assert record["state"] == "failed" and "MessageRejected" in record["reason"]
    assert stack.notice_jobs() == []


def test_no_confirmation_goes_to_someone_who_confirmed_meanwhile(stack: Stack) -> None:
    stack.call("subscribe-json")
    stack.drain_notices()
    first = stack.outbox()[0]
    stack.call("confirm", path=confirm_path(first.text))
    jobs_before = len(stack.outbox())
    # the same job again, as if stuck in the queue until now
    event = sample_event("notice-confirm")
    record = {k: v for k, v in stack.items("SUBSCRIBERS_TABLE")[0].items()}
    event["Records"][0]["body"] = json.dumps(
        {
            "kind": "confirm",
            "subscriber_id": record["subscriber_id"],
            "requested_at": "2025-10-27T09:05:00Z",
            "base_url": "https://x",
        }
    )
    from local import invoke

    assert invoke.invoke("NotifierFunction", event) == {"batchItemFailures": []}
    assert len(stack.outbox()) == jobs_before


def test_a_job_of_an_unknown_kind_fails_so_that_it_ends_in_the_dead_letter_queue(
    stack: Stack,
) -> None:
    from local import invoke

    event = sample_event("notice-confirm")
    event["Records"][0]["body"] = json.dumps({"kind": "mystery"})
    result = invoke.invoke("NotifierFunction", event)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
