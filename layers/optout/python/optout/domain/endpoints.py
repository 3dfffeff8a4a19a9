"""Endpoints of the organisers' own tools, and what the events function does for each event sent
to them: the records, the rules of what an organiser may declare, and the two rules of delivery
(when to try again, when to pause an endpoint). Pure: no AWS, no HTTP.

An endpoint is an https address, a ``whsec_`` secret (two while it rotates), the event types it
takes (none named: every type), whether it is the organisation's own CRM (the only kind that is
sent a person's contact, in ``subscriber.confirmed`` only), and whether it is active or paused.
It belongs to the organisation of whoever registered it: an endpoint of the default organisation
(the coalition owner's tools) is sent every event, any other only the events that name its
organisation (`hears`), so that a CRM is sent no contact of another organisation's people.

**Retries** (`retry_delay`, `next_try`): after a failure that may pass (408, 429, 5xx, a timeout,
a connection refused or broken), the next attempt waits `FIRST_DELAY` doubled each time, at
least what a Retry-After asked, at most `MAX_DELAY`; attempts go on until `GIVE_UP_AFTER` after
the event was fanned out (or replayed): 20 attempts in those 3 days. A receiver down for
a weekend still gets every event, in order of their first try.

**Pause** (`should_pause`): an endpoint whose every attempt has failed for `PAUSE_AFTER` (no
2xx since the first failure of the run, 24 hours ago or more) is paused at its next failure,
and the organisers are emailed once. While paused, nothing is sent to it: each event for it
becomes a dead letter ("endpoint paused"), kept for replay once it is resumed.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from optout.core.clock import parse_iso
from optout.core.errors import InvalidInput
from optout.core.event_types import EVENT_TYPES
from optout.domain.event_data import organisations_named
from optout.domain.models import DEFAULT_ORGANISATION

ACTIVE = "active"
PAUSED = "paused"
MAX_URL = 2000
MAX_DESCRIPTION = 200
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_FIELDS = ("url", "events", "own_crm", "description")
_ENDPOINT_ID = re.compile(r"^ep_[a-z2-7]{1,40}$")

FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)
GIVE_UP_AFTER = timedelta(days=3)
PAUSE_AFTER = timedelta(hours=24)
# How long a rotated-out secret still signs beside the new one, for the receiver to switch.
ROTATION_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: str
    url: str
    secret: str  # whsec_...
    created_at: str
    types: tuple[str, ...] = ()  # the event types it takes; empty: every type
    own_crm: bool = False  # the organisation's own CRM: sent the contact in subscriber.confirmed
    description: str = ""
    status: str = ACTIVE
    paused_reason: str = ""
    paused_at: str = ""
    failing_since: str = ""  # the first failed attempt since the last 2xx; "" when none
    last_delivered_at: str = ""
    previous_secret: str = ""  # the secret before a rotation, still signing until...
    previous_until: str = ""
    organisation: str = DEFAULT_ORGANISATION  # whose it is: who registered it

    def takes(self, type: str) -> bool:
        return not self.types or type in self.types

    def hears(self, body: str) -> bool:
        """Whether an event (its JSON `body`) is its organisation's to hear: every event for
        the default organisation's endpoints, else those whose data names its organisation."""
        if self.organisation == DEFAULT_ORGANISATION:
            return True
        try:
            payload = json.loads(body)
        except ValueError:
            return False
        data = payload.get("data") if isinstance(payload, dict) else None
        return isinstance(data, dict) and self.organisation in organisations_named(data)

    def signing_secrets(self, now: datetime) -> str:
        """The secrets a delivery at `now` is signed with, space-separated (Standard Webhooks
        sends one signature per secret): the current one, and the one before it for
        `ROTATION_OVERLAP` after a rotation."""
        if self.previous_secret and self.previous_until and now < parse_iso(self.previous_until):
            return f"{self.secret} {self.previous_secret}"
        return self.secret


@dataclass(frozen=True)
class KeptEvent:
    """An event as kept for replay: its id, type, when it happened, and its exact body."""

    event_id: str
    type: str
    at: str
    body: str


@dataclass(frozen=True)
class Attempt:
    """One attempt to deliver an event to an endpoint, as the log of recent deliveries shows it.
    `status` is the HTTP status (0: no answer), `answer` a short excerpt of the answer's body,
    or why no answer came; `outcome` what followed: delivered, retried, dead-lettered."""

    endpoint_id: str
    event_id: str
    type: str
    at: str
    attempt: int
    status: int
    answer: str
    duration_ms: int
    outcome: str


@dataclass(frozen=True)
class DeadLetter:
    """An event an endpoint did not get, and why; replayable while the event is kept."""

    endpoint_id: str
    event_id: str
    type: str
    at: str
    reason: str
    attempts: int


