"""Powertools Logger, Tracer and Metrics, created once and shared by every handler.

Service name, metrics namespace and log level come from the POWERTOOLS_* environment that
template.yaml sets, so nothing here repeats them.

Logs are kept (`LogRetentionDays`) and read by operators, who have no business knowing who
subscribed: no log line names a contact or carries a link token, which would be a working link
to that person's data. The code logs ids and counts only; this formatter also blanks what a
provider's error message or an exception's text may carry (SES names the refused address).

The tracer is made when first asked for (`from optout.core.observability import tracer` asks): a
function that does not trace (the OpenAPI description) starts without X-Ray's SDK, and the
tracer patches only botocore, so that starting it imports nothing else. The modules that call
HTTP through `requests` patch it themselves, where they import it (`trace_requests`).
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

from optout.core.tokens import Purpose

_EMAIL = r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"
# E.164 and the ways people write it ("+1 416 555 0123", "+1 (416) 555-0123"); at least 8
# digits, so that a time zone offset ("+0000") is left alone.
_PHONE = r"\+\d(?:[ ().-]?\d){7,14}"
_TOKEN = rf"[\w-]+\.(?:{'|'.join(purpose.value for purpose in Purpose)})\.[\w.-]+"
_PERSONAL = re.compile(f"{_EMAIL}|{_PHONE}|{_TOKEN}")


def redact(text: str) -> str:
    """`text` with every email address, phone number and link token replaced by a marker."""
    return _PERSONAL.sub("[redacted]", text)


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log line, with `redact` applied to all of it (tracebacks included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


logger = Logger(logger_formatter=RedactingFormatter())
metrics = Metrics()
tracer: Tracer  # made on first use, by __getattr__ below

# X-Ray's patch_all, Powertools' default, imports every library it knows how to trace that is
# installed (requests, sqlite3...) at the first start: a tenth of a second of a cold start for
# libraries most functions never call.
_TRACED_MODULES = ("botocore",)


@cache
def _tracer() -> Tracer:
    return Tracer(patch_modules=_TRACED_MODULES)


def trace_requests() -> None:
    """Trace the HTTP calls made through `requests` (once `requests` is imported anyway)."""
    _tracer().patch(["requests"])


def __getattr__(name: str) -> Any:
    # PEP 562: `tracer` is made on first use, once.
    if name == "tracer":
        return _tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MetricUnit", "logger", "metrics", "redact", "trace_requests", "tracer"]
