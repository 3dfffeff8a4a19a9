"""Counting the AWS API calls that boto3 clients make, through botocore's event hooks."""

from __future__ import annotations

from collections import Counter
from types import TracebackType
from typing import Any


class ApiCalls:
    """Within a ``with`` block: every API call the given clients make, by operation.

    A call is counted once, however many attempts botocore's retries make of it.
    """

    def __init__(self, clients: list[Any]) -> None:
        # Each boto3 Table resource has a client of its own, and each client its own hooks.
        self._hooks = list({id(client): client.meta.events for client in clients}.values())
        self.by_operation: Counter[str] = Counter()

    def __enter__(self) -> ApiCalls:
        for hooks in self._hooks:
            hooks.register("before-call", self._count)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for hooks in self._hooks:
            hooks.unregister("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        # botocore passes keyword arguments only, and insists that a handler accepts any.
        self.by_operation[model.name] += 1
