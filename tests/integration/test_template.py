"""template.yaml is valid, builds on this machine, and every built function imports its handler."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from local import template

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0"}


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own tools, fixed arguments)
        command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600, check=False
    )


def test_cfn_lint_passes() -> None:
    result = run(str(BIN / "cfn-lint"), "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes() -> None:
    result = run(
        str(BIN / "sam"),
        "validate",
        "--lint",
        "--template",
        "template.yaml",
        "--region",
        "eu-west-1",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_and_route_of_the_contract_is_declared() -> None:
    routes = {(route.method, route.path) for route in template.routes()}
    assert {
        ("GET", "/subscribe"),
        ("POST", "/subscribe"),
        ("GET", "/confirm/{token}"),
        ("POST", "/confirm/{token}"),
    } <= routes
    assert {("POST", "/webhooks/policy-change")} <= routes
    assert template.queue_consumers() == {
        "NoticeQueue": "NotifierFunction",
        "FanoutQueue": "FanoutFunction",
        "SendQueue": "SenderFunction",
    }
    assert template.scheduled_functions() == ["SchedulerFunction"]


def distributions(site: Path) -> set[str]:
    """The distributions installed in a folder, by normalised name."""
    return {path.name.split("-")[0].lower().replace("_", "-") for path in site.glob("*.dist-info")}


@pytest.mark.slow
def test_sam_build_produces_functions_that_import_their_handlers(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    result = run(
        str(BIN / "sam"), "build", "--template", "template.yaml", "--build-dir", str(build_dir)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    dependencies, shared = (
        build_dir / "DependenciesLayer" / "python",
        build_dir / "SharedLayer" / "python",
    )
    assert (shared / "optout" / "templates").is_dir() and (shared / "optout" / "schemas").is_dir()
    # The dependencies layer holds wheels for Lambda's Python 3.13 on arm64, whose compiled parts
    # (rpds-py under jsonschema) this interpreter cannot load. So the same requirements are
    # installed for this interpreter too, and must come to the same distributions.
    twin = tmp_path / "twin"
    requirements = (build_dir / ".." / "requirements.txt").resolve()
    requirements.write_text(
        "\n".join(
            tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
                "dependencies"
            ]
        )
    )
    installed = run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--only-binary=:all:",
        "--target",
        str(twin),
        "-r",
        str(requirements),
    )
    assert installed.returncode == 0, installed.stderr
    assert distributions(twin) == distributions(dependencies)
    for name, function in template.functions().items():
        module, handler = function.handler.split(".")
        # -I: nothing from this machine's site-packages, only the function and its layers.
        probe = (
            "import sys; sys.path[:0] = sys.argv[1:]; "
            f"import {module}; assert callable({module}.{handler}); print({module}.__file__)"
        )
        imported = run(
            sys.executable, "-I", "-c", probe, ".", str(shared), str(twin), cwd=build_dir / name
        )
        assert imported.returncode == 0, f"{name}: {imported.stderr}"
        assert imported.stdout.strip() == str(build_dir / name / f"{module}.py")
