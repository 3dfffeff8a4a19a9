"""Fault injection: the application in moto (the `stack` of tests/integration), with faults put
in at one seam each, and counts of every message the providers accepted.

Seams, each named for what it plays:
- `inject`: for SES and SNS, a `before-call` handler of botocore's event system on the very
  client the product uses answers in place of the service (the request never left); for
  DynamoDB, moto's stubber (where a request meets the service) answers with the fault instead
  of handling the request, so that botocore's own retries see it as they would see DynamoDB's.
  (A `before-send` handler would not do: botocore calls every one, so moto would still apply
  the write that the fault says was refused.)
- `atomic_aws`: moto handles one request at a time, as DynamoDB applies each conditional write
  atomically; threads still interleave between requests (moto alone is not atomic under
  threads, which would make a race test fail for moto's sake).
- monkeypatching a named product function to pause or die at one point (a killed Lambda, a
  person who clicks while a batch is in flight).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries import standard
from moto.core.botocore_stubber import BotocoreStubber

from optout import channels
from optout.core import aws
from tests.integration.conftest import (  # noqa: F401  (the fixtures, for this folder)
    campaign,
    stack,
)


@pytest.fixture(autouse=True)
def _no_backoff_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen as in production, without their real pauses (tests never sleep)."""
    monkeypatch.setattr(channels, "_BACKOFF_SECONDS", (0.0, 0.0, 0.0))
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def atomic_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.RLock()
    real = BotocoreStubber.__call__

    def one_request_at_a_time(self, event_name, request, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            return real(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", one_request_at_a_time)


class Fault:
    """An AWS error answer: `code`, `message`, HTTP `status`."""

    def __init__(self, code: str, message: str, status: int) -> None:
        self.code, self.message, self.status = code, message, status


THROTTLED_SES = Fault("TooManyRequestsException", "Maximum sending rate exceeded.", 429)
DAILY_QUOTA = Fault("LimitExceededException", "Daily message quota exceeded.", 400)
SES_5XX = Fault("InternalFailure", "An internal error occurred.", 500)
SNS_5XX = Fault("InternalError", "Internal error", 500)
SNS_THROTTLED = Fault("Throttling", "Rate exceeded", 400)
DYNAMODB_THROTTLED = Fault(
    "ProvisionedThroughputExceededException",
    "The level of configured provisioned throughput for the table was exceeded.",
    400,
)


class Injector:
    """Answers chosen calls with faults: `plan(n)` returns the fault for the n-th call of that
    operation (1-based) or None to let it through. Counts the calls it saw."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: dict[str, int] = {}
        self._wire: dict[str, tuple[str, Callable[[int], Fault | None]]] = {}
        real = BotocoreStubber.__call__
        injector = self

        def stubber(self, event_name, request, **kwargs):  # type: ignore[no-untyped-def]
            return injector._wire_answer(event_name, request) or real(
                self, event_name, request, **kwargs
            )

        monkeypatch.setattr(BotocoreStubber, "__call__", stubber)

    def before_call(self, client: Any, operation: str, plan: Callable[[int], Fault | None]) -> None:
        """Fail calls at the client, before any request is made (SES, SNS)."""
        service = client.meta.service_model.service_id.hyphenize()

        def handler(**_: Any) -> tuple[Any, dict[str, Any]] | None:
            fault = plan(self._count(operation))
            if fault is None:
                return None
            response = AWSResponse("https://fault.invalid", fault.status, {}, None)
            return response, {
                "Error": {"Code": fault.code, "Message": fault.message},
                "ResponseMetadata": {"HTTPStatusCode": fault.status},
            }

        client.meta.events.register(f"before-call.{service}.{operation}", handler)

    def on_the_wire(self, operation: str, plan: Callable[[int], Fault | None]) -> None:
        """Fail DynamoDB requests where they would meet the service (moto's stubber), so that
        botocore's retry policy sees each fault and a faulted request changes nothing."""
        self._wire[f"before-send.dynamodb.{operation}"] = (operation, plan)

    def _wire_answer(self, event_name: str, request: Any) -> AWSResponse | None:
        if event_name not in self._wire:
            return None
        operation, plan = self._wire[event_name]
        fault = plan(self._count(operation))
        if fault is None:
            return None
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{fault.code}", "message": fault.message}
        ).encode()
        return AWSResponse(request.url, fault.status, {}, _Raw(body))

    def _count(self, operation: str) -> int:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        return self.calls[operation]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


@pytest.fixture
def inject(monkeypatch: pytest.MonkeyPatch) -> Injector:
    return Injector(monkeypatch)


def ses() -> Any:
    return aws.send_client("sesv2")


def sns() -> Any:
    return aws.send_client("sns")
