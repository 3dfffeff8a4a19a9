"""The local stack as a user meets it: `python -m local` in its own process, spoken to over HTTP.

One stack (without demo data) serves the whole session. Tests share it, so each uses contacts
of its own and puts the clock back when it moved it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60
STOP_SECONDS = 15
# Given to the demo stack, which must use them rather than make its own.
DEMO_SECRETS = {
    "OPTOUT_WEBHOOK_SECRET": "whsec_dGVzdC1zZWNyZXQtZm9yLWUyZS10ZXN0cw==",
    "OPTOUT_ADMIN_TOKEN": "admin-token-for-e2e-tests",
}


class StackClient:
    """HTTP to a running local stack, with the `/_local/` routes spelled out."""

    def __init__(self, base_url: str, process: subprocess.Popen[bytes] | None = None) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.process = process  # the stack's, when this session started it

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.url(path), timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.url(path), timeout=30, **kwargs)

    def outbox(self) -> list[dict[str, Any]]:
        response = self.get("/_local/outbox")
        response.raise_for_status()
        return list(response.json())

    def tick(self) -> dict[str, Any]:
        """Run the scheduler and drain every queue, as the stack's own pump would."""
        response = self.post("/_local/tick")
        response.raise_for_status()
        return dict(response.json())

    def now(self) -> str:
        return str(self.get("/_local/clock").json()["now"])

    def move_clock(self, **change: str) -> requests.Response:
        """`move_clock(advance="P8D")` or `move_clock(set="2025-10-27T09:00:00Z")`."""
        return self.post("/_local/clock", json=change)


@dataclass(frozen=True)
class DemoStack:
    client: StackClient
    log: Path  # everything the stack printed
    secrets: dict[str, str]  # the environment it was started with, beyond the shell's


@contextmanager
def running_stack(
    log: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[StackClient]:
    """Start `python -m local` on a free port, wait until it answers, stop it on the way out.

    Its output goes to `log`, not to a pipe, so that a chatty stack can never fill a pipe and
    stall; the log is shown if it fails to start.
    """
    port = _free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **(env or {}),
    }
    # The functions' log lines beside `log` (by default the stack keeps them in the checkout).
    log_file = ["--log-file", str(log.with_name("functions.log"))]
    command = [sys.executable, "-m", "local", "--port", str(port), *log_file, *options]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        client = StackClient(f"http://127.0.0.1:{port}", process)
        _wait_until_ready(process, client, log)
        yield client
    finally:
        _stop(process)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(process: subprocess.Popen[bytes], client: StackClient, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the local stack exited with {process.returncode}:\n{log.read_text(encoding='utf-8')}"
            )
        try:
            if client.get("/_local/clock").ok:
                return
        except requests.ConnectionError:
            pass  # not listening yet
        time.sleep(0.2)
    pytest.fail(
        f"the local stack did not answer within {STARTUP_SECONDS} s:\n{log.read_text(encoding='utf-8')}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a terminal or a process manager would stop it; SIGKILL if it hangs."""
    if process.poll() is not None:  # the test stopped it itself
        return
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackClient]:
    """A local stack without demo data, shared by the session."""
    log = tmp_path_factory.mktemp("local-stack") / "stack.log"
    with running_stack(log, "--no-demo") as client:
        yield client


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """A stack started as `make run` starts it (demo data on), with secrets given to it."""
    log = tmp_path_factory.mktemp("demo-stack") / "stack.log"
    with running_stack(log, env=DEMO_SECRETS) as client:
        yield DemoStack(client, log, DEMO_SECRETS)


@pytest.fixture
def start_stack() -> Callable[..., AbstractContextManager[StackClient]]:
    """`with start_stack(log, *options):` runs one more stack of the test's own."""
    return running_stack


@pytest.fixture
def clock(stack: StackClient) -> Iterator[StackClient]:
    """The shared stack, with its clock put back where it was after the test."""
    before = stack.now()
    yield stack
    stack.move_clock(set=before).raise_for_status()
