"""Powertools Logger, Tracer and Metrics, created once and shared by every handler.

Service name, metrics namespace and log level come from the POWERTOOLS_* environment that
template.yaml sets, so nothing here repeats them.

The tracer is made when first asked for (`from optout.observability import tracer` asks): a
function that does not trace (the OpenAPI description) starts without X-Ray's SDK, and the tracer patches only botocore, so that starting it imports nothing else. The modules
that call HTTP through `requests` patch it themselves, where they import it (`trace_requests`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
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


__all__ = ["MetricUnit", "logger", "metrics", "trace_requests", "tracer"]
