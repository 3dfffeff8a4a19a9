"""The layer's folders stay the architecture the README draws: each feature folder uses only the
folders below it, `domain/` runs without AWS, and only `core.aws`, `store/` and `channels/`
speak to boto3. A new import across the lines fails here, naming the file and the line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "optout" / "python" / "optout"

# Who may import whom. A feature folder that needs another not listed here is a design change:
# change this table in the same commit, and the README's Layout with it.
MAY_USE: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "domain": frozenset({"core"}),
    "channels": frozenset({"core"}),
    "store": frozenset({"core", "domain"}),
    "messages": frozenset({"core", "domain", "channels"}),
    "web": frozenset({"core", "domain", "messages"}),
    "links": frozenset({"core", "domain", "store"}),
    "sending": frozenset({"core", "domain", "channels", "store", "messages"}),
    "campaigns": frozenset({"core", "domain", "store", "messages"}),
    "subscribers": frozenset(
        {"core", "domain", "channels", "store", "messages", "links", "sending"}
    ),
    "feedback": frozenset({"core", "domain", "channels", "store", "messages", "sending"}),
    "organisers": frozenset(
        {
            "core",
            "domain",
            "channels",
            "store",
            "messages",
            "sending",
            "campaigns",
            "watching",
            "events",
        }
    ),
    "watching": frozenset(
        {"core", "domain", "channels", "store", "messages", "sending", "campaigns"}
    ),
    "events": frozenset({"core", "domain", "channels", "store", "sending"}),
}
SPEAK_TO_AWS = ("core/aws.py", "store/", "channels/")


def imports(path: Path) -> list[tuple[int, str]]:
    """Each module `path` imports, with its line: `from a.b import c` gives a.b and a.b.c."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def folder_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "optout" and len(parts) > 1 else None


def crossings(layer: Path) -> list[str]:
    """Every import from one folder of `layer` into another that MAY_USE does not allow."""
    wrong = []
    for path in sorted(layer.rglob("*.py")):
        relative = path.relative_to(layer)
        if len(relative.parts) < 2:
            continue
        folder = relative.parts[0]
        for line, module in imports(path):
            target = folder_of(module)
            if target in MAY_USE and target != folder and target not in MAY_USE[folder]:
                wrong.append(f"{relative}:{line} ({folder}/ imports {target}/)")
    return sorted(set(wrong))


def test_every_folder_of_the_layer_has_its_place_in_the_table() -> None:
    folders = {path.parent.name for path in LAYER.glob("*/__init__.py")}
    assert folders == set(MAY_USE)


def test_no_folder_imports_one_above_it() -> None:
    assert crossings(LAYER) == []


def test_the_check_names_an_import_across_the_lines(tmp_path: Path) -> None:
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "plan.py").write_text(
        "from optout.core import clock\nfrom optout.store import CampaignStore\n"
    )
    assert crossings(tmp_path) == ["domain/plan.py:2 (domain/ imports store/)"]


def test_only_core_aws_the_store_and_the_channels_import_boto3() -> None:
    speakers = {
        f"{path.relative_to(LAYER)}:{line}"
        for path in LAYER.rglob("*.py")
        for line, module in imports(path)
        if module.split(".")[0] in {"boto3", "botocore"}
        and not str(path.relative_to(LAYER)).startswith(SPEAK_TO_AWS)
    }
    assert speakers == set()


def test_the_domain_runs_without_aws() -> None:
    # In a fresh interpreter: importing every domain module must load neither boto3 nor the store.
    modules = sorted(f"optout.domain.{path.stem}" for path in (LAYER / "domain").glob("[!_]*.py"))
    script = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in modules)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')"
        " or m.startswith('optout.store')))"
    )
    loaded = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert len(modules) >= 7
    assert loaded.strip() == "[]"
