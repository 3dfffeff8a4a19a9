"""What the table stores share: conditional writes, reading every page, items as JSON has them."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError


def conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def update_if(table: Any, **request: Any) -> dict[str, Any] | None:
    """A conditional UpdateItem: its response, or None when the condition did not hold."""
    try:
        return dict(table.update_item(**request))
    except ClientError as error:
        if conditional_failed(error):
            return None
        raise


def delete_if(table: Any, **request: Any) -> bool:
    """A conditional DeleteItem: True if it deleted, False when the condition did not hold."""
    try:
        table.delete_item(**request)
    except ClientError as error:
        if conditional_failed(error):
            return False
        raise
    return True


def plain(value: Any) -> Any:
    """An item's values as JSON has them: DynamoDB's Decimals as int or float, sets as lists."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(item) for item in value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def every_item(read: Callable[..., Any], **request: Any) -> list[dict[str, Any]]:
    """Every item a Query or Scan (`read`, a table's method) finds, page after page."""
    items: list[dict[str, Any]] = []
    while True:
        page = read(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
