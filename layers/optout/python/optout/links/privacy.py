"""A person's own data: the link to their privacy page, what is kept about them, and its erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from optout.core import events, keys, tokens
from optout.core.clock import iso
from optout.core.errors import NotFound
from optout.core.events import EventType
from optout.core.observability import MetricUnit, metrics
from optout.core.settings import Settings
from optout.domain import consent, event_data
from optout.links import verified
from optout.store import SubscriberStore, plain

# The key of the consent evidence in what `stored_data` gives (no stored field is named so).
EVIDENCE = "consent_evidence"


def privacy_link(settings: Settings, subscriber_id: str, base_url: str, now: datetime) -> str:
    """A link to the person's own privacy page."""
    expires = now + tokens.LIFETIMES[tokens.Purpose.PRIVACY]
    return f"{base_url}/privacy/{tokens.mint(keys.token_keyring(settings), tokens.Purpose.PRIVACY, [subscriber_id], expires)}"


def stored_data(settings: Settings, token: str, now: datetime) -> dict[str, Any]:
    """Everything the bot keeps about the person the link names, as stored, and beside it
    (``consent_evidence``) the evidence of their consent as `domain.consent` reads it: how they
    subscribed, on which wording, when, with which privacy notice (None: not recorded)."""
    (subscriber_id,) = verified.parts(settings, token, tokens.Purpose.PRIVACY, now, 1)
    kept = SubscriberStore(settings).kept(subscriber_id)
    if kept is None:
        raise NotFound("we hold nothing about you under this link")
    stored, subscriber = kept
    data = {name: plain(value) for name, value in sorted(stored.items())}
    data[EVIDENCE] = consent.evidence(subscriber).as_dict()
    return data


def erase(settings: Settings, token: str, now: datetime) -> str:
    """Erase the person the link names (idempotent: a second erasure finds nothing). Returns
    the language they read, learnt before it is erased, for the page that answers."""
    (subscriber_id,) = verified.parts(settings, token, tokens.Purpose.PRIVACY, now, 1)
    locale = verified.locale_of(settings, subscriber_id)
    if SubscriberStore(settings).erase(subscriber_id, "erased at the person's request", now):
        metrics.add_metric(name="Erased", unit=MetricUnit.Count, value=1)
        events.emit(
            settings,
            EventType.SUBSCRIBER_ERASED,
            event_data.subscriber_erased(subscriber_id, iso(now)),
            now,
            key=event_data.key(subscriber_id, iso(now)),
        )
    return locale
