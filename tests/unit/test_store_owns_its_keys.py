"""Only `optout.store` knows how the tables' keys look (`store/layout.py`): everywhere else a
campaign, a reminder or a subscriber is named in domain terms. Read from the source, so that a
key built or parsed by hand anywhere in the layer or a handler fails here, naming the line."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/optout/python/optout"
STORE = LAYER / "store"
# Attributes that are keys of a table or an index, never data the domain reads.
KEY_ATTRIBUTES = {"pk", "sk", "due_pk", "audience_pk", "audience_sk"}
# The prefixes of the keys store/layout.py builds.
KEY_PREFIXES = (
    "CAMPAIGN#",
    "REMINDER#",
    "DEFERRED#",
    "NOTICE#",
    "STATS#",
    "TIMELINE#",
    "LIST#",
    "COUNT#",
    "HOUR#",
    "webhook#",
    "ratelimit#",
    "click#",
    "reply#",
    "notice#",
    "VERSIONS#",
    "change#",
    "ENDPOINTS",
    "EVENT#",
    "EVENTS#",
    "LOG#",
    "DEAD#",
    "SENT#",
    "endpoint#",
)


def sources_outside_the_store() -> list[Path]:
    layer = [path for path in LAYER.rglob("*.py") if STORE not in path.parents]
    return sorted(layer + list((ROOT / "functions").glob("*/app.py")))


def key_handling(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, what) for each place the source builds or reads a key by hand."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in KEY_ATTRIBUTES:
                yield node.lineno, f"the key attribute {node.value!r}"
            elif any(prefix in node.value for prefix in KEY_PREFIXES):
                yield node.lineno, f"a key prefix in {node.value!r}"
        elif isinstance(node, ast.JoinedStr):
            yield from _joined_by_hash(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("split", "rsplit", "partition", "rpartition", "removeprefix")
            and any(isinstance(arg, ast.Constant) and "#" in str(arg.value) for arg in node.args)
        ):
            yield node.lineno, f"a key taken apart with .{node.func.attr}('#')"


def _joined_by_hash(node: ast.JoinedStr) -> Iterator[tuple[int, str]]:
    """An f-string that joins values with '#', as keys are made (f"{group}#{shard:02d}")."""
    parts: list[ast.expr | None] = [None, *node.values, None]
    for before, part, after in zip(parts, parts[1:], parts[2:], strict=False):
        if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
            continue
        if (part.value.endswith("#") and isinstance(after, ast.FormattedValue)) or (
            part.value.startswith("#") and isinstance(before, ast.FormattedValue)
        ):
            yield node.lineno, f"values joined by '#' in an f-string ({part.value!r})"


@pytest.mark.parametrize(
    "source", sources_outside_the_store(), ids=lambda path: str(path.relative_to(ROOT))
)
def test_no_module_outside_the_store_builds_or_parses_a_key(source: Path) -> None:
    found = list(key_handling(ast.parse(source.read_text(encoding="utf-8"))))
    assert not found, "\n".join(
        f"{source.relative_to(ROOT)}:{line}: {what}: ask optout.store instead"
        for line, what in found
    )


@pytest.mark.parametrize(
    "code",
    [
        'item["sk"]',
        'key = f"REMINDER#{region}#{days:02d}"',
        'shard = f"{group}#{number:02d}"',
        'region = reference.split("#")[1]',
        'rest = sk.removeprefix("REMINDER#")',
        'window = "ratelimit#subscribe#" + address',
    ],
)
def test_the_check_sees_keys_made_by_hand(code: str) -> None:
    assert list(key_handling(ast.parse(code)))


def test_the_check_leaves_colours_and_references_alone() -> None:
    code = 'f\'<rect fill="#16794a"><title>{name}</title>\'; ref = f"#/components/{kind}"'
    assert list(key_handling(ast.parse(code))) == []


def test_a_deadline_notice_has_keys_no_reminder_has_and_they_read_back() -> None:
    from optout.store import layout

    # Given the EU's first deadline notice and every regular reminder a region may have
    notice_claim = layout.reminder_delivery("c", "EU", 0, "s1", "email", notice=1)
    regular = {layout.reminder_delivery("c", "EU", days, "s1", "email") for days in range(100)}
    # Then its claim, sort key and id are its own, and its id names it again
    assert notice_claim == "c#EU#N1#s1#email"
    assert notice_claim not in regular
    assert layout.reminder_delivery("c", "EU", 0, "s1", "email", notice=2) != notice_claim
    assert layout.reminder_sk_of("EU-N1") == "REMINDER#EU#N1" != layout.reminder_sk("EU", 0)
    assert layout.reminder_id_of("REMINDER#EU#N1") == "EU-N1"
    assert layout.reminder_id_of("EU-07") == "EU-07"
    with pytest.raises(ValueError, match="not a reminder"):
        layout.reminder_sk_of("EU-N0")
