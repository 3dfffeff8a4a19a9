"""What the layer does in one place only, read from the source: a second copy anywhere in the
layer or a handler fails here, naming the file and the line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/optout/python/optout"


def sources() -> list[Path]:
    return sorted([*LAYER.rglob("*.py"), *(ROOT / "functions").glob("*/app.py")])


def calls_of(method: str) -> list[str]:
    """Every `<anything>.method(...)` call in the layer and the handlers, as file:line."""
    found = []
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == method
            ):
                found.append(f"{path.relative_to(LAYER.parent)}:{node.lineno}")
    return found


def test_ses_sending_quota_is_read_only_by_the_email_channel() -> None:
    # The sender's pace and the launch check both start from it: one reading, one meaning.
    (where,) = calls_of("get_send_quota")
    assert where.startswith("optout/channels/email.py:"), where


@pytest.mark.parametrize("method", ["claim_or_state", "record_sent", "record_failed", "release"])
def test_messages_are_claimed_recorded_and_released_only_by_the_send_once_path(
    method: str,
) -> None:
    # One failure policy for every message to a person: a caller that claims or releases by
    # itself has a policy of its own (the sender's batch writes its "sent" through
    # `record_sent_many`, the record `send_once.deliver` hands it).
    outside = [
        where for where in calls_of(method) if not where.startswith("optout/sending/send_once.py:")
    ]
    assert outside == [], f"{method} called outside optout/sending/send_once.py: {outside}"


def test_the_plain_claim_is_left_to_webhook_ids() -> None:
    # `DeliveryStore.claim` keeps a webhook id seen, in and out: a policy change applied, and an
    # event an ally took (recorded after it arrived: webhooks go at least once, and allies
    # deduplicate by the id). A message to a person claimed with it would be sent without the
    # send-once path's records and releases.
    places = ("optout/campaigns/policy_changes.py:", "optout/watching/notices.py:")
    assert all(where.startswith(places) for where in calls_of("claim"))