@dataclass(frozen=True)
class EndpointEdit:
    """What an organiser changes of an endpoint: None leaves a field as it is."""

    url: str | None = None
    types: tuple[str, ...] | None = None
    own_crm: bool | None = None
    description: str | None = None


def retry_delay(attempt: int, retry_after: float | None = None) -> timedelta:
    """How long to wait after failed attempt `attempt` (counting from 0) before the next:
    `FIRST_DELAY` doubled each time, at least the receiver's Retry-After, at most `MAX_DELAY`."""
    if attempt < 0:
        raise ValueError("attempts count from 0")
    wait = FIRST_DELAY * (1 << min(attempt, 20))
    if retry_after is not None and retry_after > 0:
        wait = max(wait, timedelta(seconds=math.ceil(retry_after)))
    return min(wait, MAX_DELAY)


def next_try(
    attempt: int, failed_at: datetime, give_up_at: datetime, retry_after: float | None = None
) -> datetime | None:
    """When to try again after failed attempt `attempt`, or None when that would be past
    `give_up_at` (the event becomes a dead letter)."""
    at = failed_at + retry_delay(attempt, retry_after)
    return at if at <= give_up_at else None


def should_pause(failing_since: datetime | None, now: datetime) -> bool:
    """Whether an endpoint that has just failed again is paused: when every attempt since
    `failing_since` failed, and that was `PAUSE_AFTER` ago or more."""
    return failing_since is not None and now - failing_since >= PAUSE_AFTER


def is_endpoint_id(text: str) -> bool:
    return bool(_ENDPOINT_ID.match(text))


def parse_endpoint(document: Mapping[str, Any], *, allow_loopback: bool) -> EndpointEdit:
    """A new endpoint's fields, as an organiser declares them: `url` (required), `events` (a
    list of event types; none or empty: every type), `own_crm` (false) and `description`.
    `InvalidInput` names every problem."""
    edit = parse_edit(document, allow_loopback=allow_loopback)
    if edit.url is None:
        raise InvalidInput({"url": "is required: the https address to send events to"})
    return edit


def parse_edit(document: Mapping[str, Any], *, allow_loopback: bool) -> EndpointEdit:
    """The fields an organiser changes, each optional; `InvalidInput` names every problem."""
    problems: dict[str, str] = {}
    for name in sorted(set(document) - set(_FIELDS)):
        problems[name] = f"not a field of an endpoint (its fields: {', '.join(_FIELDS)})"
    url = document.get("url")
    if url is not None:
        if not isinstance(url, str):
            problems["url"] = "must be text"
        else:
            url = url.strip()
            problem = address_problem(url, allow_loopback=allow_loopback)
            if problem:
                problems["url"] = problem
    types: tuple[str, ...] | None = None
    raw_types = document.get("events")
    if raw_types is not None:
        if not isinstance(raw_types, list) or not all(isinstance(t, str) for t in raw_types):
            problems["events"] = "must be a list of event types"
        else:
            unknown = sorted(set(raw_types) - set(EVENT_TYPES))
            if unknown:
                problems["events"] = (
                    f"unknown event types {', '.join(unknown)}: each is one of "
                    + ", ".join(EVENT_TYPES)
                )
            types = tuple(t for t in EVENT_TYPES if t in raw_types)
    own_crm = document.get("own_crm")
    if own_crm is not None and not isinstance(own_crm, bool):
        problems["own_crm"] = "must be true or false"
    description = document.get("description")
    if description is not None:
        if not isinstance(description, str):
            problems["description"] = "must be text"
        elif len(description) > MAX_DESCRIPTION:
            problems["description"] = f"at most {MAX_DESCRIPTION} characters"
        else:
            description = description.strip()
    if problems:
        raise InvalidInput(problems)
    return EndpointEdit(
        url=url if isinstance(url, str) else None,
        types=types,
        own_crm=own_crm if isinstance(own_crm, bool) else None,
        description=description if isinstance(description, str) else None,
    )


def address_problem(url: str, *, allow_loopback: bool) -> str:
    """What is wrong with an endpoint's address, or "": it must be https on port 443, and not an
    IP address of a private, loopback or link-local network (http and any port on 127.0.0.1,
    ::1 or localhost when `allow_loopback`, the local stack). Where a host name leads is
    checked at each delivery, address by address (`optout.channels.outbound`)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not an address"
    local = allow_loopback and parts.hostname in _LOOPBACK
    if not url or len(url) > MAX_URL or any(character.isspace() for character in url):
        return f"an address of at most {MAX_URL} characters, without spaces"
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        return "an https address"
    if not parts.hostname or parts.username or parts.password:
        return "an https address with a host name and no user name or password"
    if not local and port not in (None, 443):
        return f"port {port} is never reached: events go to the standard https port (443) only"
    if not local and (parts.hostname in _LOOPBACK or _private_ip(parts.hostname)):
        return "an address on a private or local network is never reached"
    return ""


def _private_ip(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False
