"""Fixtures shared by every test: a test clock, and AWS credentials that can reach nothing."""

from __future__ import annotations

import os

# Powertools reads these when optout.core.observability is first imported, which test modules do at
# collection, before any fixture runs; in Lambda they are set before the code loads too.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "optout-bot")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OptoutBotTests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools.utilities import parameters

from local import iam
from optout.core import aws, clock, settings
from optout.sending import sender


class TestClock:
    """The time every layer module sees through `optout.core.clock.now()`; tests move it by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def test_clock() -> Iterator[TestClock]:
    ticking = TestClock(datetime(2025, 10, 27, 9, 0, tzinfo=UTC))
    clock.set_source(ticking)
    yield ticking
    clock.set_source(None)


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and no endpoint, so a test that forgot moto fails instead of calling AWS;
    settings and clients are rebuilt for each test."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OptoutBotTests")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "optout-bot")
    settings.get.cache_clear()
    aws.reset()
    parameters.clear_caches()
    sender.forget_campaigns()
    yield
    iam.stand_down()
    settings.get.cache_clear()
    aws.reset()
    parameters.clear_caches()
