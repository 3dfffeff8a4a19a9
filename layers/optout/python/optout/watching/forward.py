"""Telling allies of a change: each change a watch records is sent to the receivers organisers
listed on it, as a Standard Webhooks event (https://www.standardwebhooks.com/) signed with that
receiver's own secret, so several groups can share one watcher. No AWS here: the notifier's
forward job calls `deliver` and re-queues itself after a retryable failure.

What a receiver gets: a POST of `event_body(change)` (JSON, `policy.change_detected`) with the
headers ``webhook-id`` (the change's id: the same for every receiver and every attempt, so a
receiver that got it once can drop a repeat), ``webhook-timestamp`` and ``webhook-signature``.
The request goes out as every Standard Webhooks delivery does (`optout.channels.webhook`), under
the rules of `optout.channels.outbound`: public addresses only (loopback too on the local
stack), https on port 443, timeouts and a total deadline, and no redirect followed.

What counts as delivered: a 2xx. A 408, a 429, a 5xx, a timeout or a broken connection may go
through later (`SourceFailed.retryable`; a Retry-After is kept); any other answer, a redirect
included, will not until the receiver or the watch changes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests

from optout.channels import webhook
from optout.core import clock
from optout.watching import sources

EVENT_TYPE = "policy.change_detected"
# The event's `data`: what a receiver needs to act on the change without asking us anything.
EVENT_FIELDS = (
    "change_id",
    "watch_id",
    "platform",
    "title",
    "about",
    "detected_at",
    "added",
    "removed",
    "terms",
    "score",
    "source_url",
    "setting_url",
)
RECEIVER = "the ally"  # how failures name the receiver, on the watch's status

# Retries: the first after a minute, each wait doubled, up to SQS's longest DelaySeconds (900 s,
# the most a re-queued job can be held). 12 attempts span two hours (60 + 120 + 240 + 480 + 7 x
# 900 s of waits): a receiver down for a deploy or an evening's incident still gets the event,
# while one gone for longer is reported on the watch's status, where organisers see it, instead
# of being knocked on for days. An ally misses nothing for good: every change stays on the
# dashboard.
FIRST_DELAY = 60
MAX_DELAY = 900
MAX_ATTEMPTS = 12
# The longest one delivery may take, in seconds: its deadline, with room to record the outcome.
LONGEST_POST = sources.TOTAL_TIMEOUT + 5


def event_body(change: Mapping[str, Any]) -> bytes:
    """The event sent to allies about `change` (a change as recorded: a mapping with at least
    the keys of `EVENT_FIELDS`), as the exact bytes that are signed and sent. Its `timestamp`
    is when the change was detected, so every attempt and every receiver gets the same bytes.
    Raises KeyError when a field is missing."""
    data = event_data(change)
    event = {"type": EVENT_TYPE, "timestamp": data["detected_at"], "data": data}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_data(change: Mapping[str, Any]) -> dict[str, Any]:
    """The `data` of the event about `change` (as `event_body`): what allies get, and the
    organisers' own tools (``policy.change_detected``, `optout.core.events`)."""
    return {name: _json_value(change[name]) for name in EVENT_FIELDS}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, tuple | list):
        return [_json_value(item) for item in value]
    return value


def deliver(
    url: str,
    secret: str,
    event_id: str,
    body: bytes,
    now: datetime,
    *,
    allow_loopback: bool = False,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (sources.CONNECT_TIMEOUT, sources.READ_TIMEOUT),
    total_timeout: float = sources.TOTAL_TIMEOUT,
) -> None:
    """POST the event `body` to the ally at `url`, signed with `secret`, as
    `optout.channels.webhook.deliver` does (its failures name "the ally"). Returns when the
    receiver answered 2xx; raises `SourceFailed` otherwise."""
    webhook.deliver(
        url,
        secret,
        event_id,
        body,
        now,
        what=RECEIVER,
        never="which the watch never sends to",
        allow_loopback=allow_loopback,
        session=session,
        timeout=timeout,
        total_timeout=total_timeout,
    )


def retry_delay(attempt: int, retry_after: float | None = None) -> int:
    """Seconds to wait before attempt `attempt + 1` (attempts count from 0) after a retryable
    failure: `FIRST_DELAY` doubled each time, at least the receiver's `retry_after`, and never
    more than `MAX_DELAY`, SQS's longest delay (a longer Retry-After is cut to it: the receiver
    can ask again)."""
    if attempt < 0:
        raise ValueError("attempts count from 0")
    delay: int = FIRST_DELAY * 2 ** min(attempt, 10)  # 2**10 minutes is past the cap already
    if retry_after is not None:
        delay = max(delay, math.ceil(retry_after))
    return min(delay, MAX_DELAY)


def new_secret() -> str:
    """A fresh signing secret for an ally (`optout.channels.webhook.new_secret`)."""
    return webhook.new_secret()
