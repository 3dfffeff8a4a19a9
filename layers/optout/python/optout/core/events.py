"""Events for the organisers' own tools (outgoing webhooks): what happened, told as it happens.

A function where something happened (a person confirmed, a reminder batch went out, a campaign
was launched) calls `emit`, which puts one `EventJob` on the events queue; the events function
(`optout.events`) keeps it for replay and delivers it to every endpoint the organisers
registered for its type, signed as Standard Webhooks (https://www.standardwebhooks.com/).

An event is a Standard Webhooks payload, ``{"type", "timestamp", "data"}``, with an id
(``evt_...``, the ``webhook-id``) that stays the same for every endpoint and every attempt, so a
receiver deduplicates by it. An event that has a natural identity (this person's conversion in
this campaign) is given a `key`, from which its id is derived: emitted twice, because the
function that emitted it ran twice, it is one event, and is delivered once per endpoint.

`data` carries ids, counts and times, never a contact: queues, the kept events and their logs
stay free of personal data. Only a delivery of ``subscriber.confirmed`` to an endpoint the
organisation marked as its own CRM adds the person's contact, read when it is sent (a person
erased meanwhile is sent without it).

What each type's `data` holds:

- ``subscriber.confirmed``: ``subscriber_id``, ``channel``, ``region``, ``locale``,
  ``platforms``, ``confirmed_at``, ``how`` (``confirmed``, ``imported``, ``keyword``).
- ``subscriber.unsubscribed``: ``subscriber_id``, ``channel``, ``how`` (``link``, ``one-click``,
  ``keyword``, ``bounce``, ``complaint``), ``unsubscribed_at``.
- ``subscriber.erased``: ``subscriber_id``, ``erased_at``.
- ``reminder.sent``: ``campaign_id``, ``reminder``, ``region``, ``counts`` (outcome → number,
  for one batch of the send queue).
- ``conversion.recorded``: ``campaign_id``, ``subscriber_id``, ``region``, ``reminder``,
  ``channel``, ``recorded_at``.
- ``campaign.launched``, ``campaign.finished``: ``campaign_id``, ``platform``, ``title``,
  ``regions`` (each ``{"region", "effective_at"}``), and ``launched_at`` or ``finished_at``.
- ``policy.change_detected``: as `optout.watching.forward.event_body` sends to allies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from optout.core import clock, queues
from optout.core.jobs import EventJob
from optout.core.observability import logger, metrics
from optout.core.settings import Settings


class EventType(StrEnum):
    SUBSCRIBER_CONFIRMED = "subscriber.confirmed"
    SUBSCRIBER_UNSUBSCRIBED = "subscriber.unsubscribed"
    SUBSCRIBER_ERASED = "subscriber.erased"
    REMINDER_SENT = "reminder.sent"
    CONVERSION_RECORDED = "conversion.recorded"
    CAMPAIGN_LAUNCHED = "campaign.launched"
    CAMPAIGN_FINISHED = "campaign.finished"
    POLICY_CHANGE_DETECTED = "policy.change_detected"


@dataclass(frozen=True)
class Event:
    event_id: str
    type: EventType
    timestamp: datetime
    data: Mapping[str, Any]

    def body(self) -> str:
        """The payload as sent: JSON, keys in a stable order, so every attempt is the same."""
        payload = {
            "type": str(self.type),
            "timestamp": clock.iso(self.timestamp),
            "data": self.data,
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_json)

    def job(self) -> EventJob:
        return EventJob(event_id=self.event_id, type=str(self.type), body=self.body())


def event(
    type: EventType, data: Mapping[str, Any], at: datetime, *, key: str | None = None
) -> Event:
    """An event of `type` that happened `at`; its id is derived from `key` when given (the
    same `type` and `key` give the same id), else random."""
    if key is None:
        suffix = secrets.token_bytes(15)
    else:
        suffix = hashlib.sha256(f"{type}\n{key}".encode()).digest()[:15]
    event_id = "evt_" + base64.b32encode(suffix).decode("ascii").lower()
    return Event(event_id=event_id, type=type, timestamp=at, data=dict(data))


def emit(
    settings: Settings,
    type: EventType,
    data: Mapping[str, Any],
    at: datetime,
    *,
    key: str | None = None,
) -> str:
    """Queue an event for the organisers' endpoints; its id.

    Called after what it tells of is done, so it never undoes it: when SQS refuses the job
    (after the client's retries), the event is logged as not queued, with its id and type, and
    counted in the ``EventsNotQueued`` metric (an alarm watches it), and the caller goes on."""
    happened = event(type, data, at, key=key)
    try:
        queues.enqueue(settings.events_queue_url, happened.job())
    except Exception as error:  # what happened stands; the loss is reported
        logger.error(
            "event not queued",
            extra={"event_id": happened.event_id, "type": str(type), "error": repr(error)},
        )
        metrics.add_metric(name="EventsNotQueued", unit=MetricUnit.Count, value=1)
    return happened.event_id


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, tuple | frozenset | set):
        return sorted(value) if isinstance(value, frozenset | set) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
