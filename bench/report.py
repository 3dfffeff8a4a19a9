"""Markdown for benchmark results, and BENCHMARKS.md, where each benchmark owns one section."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
_TITLE = "# Benchmarks\n\nMeasured with `make bench` on the local moto stack; see `bench/`.\n"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table whose first column is a label and the others figures (right-aligned,
    so that they read down)."""
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def command(module: str, argv: Sequence[str] | None) -> str:
    """How a benchmark was started, for its report (`make bench` passes no arguments)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    return " ".join([f"python -m {module}", *arguments]) if arguments else "make bench"


def machine() -> str:
    """What the numbers were measured on: they mean little without it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cores} cores (nproc), {platform.machine()}, Python {platform.python_version()}, "
        f"moto {version('moto')}, boto3 {version('boto3')}"
    )


def write_section(heading: str, body: str, path: Path = BENCHMARKS, first: bool = False) -> None:
    """Put `body` under ``## heading`` in `path`, replacing that section if it is there and
    keeping every other benchmark's section as it was; a new section goes last, or `first`,
    right after the title."""
    text = path.read_text(encoding="utf-8") if path.exists() else _TITLE
    section = f"## {heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    elif first and (sections := re.search(r"^## ", text, re.MULTILINE)):
        text = text[: sections.start()] + section + "\n" + text[sections.start() :]
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def results_dir() -> Path | None:
    """Where the benchmarks of one `make bench` run leave their figures for `bench.summary`:
    OPTOUT_BENCH_RESULTS, which the Makefile sets to a fresh temporary directory; None when
    a benchmark runs on its own."""
    named = os.environ.get("OPTOUT_BENCH_RESULTS")
    return Path(named) if named else None


def add_results_option(parser: argparse.ArgumentParser) -> None:
    """`--results`: where a benchmark leaves its figures for `bench.summary`."""
    parser.add_argument(
        "--results",
        type=Path,
        default=results_dir(),
        help="a directory to leave the figures in for bench.summary (default: "
        "$OPTOUT_BENCH_RESULTS, else none)",
    )


def save(directory: Path | None, name: str, figures: dict[str, Any]) -> None:
    """Leave a benchmark's figures in `directory` as `name`.json (nowhere if None)."""
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")


def load(directory: Path, name: str) -> dict[str, Any]:
    """The figures a benchmark of this run left in `directory`."""
    path = directory / f"{name}.json"
    if not path.exists():
        raise SystemExit(
            f"no {path}: run the benchmark that writes it first, with the same results"
        )
    figures: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return figures
