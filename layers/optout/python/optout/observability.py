"""Powertools Logger, Tracer and Metrics, created once and shared by every handler.

Service name, metrics namespace and log level come from the POWERTOOLS_* environment that
template.yaml sets, so nothing here repeats them.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
