"""`python -m bench.subscribe_timing`: does the time of `POST /subscribe`'s answer tell whether
the contact is already known?

An attacker measured 52 ms for a new contact and 29 ms for a known one (median), enough to
find out who is subscribed. This starts the local stack in a process of its own, with its pump
off (on AWS the notifier, which now records the request, is another Lambda), and times the
answer over HTTP for fresh contacts and for one contact asked again and again, interleaved, so
that both see the same machine. It prints the medians, their gap and their ratio.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import requests

from bench import report

ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.subscribe_timing", description=__doc__)
    parser.add_argument("--pairs", type=int, default=300, help="requests of each kind")
    report.add_results_option(parser)
    options = parser.parse_args(argv)
    port = _free_port()
    stack = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "local",
            "--port",
            str(port),
            "--no-demo",
            "--pump-seconds",
            "0",
            "--parameter",
            "SubscribesPerHourPerAddress=1000000",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/subscribe"
        _wait_for(url)
        new, known = _measure(url, options.pairs)
    finally:
        stack.terminate()
        stack.wait(timeout=30)
    figures = {
        "pairs": options.pairs,
        "new_median_ms": round(statistics.median(new), 2),
        "known_median_ms": round(statistics.median(known), 2),
    }
    figures["gap_ms"] = round(figures["new_median_ms"] - figures["known_median_ms"], 2)
    figures["ratio"] = round(figures["new_median_ms"] / figures["known_median_ms"], 3)
    print(
        f"POST /subscribe, {options.pairs} of each, median: new contact "
        f"{figures['new_median_ms']} ms, known contact {figures['known_median_ms']} ms, "
        f"gap {figures['gap_ms']} ms, ratio {figures['ratio']}"
    )
    report.save(options.results, "subscribe_timing", figures)


def _measure(url: str, pairs: int) -> tuple[list[float], list[float]]:
    known = "known@example.org"
    for _ in range(20):  # warm both paths: imports, templates, connections
        _post(url, f"warm-{uuid.uuid4().hex}@example.org")
        _post(url, known)
    new_times, known_times = [], []
    for _ in range(pairs):
        new_times.append(_post(url, f"new-{uuid.uuid4().hex}@example.org"))
        known_times.append(_post(url, known))
    return new_times, known_times


def _post(url: str, contact: str) -> float:
    start = time.perf_counter()
    requests.post(url, json={"contact": contact, "region": "DE"}, timeout=30).raise_for_status()
    return (time.perf_counter() - start) * 1000


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.5)
    raise SystemExit("the local stack did not answer within 60 s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    main()
