"""What a provider's answer to SES's SendEmail or SNS's Publish means for the message
(`channels.send_once`): sent, throttled and asked again, "may have gone out", or not taken."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from optout import channels
from optout.channels import ProviderUnsure, send_once

URL = "https://email.eu-west-1.amazonaws.com"


@pytest.fixture(autouse=True)
def _no_backoff_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channels, "_BACKOFF_SECONDS", (0.0, 0.0, 0.0))


def answering(*answers: Any) -> Any:
    """A send operation that answers each call with the next of `answers` (raised if an error)."""
    calls: list[dict[str, Any]] = []

    def operation(**request: Any) -> Any:
        calls.append(request)
        answer = answers[len(calls) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    operation.calls = calls  # type: ignore[attr-defined]
    return operation


def refusal(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "SendEmail"
    )


def test_the_message_id_of_an_accepted_message_is_returned() -> None:
    assert send_once(answering({"MessageId": "0102-abc"}), To="a@example.org") == "0102-abc"


def test_throttling_is_asked_again_and_then_sent_once() -> None:
    operation = answering(refusal("TooManyRequestsException", 429), {"MessageId": "m1"})
    assert send_once(operation) == "m1"
    assert len(operation.calls) == 2


@pytest.mark.parametrize(
    "answer",
    [
        {"ResponseMetadata": {"HTTPStatusCode": 200}},  # accepted, but no message id
        refusal("InternalFailure", 500),
        ReadTimeoutError(endpoint_url=URL),
        ConnectionClosedError(endpoint_url=URL),
        ResponseParserError("unable to parse the answer"),
    ],
    ids=["no message id", "5xx", "read timeout", "closed mid-answer", "unreadable answer"],
)
def test_an_answer_that_may_mean_sent_is_unsure_and_never_asked_again(answer: Any) -> None:
    operation = answering(answer, {"MessageId": "twice"})
    with pytest.raises(ProviderUnsure):
        send_once(operation)
    assert len(operation.calls) == 1


@pytest.mark.parametrize(
    "answer",
    [
        EndpointConnectionError(endpoint_url=URL),
        ConnectTimeoutError(endpoint_url=URL),
        refusal("AccessDeniedException", 403),
    ],
    ids=["no connection", "connect timeout", "refused"],
)
def test_a_request_that_never_reached_the_provider_or_was_refused_is_not_unsure(
    answer: Exception,
) -> None:
    # Not ProviderUnsure: the caller gives the claim back, and the queue's retry may send it
    with pytest.raises(type(answer)):
        send_once(answering(answer))
