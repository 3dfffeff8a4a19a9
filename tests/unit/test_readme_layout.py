"""The README's Layout names every module and test folder of the tree, and no folder that is
gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/optout/python/optout"


def layout() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Layout\n", 1)[1].split("```", 2)[1]


def test_every_module_and_test_folder_is_in_the_layout() -> None:
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", layout()))
    modules = {path.stem for path in LAYER.rglob("*.py")} | {
        path.stem for path in (ROOT / "local").glob("*.py")
    }
    folders = {path.name for path in (ROOT / "tests").iterdir() if (path / "__init__.py").exists()}
    missing = sorted((modules | folders) - named - {"__init__", "__main__"})
    assert not missing, f"README's Layout does not name: {', '.join(missing)}"


def test_every_folder_the_layout_names_exists() -> None:
    text = layout()
    tops = re.findall(r"^([\w.<>-]+/)", text, flags=re.MULTILINE)
    assert tops, "no top-level folder found in the Layout"
    gone = [top for top in tops if "<" not in top and not (ROOT / top).is_dir()]
    assert not gone, f"README's Layout names folders that do not exist: {gone}"
