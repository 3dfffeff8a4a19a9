"""Counting the AWS API calls that boto3 clients make, through botocore's event hooks."""

from __future__ import annotations

import threading
from collections import Counter
from time import thread_time
from types import TracebackType
from typing import Any


class ApiCalls:
    """Within a ``with`` block: every API call the given clients make, by operation, and the
    CPU time this thread spent inside them.

    A call is counted once, however many attempts botocore's retries make of it. It lasts from
    botocore's first event, ``provide-client-params``, to ``after-call`` (or
    ``after-call-error``): checking and serialising the parameters (boto3's DynamoDB types
    too), signing the request, getting the answer, parsing it. With moto in this process
    (``mock_aws``), the answer is worked out on this thread by a ``before-send`` handler; the
    CPU time from the first ``before-send`` handler to the last is `stub_cpu_seconds`, so that
    what botocore costs and what moto costs can be told apart. Against a moto server, it stays
    near zero.

    Calls are counted on every thread (the sender reads subscribers ahead on a second one),
    but timed only on the thread that entered the block: the CPU times are that thread's, and
    a call on another thread costs that other thread.
    """

    def __init__(self, clients: list[Any]) -> None:
        # Each boto3 Table resource has a client of its own, and each client its own hooks.
        # A call starts at the first handler of the service's own provide-client-params: boto3
        # copies DynamoDB parameters in one there, which runs before any of the bare event's.
        self._hooks = [
            (client.meta.events, client.meta.service_model.service_id.hyphenize())
            for client in {id(client): client for client in clients}.values()
        ]
        self.by_operation: Counter[str] = Counter()
        self.cpu_seconds = 0.0
        self.stub_cpu_seconds = 0.0
        self._call_started = self._send_started = 0.0
        self._thread = threading.get_ident()

    def __enter__(self) -> ApiCalls:
        self._thread = threading.get_ident()
        for hooks, service in self._hooks:
            hooks.register_first(f"provide-client-params.{service}", self._count)
            hooks.register("after-call", self._called)
            hooks.register("after-call-error", self._called)
            hooks.register_first("before-send", self._sending)
            hooks.register_last("before-send", self._sent)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for hooks, service in self._hooks:
            hooks.unregister(f"provide-client-params.{service}", self._count)
            hooks.unregister("after-call", self._called)
            hooks.unregister("after-call-error", self._called)
            hooks.unregister("before-send", self._sending)
            hooks.unregister("before-send", self._sent)

    # botocore passes keyword arguments only, and insists that a handler accepts any.

    def _count(self, model: Any, **_: Any) -> None:
        self.by_operation[model.name] += 1
        if self._timed():
            self._call_started = thread_time()

    def _called(self, **_: Any) -> None:
        if self._timed():
            self.cpu_seconds += thread_time() - self._call_started

    def _sending(self, **_: Any) -> None:
        if self._timed():
            self._send_started = thread_time()

    def _sent(self, **_: Any) -> None:
        if self._timed():
            self.stub_cpu_seconds += thread_time() - self._send_started

    def _timed(self) -> bool:
        return threading.get_ident() == self._thread
