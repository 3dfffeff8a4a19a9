"""Unsubscribe links (RFC 8058 one-click too): the messages the link came with end, at once and
for good, and the campaign it came with counts it.

A reminder's link names the organisation it came from (its token's fourth part): pressed, it
ends that organisation's messages only, while the person stays subscribed to the others they
joined (`SubscriberStore.leave`). A link without one (a confirmation's page, and every link
minted before coalitions) ends every message to the person, as it always did.
"""

from __future__ import annotations

from datetime import datetime

from optout.core import events, keys, tokens
from optout.core.clock import iso
from optout.core.errors import TokenInvalid
from optout.core.events import EventType
from optout.core.observability import MetricUnit, metrics
from optout.core.settings import Settings
from optout.domain import event_data
from optout.domain.locales import DEFAULT_LOCALE
from optout.domain.models import Status
from optout.domain.organisations import DEFAULT
from optout.links import verified
from optout.store import CampaignStore, OrganisationStore, SubscriberStore


def check_unsubscribe(settings: Settings, token: str, now: datetime) -> tuple[str, ...]:
    """The parts of a valid unsubscribe token: the subscriber, then campaign and region when
    it came with a reminder, then the organisation it came from (in links minted since
    coalitions)."""
    parts = tokens.verify(keys.token_keyring(settings), token, tokens.Purpose.UNSUBSCRIBE, now)
    if len(parts) not in (1, 3, 4):
        raise TokenInvalid("this link is not one of ours")
    issued = tokens.issued_at(token, tokens.LIFETIMES[tokens.Purpose.UNSUBSCRIBE])
    verified.not_ended_by_erasure(settings, parts[0], issued)
    return parts


def unsubscribe_locale(settings: Settings, token: str, now: datetime) -> str:
    """The language of the person a valid unsubscribe link names, for the page it opens."""
    subscriber_id, *_ = check_unsubscribe(settings, token, now)
    return verified.locale_of(settings, subscriber_id)


def page_context(settings: Settings, token: str, now: datetime) -> dict[str, str]:
    """What the unsubscribe pages say of a valid link: whose messages stop (``organisation``,
    the name of the one the link came from; none for a link that ends every message, nor for
    a person of the default organisation alone, whose pages read as they always did)."""
    parts = check_unsubscribe(settings, token, now)
    organisation = _organisation(parts)
    if organisation is None:
        return {}
    if organisation == DEFAULT:
        subscriber = SubscriberStore(settings).get(parts[0])
        if subscriber is None or not subscriber.memberships:
            return {}
    return {"organisation": OrganisationStore(settings).name_of(organisation)}


def unsubscribe(settings: Settings, token: str, now: datetime, how: str = event_data.LINK) -> str:
    """End the messages of this link, at once and for good (idempotent): its organisation's,
    or every message to the person. Returns the language they read, for the page that
    answers. `how`: the page's button (`event_data.LINK`) or a mail client's one-click POST
    (`event_data.ONE_CLICK`: `how_sent`)."""
    parts = check_unsubscribe(settings, token, now)
    subscriber_id, campaign_region = parts[0], parts[1:3]
    subscribers = SubscriberStore(settings)
    left = subscribers.leave(subscriber_id, now, _organisation(parts))
    if left is not None:
        metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
        if campaign_region:
            CampaignStore(settings).add_stats(
                campaign_region[0], campaign_region[1], {"unsubscribed": 1}
            )
    subscriber = subscribers.get(subscriber_id)
    if left is not None and left.status is Status.ACTIVE and subscriber is not None:
        # told of once, if they were active
        events.emit(
            settings,
            EventType.SUBSCRIBER_UNSUBSCRIBED,
            event_data.subscriber_unsubscribed(
                subscriber_id,
                subscriber.channel,
                how,
                iso(now),
                campaign_region[0] if campaign_region else "",
                organisations=left.organisations,
            ),
            now,
            key=event_data.key(subscriber_id, iso(now)),
        )
    return subscriber.locale if subscriber else DEFAULT_LOCALE


def _organisation(parts: tuple[str, ...]) -> str | None:
    """The organisation a link's parts name, None for a link that names none (every one)."""
    return parts[3] if len(parts) == 4 else None


def how_sent(body: bytes) -> str:
    """How an unsubscribe POST was sent: a mail client's RFC 8058 one-click POST carries
    ``List-Unsubscribe=One-Click`` (url-encoded or multipart); the page's button, nothing."""
    return event_data.ONE_CLICK if b"One-Click" in body else event_data.LINK
