"""A link's token, checked: signed by us, for this kind of link, with the parts it should have,
and issued after the last erasure of the person it names.

Every link carries a signed, purpose-bound token naming opaque ids, never a URL or a contact.
"""

from __future__ import annotations

from datetime import datetime

from optout.core import keys, tokens
from optout.core.errors import TokenExpired, TokenInvalid
from optout.core.settings import Settings
from optout.domain.locales import DEFAULT_LOCALE
from optout.store import SubscriberStore


def parts(
    settings: Settings,
    token: str,
    purpose: tokens.Purpose,
    now: datetime,
    count: int,
    optional: int = 0,
) -> tuple[str, ...]:
    """The parts of a valid link of `purpose` with `count` parts (and up to `optional` more
    after them, which links minted later carry), whose subscriber (the third part, or the
    only one) has not erased it since."""
    parts = tokens.verify(keys.token_keyring(settings), token, purpose, now)
    if not count <= len(parts) <= count + optional:
        raise TokenInvalid("this link is not one of ours")
    subscriber_id = parts[2] if count >= 3 else parts[0]
    not_ended_by_erasure(
        settings, subscriber_id, tokens.issued_at(token, tokens.LIFETIMES[purpose])
    )
    return parts


def not_ended_by_erasure(settings: Settings, subscriber_id: str, issued: datetime) -> None:
    """Refuse a link issued before the person erased their data: the same contact may have
    subscribed again since (a recycled phone number), and the old link must not reach them."""
    ended = SubscriberStore(settings).links_ended_at(subscriber_id)
    if ended is not None and issued <= ended:
        raise TokenExpired("this link ended when the data it led to was erased")


def locale_of(settings: Settings, subscriber_id: str) -> str:
    """The language the person reads, for the page a link opens."""
    subscriber = SubscriberStore(settings).get(subscriber_id)
    return subscriber.locale if subscriber else DEFAULT_LOCALE
