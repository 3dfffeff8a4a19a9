"""What organisers do to their endpoints for events out, by hand: register, list, show (with the
log of recent attempts and the dead letters), edit, pause, resume, delete, rotate the secret,
and replay one event or a time range of kept events to one endpoint.

An endpoint is declared as `optout.domain.endpoints.parse_endpoint` reads it (every problem
named in one 400), and belongs to the organisation of the organiser who registered it: they see
and manage only their organisation's (`theirs`: another's is a 404), the coalition owner all. Its signing secret is made here, shown in full in the answer that created
(or rotated) it and never again: afterwards only its last characters. A rotated-out secret
still signs beside the new one for a day, so the receiver can switch without losing an event.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from optout.channels import webhook
from optout.core import json_body, queues
from optout.core.clock import iso, parse_iso
from optout.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from optout.core.event_types import EVENT_TYPES
from optout.core.jobs import DeliveryJob
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain.endpoints import (
    GIVE_UP_AFTER,
    PAUSED,
    ROTATION_OVERLAP,
    Endpoint,
    is_endpoint_id,
    parse_edit,
    parse_endpoint,
)
from optout.domain.models import DEFAULT_ORGANISATION
from optout.domain.organisations import OWNER, Organiser
from optout.store import EventStore

MAX_BODY = 16 * 1024
MAX_REPLAY = 1000  # events one replay may queue
SHOWN_ONCE = "the secret is shown here once, and never again: give it to the endpoint's owner now"
HINT_LENGTH = 4
PAUSED_BY_HAND = "paused by an organiser"
_REPLAY_FIELDS = frozenset({"event_id", "from", "to"})


def read_document(body: bytes) -> dict[str, Any]:
    """An endpoint, an edit or a replay as an API client sends it: a JSON object."""
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"at most {MAX_BODY // 1024} KiB of JSON")
    return json_body.parse_object(body)


def from_form(fields: Mapping[str, Any], *, editing: bool = False) -> dict[str, Any]:
    """An endpoint, or an edit, from the dashboard's form: events as checked boxes (none
    checked: every type), own_crm a box, the rest text. A new endpoint's text left empty is
    left out; the edit form shows every field filled in, so a description emptied there is
    cleared."""
    unknown = sorted(set(fields) - {"url", "events", "own_crm", "description"})
    if unknown:
        raise InvalidInput({name: "not a field of this form" for name in unknown})
    document: dict[str, Any] = {
        name: str(fields[name]).strip()
        for name in ("url", "description")
        if str(fields.get(name, "")).strip()
    }
    if editing:
        document["description"] = str(fields.get("description", "")).strip()
    events = fields.get("events", [])
    document["events"] = [events] if isinstance(events, str) else list(events)
    document["own_crm"] = str(fields.get("own_crm", "")) in ("on", "true", "1")
    return document


def create(
    settings: Settings,
    document: Mapping[str, Any],
    now: datetime,
    organisation: str = DEFAULT_ORGANISATION,
) -> dict[str, Any]:
    """Register an endpoint of `organisation`; the answer holds its secret, in full, this once.
    Nothing is saved when anything is wrong (every problem named, 400)."""
    fields = parse_endpoint(document, allow_loopback=settings.events.allow_loopback)
    endpoint = Endpoint(
        endpoint_id=_new_id(),
        url=fields.url or "",
        secret=webhook.new_secret(),
        created_at=iso(now),
        types=fields.types or (),
        own_crm=bool(fields.own_crm),
        description=fields.description or "",
        organisation=organisation,
    )
    if not EventStore(settings).create(endpoint):  # 120 random bits: never in practice
        raise Conflict("an endpoint has that id: try again")
    logger.info(
        "endpoint registered",
        extra={"endpoint_id": endpoint.endpoint_id, "own_crm": endpoint.own_crm},
    )
    return {**view(endpoint), "secret": endpoint.secret, "note": SHOWN_ONCE}


def list_endpoints(settings: Settings, seen_by: Organiser = OWNER) -> list[dict[str, Any]]:
    """Every endpoint `seen_by` may see, paused ones first, then by address."""
    found = [
        view(endpoint)
        for endpoint in EventStore(settings).endpoints()
        if seen_by.may_see(endpoint.organisation)
    ]
    return sorted(found, key=lambda e: (e["status"] != PAUSED, e["url"], e["endpoint_id"]))


def theirs(settings: Settings, seen_by: Organiser, endpoint_id: str) -> None:
    """NotFound for an endpoint `seen_by` may not see (another organisation's), exactly as for
    one that does not exist."""
    endpoint = _existing(EventStore(settings), endpoint_id)
    if not seen_by.may_see(endpoint.organisation):
        raise NotFound(f"no endpoint {endpoint_id!r}")


def show(settings: Settings, endpoint_id: str) -> dict[str, Any]:
    """An endpoint, its latest attempts and its dead letters, newest first."""
    store = EventStore(settings)
    endpoint = _existing(store, endpoint_id)
    return {
        **view(endpoint),
        "attempts": [asdict(attempt) for attempt in store.attempts(endpoint.endpoint_id)],
        "dead_letters": [asdict(letter) for letter in store.dead_letters(endpoint.endpoint_id)],
    }


def edit(settings: Settings, endpoint_id: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """Change an endpoint's address, event types, CRM mark or description; each field given is
    set, the others stay. Nothing is saved when anything is wrong (400); 404 for none."""
    store = EventStore(settings)
    _existing(store, endpoint_id)
    change = parse_edit(document, allow_loopback=settings.events.allow_loopback)
    edited = store.edit(endpoint_id, change)
    if edited is None:
        raise NotFound(f"no endpoint {endpoint_id!r}")
    logger.info("endpoint edited", extra={"endpoint_id": endpoint_id, "fields": sorted(document)})
    return view(edited)


def pause(settings: Settings, endpoint_id: str, now: datetime) -> dict[str, Any]:
    """Send nothing more to the endpoint until it is resumed: its events become dead letters,
    to replay then. Paused again: no change."""
    store = EventStore(settings)
    endpoint = _existing(store, endpoint_id)
    if endpoint.status != PAUSED:
        store.pause(endpoint_id, PAUSED_BY_HAND, now)
        logger.info("endpoint paused", extra={"endpoint_id": endpoint_id})
    return {"endpoint_id": endpoint_id, "status": PAUSED}


def resume(settings: Settings, endpoint_id: str) -> dict[str, Any]:
    """Send events to the endpoint again, its run of failures forgotten; its dead letters
    stay, to be replayed."""
    resumed = EventStore(settings).resume(endpoint_id) if is_endpoint_id(endpoint_id) else None
    if resumed is None:
        raise NotFound(f"no endpoint {endpoint_id!r}")
    logger.info("endpoint resumed", extra={"endpoint_id": endpoint_id})
    return {"endpoint_id": endpoint_id, "status": resumed.status}


def delete(settings: Settings, endpoint_id: str) -> dict[str, Any]:
    """Forget the endpoint; nothing more is sent to it. Its log and dead letters expire."""
    if not (is_endpoint_id(endpoint_id) and EventStore(settings).delete(endpoint_id)):
        raise NotFound(f"no endpoint {endpoint_id!r}")
    logger.info("endpoint deleted", extra={"endpoint_id": endpoint_id})
    return {"endpoint_id": endpoint_id, "deleted": True}


def rotate_secret(settings: Settings, endpoint_id: str, now: datetime) -> dict[str, Any]:
    """A new secret for the endpoint, shown this once; the one it replaces still signs beside it
    for `ROTATION_OVERLAP`, so the receiver can switch without losing an event."""
    store = EventStore(settings)
    endpoint = _existing(store, endpoint_id)
    if endpoint.previous_secret and endpoint.previous_until > iso(now):
        # A second rotation would drop the secret before at once, not after its overlap.
        raise Conflict(
            f"the secret was rotated less than a day ago: the one before signs until "
            f"{endpoint.previous_until}; rotate again after that"
        )
    secret = webhook.new_secret()
    until = now + ROTATION_OVERLAP
    if not store.rotate(endpoint_id, secret, endpoint.secret, until):
        raise NotFound(f"no endpoint {endpoint_id!r}")
    logger.info("endpoint secret rotated", extra={"endpoint_id": endpoint_id})
    return {
        "endpoint_id": endpoint_id,
        "secret": secret,
        "previous_secret_signs_until": iso(until),
        "note": SHOWN_ONCE,
    }


def replay(
    settings: Settings, endpoint_id: str, document: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Send kept events to one endpoint again: ``{"event_id": ...}`` (that event, whatever its
    type), or ``{"from": ..., "to": ...}`` (ISO times; the events of that range of the types it
    takes, oldest first, at most `MAX_REPLAY`). Each is a new delivery, retried for three days
    from now. 404 for no such endpoint or event, 409 for a paused endpoint (resume it first),
    400 for a request that names neither or both, or a range in the wrong order or too full."""
    store = EventStore(settings)
    endpoint = _existing(store, endpoint_id)
    unknown = sorted(set(document) - _REPLAY_FIELDS)
    if unknown:
        raise InvalidInput(
            {name: "not a field of a replay (event_id, or from and to)" for name in unknown}
        )
    event_id = document.get("event_id")
    ranged = "from" in document or "to" in document
    if (event_id is None) == (not ranged):
        raise InvalidInput({"body": "give either event_id, or from and to"})
    if event_id is not None:
        if not isinstance(event_id, str) or not event_id:
            raise InvalidInput({"event_id": "must be an event's id (evt_...)"})
        kept = store.event(event_id)
        if kept is None or not endpoint.hears(kept.body):  # another organisation's: unknown
            raise NotFound(f"no event {event_id!r} is kept")
        events = [kept]
    else:
        start, end = _moment(document, "from"), _moment(document, "to")
        if start > end:
            raise InvalidInput({"to": "must not be before from"})
        # No event is kept before the retention or after now: the days searched are those.
        kept_since = now - timedelta(days=settings.events.retention_days + 1)
        start, end = max(start, kept_since), min(end, now)
        found = store.events_between(start, end, MAX_REPLAY) if start <= end else []
        if len(found) > MAX_REPLAY:
            raise InvalidInput(
                {"to": f"more than {MAX_REPLAY} events in that range: replay a shorter one"}
            )
        events = [kept for kept in found if endpoint.takes(kept.type) and endpoint.hears(kept.body)]
    if endpoint.status == PAUSED:
        raise Conflict("the endpoint is paused: resume it, then replay")
    give_up_at = iso(now + GIVE_UP_AFTER)
    jobs = [DeliveryJob(kept.event_id, endpoint_id, give_up_at) for kept in events]
    # An old event is kept as long as its replay's retries run, and a day more for its dead letter.
    store.keep_until([kept.event_id for kept in events], now + GIVE_UP_AFTER + timedelta(days=1))
    queues.enqueue_many(settings.events_queue_url, jobs)
    logger.info("events replayed", extra={"endpoint_id": endpoint_id, "events": len(jobs)})
    return {
        "endpoint_id": endpoint_id,
        "replayed": len(jobs),
        "event_ids": [kept.event_id for kept in events],
    }


def view(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as organisers read it: its secret reduced to a hint."""
    return {
        "endpoint_id": endpoint.endpoint_id,
        "url": endpoint.url,
        "events": list(endpoint.types) or list(EVENT_TYPES),
        "every_event": not endpoint.types,
        "own_crm": endpoint.own_crm,
        "description": endpoint.description,
        "status": endpoint.status,
        "paused_reason": endpoint.paused_reason,
        "paused_at": endpoint.paused_at,
        "failing_since": endpoint.failing_since,
        "last_delivered_at": endpoint.last_delivered_at,
        "created_at": endpoint.created_at,
        "secret_hint": secret_hint(endpoint.secret),
        "organisation": endpoint.organisation,
    }


def secret_hint(secret: str) -> str:
    return "whsec_…" + secret.rstrip("=")[-HINT_LENGTH:]


def _existing(store: EventStore, endpoint_id: str) -> Endpoint:
    endpoint = store.get(endpoint_id) if is_endpoint_id(endpoint_id) else None
    if endpoint is None:
        raise NotFound(f"no endpoint {endpoint_id!r}")
    return endpoint


def _moment(document: Mapping[str, Any], name: str) -> datetime:
    value = document.get(name)
    if not isinstance(value, str):
        raise InvalidInput({name: "is required with a range: an ISO time with its zone"})
    try:
        return parse_iso(value)
    except ValueError:
        raise InvalidInput({name: "an ISO time with its zone (2025-10-27T09:00:00Z)"}) from None


def _new_id() -> str:
    return "ep_" + base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()


def replay_from_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A replay from the dashboard's forms: a dead letter's or an attempt's button (its
    event_id), or the range form (from and to); fields left empty are left out."""
    unknown = sorted(set(fields) - _REPLAY_FIELDS)
    if unknown:
        raise InvalidInput({name: "not a field of this form" for name in unknown})
    return {name: str(value).strip() for name, value in fields.items() if str(value).strip()}
