"""Each atheris target (`tests/fuzz/atheris_targets.py`) for a bounded, seeded number of runs:
libFuzzer must end cleanly and write no crash file. `make fuzz` runs them for longer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.atheris_targets import ROOT, TARGETS

RUNS = 10_000  # each parser; about two seconds a target on one shared core


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_fuzzer_finds_no_crash(target: str, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    result = subprocess.run(  # noqa: S603 (our own module and arguments)
        [
            sys.executable,
            "-m",
            "tests.fuzz.atheris_targets",
            target,
            f"-runs={RUNS}",
            "-seed=1",
            "-timeout=20",
            f"-artifact_prefix={artifacts}/",
            str(tmp_path / "corpus"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "0"},  # the same runs every time
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert not list(artifacts.iterdir()), output[-6000:]
    assert f"Done {RUNS} runs" in output, output[-6000:]
