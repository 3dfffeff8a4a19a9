"""Unsubscribe links (RFC 8058 one-click too): every message to the person ends, at once and for
good, and the campaign it came with counts it.
"""

from __future__ import annotations

from datetime import datetime

from optout.core import keys, tokens
from optout.core.errors import TokenInvalid
from optout.core.observability import MetricUnit, metrics
from optout.core.settings import Settings
from optout.links import verified
from optout.store import CampaignStore, SubscriberStore


def check_unsubscribe(settings: Settings, token: str, now: datetime) -> tuple[str, ...]:
    """The parts of a valid unsubscribe token: the subscriber, then campaign and region when
    it came with a reminder."""
    parts = tokens.verify(keys.token_keyring(settings), token, tokens.Purpose.UNSUBSCRIBE, now)
    if len(parts) not in (1, 3):
        raise TokenInvalid("this link is not one of ours")
    issued = tokens.issued_at(token, tokens.LIFETIMES[tokens.Purpose.UNSUBSCRIBE])
    verified.not_ended_by_erasure(settings, parts[0], issued)
    return parts


def unsubscribe_locale(settings: Settings, token: str, now: datetime) -> str:
    """The language of the person a valid unsubscribe link names, for the page it opens."""
    subscriber_id, *_ = check_unsubscribe(settings, token, now)
    return verified.locale_of(settings, subscriber_id)


def unsubscribe(settings: Settings, token: str, now: datetime) -> str:
    """End every message to this subscriber, at once and for good (idempotent). Returns the
    language they read, for the page that answers."""
    subscriber_id, *campaign_region = check_unsubscribe(settings, token, now)
    if SubscriberStore(settings).unsubscribe(subscriber_id, now):
        metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
        if campaign_region:
            CampaignStore(settings).add_stats(
                campaign_region[0], campaign_region[1], {"unsubscribed": 1}
            )
    return verified.locale_of(settings, subscriber_id)
