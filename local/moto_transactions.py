"""moto's TransactWriteItems, with a backup of the items a transaction touches instead of whole
tables.

moto backs up every table a transaction names with `copy.deepcopy` before it writes, so that it
can put the tables back if any part fails. The sender claims each message in a transaction that
names the subscribers and the deliveries tables, so against moto each claim cost about 28 µs for
every item in those two tables: 0.3 s a message at 10,000 subscribers, 3 s at 100,000 (DynamoDB
itself costs the same at any size). `install()` keeps moto's own transaction code, conditions,
errors and all, and changes only the backup: the items the transaction names, copied before it
runs and put back if it is cancelled.

The local stack and the load benchmark install it; the tests run moto as it comes (but for
this module's own, which installs it for a test and takes it out again).
"""

from __future__ import annotations

import copy
import functools
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_MOTO = (models.copy, DynamoDBBackend.transact_write_items)


def install() -> None:
    """Replace moto's table backup by an item backup, for every moto backend in this process,
    a moto server's included (idempotent)."""
    if DynamoDBBackend.transact_write_items is not _MOTO[1]:
        return
    # moto's module copies tables with `copy.deepcopy`: a table is now "copied" as itself (moto
    # puts the same object back on a rollback, a no-op), and everything else as before.
    models.copy = types.SimpleNamespace(  # type: ignore[attr-defined]
        copy=copy.copy, deepcopy=_deepcopy_except_tables
    )
    DynamoDBBackend.transact_write_items = _with_item_backup(  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items
    )


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


@contextmanager
def installed() -> Iterator[None]:
    """`install()` for the length of a `with` block, moto as it came afterwards."""
    install()
    try:
        yield
    finally:
        models.copy, DynamoDBBackend.transact_write_items = _MOTO  # type: ignore[method-assign]


def _touched_items(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(table, key, the item as it was or None) for each item the transaction names in a table
    that exists; moto itself answers for the rest."""
    backup = []
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
            as_was = current and copy.deepcopy(current.to_json()["Attributes"])
            backup.append((table.name, key, as_was))
    return backup


def _key_of(table: Table, item: dict[str, Any]) -> dict[str, Any]:
    names = [table.hash_key_attr, table.range_key_attr]
    return {name: item[name] for name in names if name is not None and name in item}
