"""Where the local stack's output goes, so that the banner is the first thing a newcomer reads.

In Lambda a function's standard output is its CloudWatch log stream: Powertools writes one JSON
line per log record there, and one more per invocation for its metrics. Locally the stack plays
CloudWatch: every line the handlers write goes whole to a log file (the log group), and the
terminal gets, once the banner is out, one short line per log record ("08:00:05 SenderFunction
INFO reminder sent"); metrics lines stay in the file. `--verbose` puts the whole lines on the
terminal as well.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import warnings
from pathlib import Path
from typing import TextIO


class FunctionOutput(io.TextIOBase):
    """A text stream for the handlers' standard output: each line to the log file, and a short
    form of it (or the whole line, when verbose) to the terminal once `show()` is called."""

    def __init__(self, log: TextIO, terminal: TextIO, verbose: bool) -> None:
        self._log, self._terminal, self._verbose = log, terminal, verbose
        self._pending = ""
        self._showing = False
        self._lock = threading.Lock()  # the HTTP and pump threads both run handlers

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._pending = (self._pending + text).split("\n")
            for line in lines:
                self._log.write(line + "\n")
                shown = line if self._verbose else short(line)
                if self._showing and shown:
                    self._terminal.write(shown + "\n")
            self._log.flush()
            self._terminal.flush()
        return len(text)

    def show(self) -> None:
        """From now on, lines reach the terminal too (the banner is out)."""
        self._showing = True


def short(line: str) -> str | None:
    """A Powertools log record as "time function LEVEL message", a metrics record as nothing,
    anything else (a traceback a handler printed, say) as it is."""
    try:
        record = json.loads(line)
    except ValueError:
        return line or None
    if not isinstance(record, dict):
        return line
    if "_aws" in record:  # CloudWatch embedded metrics
        return None
    if "message" not in record:
        return line
    time = str(record.get("timestamp", ""))[11:19]
    function = record.get("function_name", "")
    return f"{time} {function} {record.get('level', '')} {record['message']}".strip()


def route_function_output(log_path: Path, verbose: bool) -> FunctionOutput:
    """Send the handlers' output through a `FunctionOutput` to `log_path`, before any handler
    (and Powertools' logger, which keeps the stream it is given) is imported. Returns it, for
    `show()` once the banner is printed; the banner itself goes to the real stdout."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("a", encoding="utf-8")
    output = FunctionOutput(log, sys.__stdout__ or sys.stdout, verbose)
    sys.stdout = output
    # A page view or a tick that counts nothing makes Powertools warn; true, and noise here.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    return output


def say(text: str) -> None:
    """Print to the terminal itself (the banner, "stopped"), past the handlers' output."""
    terminal = sys.__stdout__ or sys.stdout
    terminal.write(text + "\n")
    terminal.flush()
