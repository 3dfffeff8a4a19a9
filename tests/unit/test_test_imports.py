"""No test module imports from another: what tests share lives in tests/helpers.py (and the
fixtures they share in a conftest.py), so that a test module can change alone."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_test_modules(path: Path) -> list[str]:
    """The test modules (``test_*``) of tests/ that the file at `path` imports, anywhere in it
    (a relative import as written: ``.test_parsers``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names = [module, *(f"{module.rstrip('.')}.{alias.name}" for alias in node.names)]
        else:
            continue
        found += [
            name
            for name in names
            if name.startswith(("tests.", ".")) and name.rsplit(".", 1)[-1].startswith("test_")
        ]
    return sorted(set(found))


def test_no_file_under_tests_imports_a_test_module() -> None:
    offenders = {
        str(path.relative_to(TESTS.parent)): imported
        for path in sorted(TESTS.rglob("*.py"))
        if (imported := imported_test_modules(path))
    }
    assert not offenders, f"import shared helpers from tests.helpers instead: {offenders}"


def test_the_check_sees_each_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        "import tests.integration.test_sender\n"
        "from tests.unit.test_settings import COMPLETE\n"
        "from tests.integration import test_links\n"
        "from . import test_parsers\n"
        "def later():\n"
        "    from tests.integration.test_subscriptions import confirm_path\n"
        "from tests.helpers import active\n"
        "from tests.integration.conftest import Stack\n",
        encoding="utf-8",
    )
    assert imported_test_modules(module) == [
        ".test_parsers",
        "tests.integration.test_links",
        "tests.integration.test_sender",
        "tests.integration.test_subscriptions",
        "tests.unit.test_settings",
    ]
