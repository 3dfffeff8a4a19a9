"""Two of moto's DynamoDB costs that grow with what a local stack holds, cut down, and nothing
else changed.

- TransactWriteItems: moto backs up every table a transaction names with `copy.deepcopy` before
  it writes, to put the tables back if any part fails. The sender claims each message in a
  transaction naming the subscribers and the deliveries tables, so each claim cost about 28 µs
  for every item in them: 0.3 s a message at 10,000 subscribers, 3 s at 100,000 (DynamoDB
  itself costs the same at any size). Here moto's own transaction code runs, conditions, errors
  and all, and only the backup changes: the items the transaction names, copied before it runs
  and put back if it is cancelled.
- Answers that carry items (GetItem, BatchGetItem, Query...): moto builds them in DynamoDB's
  wire format, then walks botocore's output model for every attribute of every item to write
  them out: about 2.5 ms an item read. Here the answer is written with `json.dumps` as it
  stands, unless it holds what JSON cannot (binary attributes, timestamps), which moto's
  serializer still encodes.

The local stack and the load benchmark install them; the tests run moto as it comes (but for
this module's own, which installs them for a test and takes them out again).
"""

from __future__ import annotations

import copy
import functools
import json
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import ActionContext
from moto.dynamodb import models
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

# What `installed()` puts back: moto's module uses the standard `copy`.
_MOTO = (copy, DynamoDBBackend.transact_write_items, DynamoResult.execute_result)
JSON_1_0 = {"Content-Type": "application/x-amz-json-1.0"}


def install() -> None:
    """Both speed-ups, for every moto backend in this process, a moto server's included
    (idempotent)."""
    if DynamoDBBackend.transact_write_items is not _MOTO[1]:
        return
    # moto's module copies tables with `copy.deepcopy`: a table is now "copied" as itself (moto
    # puts the same object back on a rollback, a no-op), and everything else as before.
    models.copy = types.SimpleNamespace(  # type: ignore[attr-defined,assignment]
        copy=copy.copy, deepcopy=_deepcopy_except_tables
    )
    DynamoDBBackend.transact_write_items = _with_item_backup(  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items
    )
    DynamoResult.execute_result = _as_json_when_plain  # type: ignore[method-assign,assignment]


@contextmanager
def installed() -> Iterator[None]:
    """`install()` for the length of a `with` block, moto as it came afterwards."""
    install()
    try:
        yield
    finally:
        models.copy, DynamoDBBackend.transact_write_items, DynamoResult.execute_result = _MOTO  # type: ignore[attr-defined,method-assign]


def _deepcopy_except_tables(value: Any, memo: Any = None) -> Any:
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _with_item_backup(transact: Any) -> Any:
    @functools.wraps(transact)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        backup = _touched_items(self, transact_items)
        try:
            transact(self, transact_items)
        except (
            TransactionCanceledException,
            MultipleTransactionsException,
            MockValidationException,
        ):
            for table_name, key, item in backup:
                if item is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, item)
            raise

    return transact_write_items


def _touched_items(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(table, key, the item as it was or None) for each item the transaction names in a table
    that exists; moto itself answers for the rest."""
    backup: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    for entry in transact_items:
        for operation in entry.values():
            table = backend.tables.get(operation.get("TableName", ""))
            if table is None:
                continue
            key = operation.get("Key") or _key_of(table, operation.get("Item", {}))
            try:
                current = backend.get_item(table.name, key)
            except MockValidationException:  # a malformed key: moto refuses the transaction itself
                continue
            as_was = copy.deepcopy(current.to_json()["Attributes"]) if current else None
            backup.append((table.name, key, as_was))
    return backup


def _key_of(table: Table, item: dict[str, Any]) -> dict[str, Any]:
    names = [table.hash_key_attr, table.range_key_attr]
    return {name: item[name] for name in names if name is not None and name in item}


def _as_json_when_plain(self: DynamoResult, context: ActionContext) -> Any:
    result = self.result
    if isinstance(result, dict):
        try:
            body = json.dumps(_without_none(result))
        except TypeError:  # bytes of a binary attribute, a datetime
            pass
        else:
            return 200, dict(JSON_1_0), body
    return _MOTO[2](self, context)


def _without_none(result: dict[str, Any]) -> dict[str, Any]:
    """The answer without its empty members, which moto's serializer leaves out too."""
    return {name: value for name, value in result.items() if value is not None}
