"""What the layer does in one place only, read from the source: a second copy anywhere in the
layer or a handler fails here, naming the file and the line."""

from __future__ import annotations

import ast
from pathlib import Path

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
