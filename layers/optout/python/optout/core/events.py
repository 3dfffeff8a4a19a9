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

What each type's `data` holds (made by `optout.domain.event_data`), and when it is emitted.
An event is emitted once what it tells of is stored, by the call that changed it: the same
action repeated (a second click, a text SNS delivers twice) changes nothing and emits nothing.

- ``subscriber.confirmed``: ``subscriber_id``, ``channel``, ``region``, ``locale``,
  ``platforms`` (empty: every platform), ``confirmed_at``, ``how``: ``confirmed`` (the
  confirmation link's POST), ``imported`` (an organiser's import with proof of consent, or
  the proof that makes someone pending active), ``keyword`` (START texted after a STOP).
- ``subscriber.unsubscribed``: ``subscriber_id``, ``channel``, ``how`` (``link``: the
  unsubscribe page's button; ``one-click``: a mail client's RFC 8058 POST; ``keyword``: STOP
  texted to our number, or to the SMS provider, which then refuses our texts; ``bounce``,
  ``complaint``: an email that bounced for good or was marked as spam), ``unsubscribed_at``,
  ``campaign_id`` (the campaign whose message they left from, or null). Only for someone who
  was active: a person still pending, or gone already, was never told of as subscribed.
- ``subscriber.erased``: ``subscriber_id``, ``erased_at``: a person erased their data (their
  privacy page); nothing else is told of them again, and the id leads nowhere now.
- In a coalition, the three ``subscriber.*`` events also carry ``organisations``
  (`event_data.organisations_field`): the membership confirmed, those left, those erased from (a
  person erased from some keeps the others); left out when that is the default organisation
  alone, so a deployment of one organisation tells what it always told.
- ``reminder.sent``: ``campaign_id``, ``reminder`` (its id, ``EU-07``), ``region``, ``kind``
  (``one-week-left``, ``announcement`` ...), ``catch_up`` (late joiners caught up), ``counts``:
  one send batch done (up to 200 people), each of its people counted once under their
  message's outcome (``sent``, ``failed``, ``unknown``, ``deferred``, ``skipped_<why>``,
  ``held_ab_test``: of an A/B test's rest, held for its result; the rest's fan-out sends them).
  A batch held back (quiet hours, the cap, a pause) is told again when it goes.
- ``conversion.recorded``: ``campaign_id``, ``subscriber_id``, ``region``, ``reminder``,
  ``channel``, ``recorded_at``: a person pressed "I've switched it off" (its page's POST; a
  link scanner's GET records nothing), once per campaign.
- ``campaign.launched``: ``campaign_id``, ``platform``, ``title``, ``regions`` (each
  ``{"region", "effective_at"}``), ``launched_at``: a campaign became active (a policy change
  that creates it active, an organiser's launch of a draft, a policy change that revives a
  withdrawn one). A pause and its resume are no launch; an ad-hoc send is no campaign.
- ``campaign.finished``: the same, with ``launched_at``, ``finished_at`` and ``reason``:
  ``completed`` (the scheduler found every reminder gone out or ended, every send batch its
  fan-outs queued done with by the sender, no text held back, the last fan-out an hour past
  and every region's deadline passed; a paused campaign waits) or
  ``withdrawn`` (a policy withdrawal, or an organiser's cancel). Once per launch: both events
  of one run share a key, the campaign and its launch time. Both are decided from what is
  stored (the run's finish check records an untold launch, and stays until its finish is
  told), so a call that stopped between its write and its event, redone, tells it under the
  same key; a campaign launched before runs were recorded is given one, from its creation,
  when it is next touched (a policy change, a withdrawal, the scheduler's next fan-out).
- ``policy.change_detected``: as `optout.watching.forward.event_body` sends to allies (the
  watcher, when it records a change; its id is the key).

In coalition mode, ``reminder.sent``, ``campaign.launched`` and ``campaign.finished`` of a
campaign that reaches an organisation besides the default one add ``organisations`` (the
campaign's, its own first), and ``conversion.recorded`` of such a campaign's message the one it
is counted under; a deployment that serves one organisation tells them as before.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from optout.core import clock, queues
from optout.core.event_types import EventType as EventType  # producers name the types from here
from optout.core.jobs import EventJob
from optout.core.observability import logger, metrics
from optout.core.settings import Settings


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


def emit_all(settings: Settings, happened: Sequence[Event]) -> list[str]:
    """Queue several events (an import's people), ten to a request; their ids. As `emit`, an
    event SQS refuses is logged and counted, and the caller goes on."""
    refused = queues.enqueue_each(settings.events_queue_url, [each.job() for each in happened])
    for position in refused:
        logger.error(
            "event not queued",
            extra={"event_id": happened[position].event_id, "type": str(happened[position].type)},
        )
    if refused:
        metrics.add_metric(name="EventsNotQueued", unit=MetricUnit.Count, value=len(refused))
    return [each.event_id for each in happened]


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, tuple | frozenset | set):
        return sorted(value) if isinstance(value, frozenset | set) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
