"""moto's costs that grow with what a local stack holds, and one it pays on every request, cut
down; nothing else changed.

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
- Every query and scan: moto sorts the whole table first, comparing its typed values, each
  comparison working out both values' Python form again: 1.8 s for one page of the audience
  index at 100,000 subscribers. Here each item's key is worked out once for the sort, and a
  string's Python form is the string itself, without asking first whether it is a number, a
  set, a list, a map or null: the same order, 0.44 s.
- Every request: moto lists its own package's folders to recognise a service's host name (a
  directory listing and 200 `isdir` calls); here it is listed once.

The local stack installs them when it starts moto (and so do the fan-out and load benchmarks,
which start it the same way); the tests run moto as it comes, but for this module's own, which
installs them for a test and takes them out again.
"""

from __future__ import annotations

import copy
import functools
import json
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto import backends
from moto.core.responses import ActionContext
from moto.dynamodb import models
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

# The moto these patches were written and tested against: they replace moto's internals, which
# any release may change. pyproject.toml pins moto to it, and tests/integration/
# test_moto_speedups.py fails, naming both versions, when another moto is installed.
MOTO_VERSION = "5.2.5"

# What `installed()` puts back: moto's module uses the standard `copy`.
_MOTO = (
    copy,
    DynamoDBBackend.transact_write_items,
    DynamoResult.execute_result,
    DynamoType.cast_value,
    Table.all_items,
    backends.list_of_moto_modules,
)
JSON_1_0 = {"Content-Type": "application/x-amz-json-1.0"}


def install() -> None:
    """Every speed-up, for every moto backend in this process, a moto server's included
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
    DynamoType.cast_value = property(_cast_value)  # type: ignore[method-assign,assignment]
    Table.all_items = _all_items_sorted_once  # type: ignore[method-assign]
    backends.list_of_moto_modules = functools.cache(lambda: tuple(_MOTO[5]()))


@contextmanager
def installed() -> Iterator[None]:
    """`install()` for the length of a `with` block, moto as it came afterwards (unless they
    were installed before the block)."""
    if DynamoDBBackend.transact_write_items is not _MOTO[1]:
        yield
        return
    install()
    try:
        yield
    finally:
        (
            models.copy,  # type: ignore[attr-defined]
            DynamoDBBackend.transact_write_items,  # type: ignore[method-assign]
            DynamoResult.execute_result,  # type: ignore[method-assign]
            DynamoType.cast_value,  # type: ignore[method-assign]
            Table.all_items,  # type: ignore[method-assign]
            backends.list_of_moto_modules,
        ) = _MOTO


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


_MOTO_CAST_VALUE = _MOTO[3].fget  # type: ignore[attr-defined]


def _cast_value(self: DynamoType) -> Any:
    """moto's `cast_value`, a string answered first: it is the commonest and needs nothing."""
    if self.type == "S":
        return self.value
    return _MOTO_CAST_VALUE(self)


def _all_items_sorted_once(self: Table) -> list[Item]:
    """moto's `all_items`: every item, ordered by its key as moto orders them, each key's
    Python form worked out once instead of at every comparison."""
    items: list[Item] = []
    for hash_set in self.items.values():
        items.extend(hash_set.values() if self.range_key_attr else [hash_set])  # type: ignore[list-item]
    return sorted(items, key=_key_order)


def _key_order(item: Item) -> Any:
    if item.range_key:
        return (item.hash_key.cast_value, item.range_key.cast_value)
    return item.hash_key.cast_value
