"""Cold starts: a function's handler module imported in fresh interpreters as Lambda imports it
(the function's code, then the layer, then the dependencies, with the function's environment),
beside a bare ``import boto3``; how long each import took, inside the interpreter, and the
interpreter's peak resident memory once it was done.

Used by `bench.sender` for the sender's cold start, in detail, and by `bench.summary` for every
function of template.yaml.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local import provision, template

REGION = "eu-west-1"
LAYER_DIR = Path(__file__).resolve().parent.parent / "layers/optout/python"


@dataclass(frozen=True)
class Importable:
    """A module, the directories to put in front of the interpreter's path for it, and the
    function (logical id) whose execution environment it is imported in."""

    module: str
    path: tuple[Path, ...] = ()
    function: str = "SenderFunction"  # boto3 alone needs none, but runs where the sender does

    @property
    def cwd(self) -> Path:
        return template.functions()[self.function].code_dir


def handler(function: str) -> Importable:
    """A function's handler module, with the path Lambda gives it: /var/task (the function's
    code), then /opt/python (the layers), then the rest."""
    found = template.functions()[function]
    return Importable(found.handler.split(".")[0], (found.code_dir, LAYER_DIR), function)


BOTO3 = Importable("boto3")

# Run in a fresh interpreter: import a module with the given directories in front of the path;
# how long it took, whether importing it read the settings or made an AWS client, and the
# process's peak resident memory afterwards (Linux counts ru_maxrss in KiB).
_IMPORT = """\
import importlib, json, resource, sys, time
module, *paths = sys.argv[1:]
sys.path[:0] = paths
print("-- importing", module, file=sys.stderr, flush=True)  # what -X importtime logs next is ours
started = time.perf_counter()
importlib.import_module(module)
seconds = time.perf_counter() - started
settings, aws = sys.modules.get("optout.settings"), sys.modules.get("optout.aws")
print(json.dumps({
    "seconds": seconds,
    "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "settings_read": settings.get.cache_info().currsize if settings else 0,
    "clients_made": sum(  # optout.aws makes clients on demand and caches them
        made.cache_info().currsize for made in vars(aws).values() if hasattr(made, "cache_info")
    ) if aws else 0,
}))
"""


@dataclass(frozen=True)
class Imports:
    """Seconds to import boto3 alone, and the handler module, in fresh interpreters."""

    boto3: list[float]
    handler: list[float]
    by_package: Counter[str]  # the handler's import, microseconds by top-level package
    max_rss_kib: list[int]  # the handler's interpreters' peak resident memory

    @property
    def ratio(self) -> float:
        return statistics.median(self.handler) / statistics.median(self.boto3)


@dataclass(frozen=True)
class ColdStart:
    with_bytecode: Imports
    without_bytecode: Imports
    at_import: dict[str, int]  # settings read and clients made while importing the handler


def measure(function: str, repeat: int, by_package: bool = True) -> ColdStart:
    """Import `function`'s handler and boto3 in fresh interpreters, with bytecode and
    without it."""
    target = handler(function)
    first = run(target)  # also writes any bytecode missing, outside the measurement
    run(BOTO3)
    with_bytecode = imports(target, repeat, flags=[], by_package=by_package)
    with stdlib_bytecode_only([target, BOTO3]) as flags:
        without_bytecode = imports(target, repeat, flags, by_package=by_package)
    at_import = {key: int(first[key]) for key in ("settings_read", "clients_made")}
    return ColdStart(with_bytecode, without_bytecode, at_import)


def imports(target: Importable, repeat: int, flags: list[str], by_package: bool = True) -> Imports:
    """`repeat` imports of boto3 and `target`, alternating, so that a slow spell of the machine
    hits both."""
    boto3_seconds, handler_seconds, rss = [], [], []
    for _ in range(repeat):
        boto3_seconds.append(run(BOTO3, flags)["seconds"])
        measured = run(target, flags)
        handler_seconds.append(measured["seconds"])
        rss.append(int(measured["max_rss_kib"]))
    packages = import_time_by_package(target, flags) if by_package else Counter[str]()
    return Imports(boto3_seconds, handler_seconds, packages, rss)


def run(target: Importable, flags: Sequence[str] = ()) -> dict[str, float]:
    """One import of `target` in a fresh interpreter: what `_IMPORT` measured."""
    measured: dict[str, float] = json.loads(_run_import(target, flags).stdout)
    return measured


def _run_import(target: Importable, flags: Sequence[str]) -> subprocess.CompletedProcess[str]:
    # -P: nothing of the working directory on the path, as in Lambda, where it is the task root.
    command = [sys.executable, "-P", *flags, "-c", _IMPORT, target.module, *map(str, target.path)]
    completed = subprocess.run(  # noqa: S603 (our own interpreter and snippet)
        command,
        cwd=target.cwd,
        env=lambda_environment(target.function),
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        raise RuntimeError(f"importing {target.module} failed:\n{completed.stderr}")
    return completed


def lambda_environment(function: str) -> dict[str, str]:
    """The environment of `function`'s execution environment when it imports the handler:
    template.yaml's Globals without the names of tables and queues (importing must not need
    them), and the runtime's own variables. LAMBDA_TASK_ROOT is how Powertools knows that it
    runs in Lambda, and turns tracing on, as the template's ``Tracing: Active`` has it."""
    kept = {name: os.environ[name] for name in ("PATH", "LANG", "TZ") if name in os.environ}
    return {
        **kept,
        **template.environment({}, provision.LOCAL_PARAMETERS),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "LAMBDA_TASK_ROOT": str(template.functions()[function].code_dir),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def import_time_by_package(target: Importable, flags: list[str]) -> Counter[str]:
    """One import of `target` under ``-X importtime``: microseconds of each top-level
    package's own import work (the interpreter's instrumentation adds a little to each)."""
    stderr = _run_import(target, ["-X", "importtime", *flags]).stderr
    ours = stderr.partition(f"-- importing {target.module}\n")[2]  # not the interpreter's start
    microseconds: Counter[str] = Counter()
    for line in ours.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            microseconds[fields[2].strip().split(".")[0]] += int(fields[0])
    return microseconds


@contextmanager
def stdlib_bytecode_only(targets: Sequence[Importable]) -> Iterator[list[str]]:
    """Interpreter flags under which only the standard library has bytecode, as in Lambda with
    the layers `make build` makes: pip's --no-compile for the dependencies, no __pycache__ in
    the shared layer, and /opt read-only, so every cold start compiles both from source.

    Each target is imported once with a scratch bytecode directory (``pycache_prefix``), which
    fills it with the bytecode of every module they import; the standard library's part is
    kept. ``-B`` then stops the measured runs from adding to it.
    """
    with tempfile.TemporaryDirectory() as scratch:
        primed, kept = Path(scratch, "primed"), Path(scratch, "kept")
        for target in targets:
            _run_import(target, ["-X", f"pycache_prefix={primed}"])
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        mirrored = stdlib.relative_to(stdlib.anchor)
        (kept / mirrored).parent.mkdir(parents=True)
        shutil.move(primed / mirrored, kept / mirrored)
        yield ["-B", "-X", f"pycache_prefix={kept}"]
