"""What subscribers do with the links of a reminder: open the setting (a tracked click), say
"I've switched it off" (a conversion), or unsubscribe (RFC 8058 one-click too).

Every link carries a signed, purpose-bound token naming opaque ids, never a URL: a click is
redirected to the destination stored with the campaign, whatever is appended to the link, so
the bot is no open redirect. A click is never a conversion by itself (mail scanners follow
links); only a POST from the "done" page is. Each action is idempotent and counted once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from optout import keys, tokens
from optout.errors import NotFound, TokenExpired, TokenInvalid
from optout.locales import DEFAULT_LOCALE
from optout.models import reminder_region
from optout.observability import MetricUnit, metrics
from optout.policy import policy_from
from optout.settings import Settings
from optout.store import CampaignStore, DeliveryStore, SubscriberStore, layout, plain

# The destinations a click token may name, and where each is stored with the campaign.
_DESTINATIONS = {"setting": "setting_url", "source": "source_url"}


@dataclass(frozen=True)
class Done:
    """What the "I've switched it off" page shows."""

    campaign_id: str
    region: str
    subscriber_id: str
    campaign: dict[str, Any]
    locale: str

    def page_context(self) -> dict[str, Any]:
        text = policy_from(self.campaign["policy"]).in_language(self.locale)
        return {
            "title": text.title,
            "steps": list(text.steps),
            "setting_url": self.campaign["policy"]["setting_url"],
        }


def _parts(
    settings: Settings, token: str, purpose: tokens.Purpose, now: datetime, count: int
) -> tuple[str, ...]:
    """The parts of a valid link of `purpose` with `count` parts, whose subscriber (the
    last part but for a click's link name, or the only one) has not erased it since."""
    parts = tokens.verify(keys.token_keyring(settings), token, purpose, now)
    if len(parts) != count:
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


def click(settings: Settings, token: str, now: datetime) -> str:
    """Record a click on a tracked link; where to send the person."""
    campaign_id, reminder_id, subscriber_id, link = _parts(
        settings, token, tokens.Purpose.CLICK, now, 4
    )
    campaign = CampaignStore(settings).get_campaign(campaign_id)
    destination = (campaign or {}).get("policy", {}).get(_DESTINATIONS.get(link, ""), "")
    if not destination:
        raise NotFound("this link leads nowhere any more")
    first = DeliveryStore(settings).record_click(
        layout.click(campaign_id, reminder_id, subscriber_id, link),
        now,
        campaign_id=campaign_id,
        reminder=reminder_id,
        subscriber_id=subscriber_id,
        link=link,
    )
    if first:
        CampaignStore(settings).add_stats(campaign_id, reminder_region(reminder_id), {"clicked": 1})
    return str(destination)


_SHORT_CODE = re.compile(r"^[a-z2-7]{16}$")


def short_link(settings: Settings, code: str, now: datetime) -> str:
    """Where a text's short link leads: the person's done page, with a fresh done token."""
    stored = DeliveryStore(settings).short_link(code) if _SHORT_CODE.match(code) else None
    campaign = CampaignStore(settings).get_campaign(stored["campaign_id"]) if stored else None
    if stored is None or campaign is None:
        raise NotFound("this link leads nowhere any more")
    # Short codes are stored to expire with a done link sent with them.
    sent = datetime.fromtimestamp(int(stored["expires_at"]), UTC)
    not_ended_by_erasure(
        settings, stored["subscriber_id"], sent - tokens.LIFETIMES[tokens.Purpose.DONE]
    )
    expires = now + tokens.LIFETIMES[tokens.Purpose.DONE]
    parts = [stored["campaign_id"], stored["region"], stored["subscriber_id"]]
    return f"{campaign['base_url']}/done/{tokens.mint(keys.token_keyring(settings), tokens.Purpose.DONE, parts, expires)}"


def done_link(settings: Settings, token: str, now: datetime) -> Done:
    """What a "done" link names; raises if the link or its campaign is not valid."""
    campaign_id, region, subscriber_id = _parts(settings, token, tokens.Purpose.DONE, now, 3)
    campaign = CampaignStore(settings).get_campaign(campaign_id)
    subscriber = SubscriberStore(settings).get(subscriber_id)
    if campaign is None or subscriber is None:
        raise NotFound("we no longer hold this subscription")
    return Done(campaign_id, region, subscriber_id, campaign, subscriber.locale)


def confirm_done(settings: Settings, token: str, now: datetime) -> Done:
    """The person switched it off: no more reminders of this campaign, one conversion."""
    done = done_link(settings, token, now)
    first = SubscriberStore(settings).mark_done(done.subscriber_id, done.campaign_id, now)
    if first is None:
        raise NotFound("we no longer hold this subscription")
    if first:
        CampaignStore(settings).add_stats(done.campaign_id, done.region, {"confirmed": 1})
        CampaignStore(settings).add_to_timeline(done.campaign_id, now, {"confirmed": 1})
        metrics.add_metric(name="SwitchedOff", unit=MetricUnit.Count, value=1)
    return done


def privacy_link(settings: Settings, subscriber_id: str, base_url: str, now: datetime) -> str:
    """A link to the person's own privacy page."""
    expires = now + tokens.LIFETIMES[tokens.Purpose.PRIVACY]
    return f"{base_url}/privacy/{tokens.mint(keys.token_keyring(settings), tokens.Purpose.PRIVACY, [subscriber_id], expires)}"


def stored_data(settings: Settings, token: str, now: datetime) -> dict[str, Any]:
    """Everything the bot keeps about the person the link names."""
    (subscriber_id,) = _parts(settings, token, tokens.Purpose.PRIVACY, now, 1)
    stored = SubscriberStore(settings).stored(subscriber_id)
    if stored is None:
        raise NotFound("we hold nothing about you under this link")
    return {name: plain(value) for name, value in sorted(stored.items())}


def erase(settings: Settings, token: str, now: datetime) -> str:
    """Erase the person the link names (idempotent: a second erasure finds nothing). Returns
    the language they read, learnt before it is erased, for the page that answers."""
    (subscriber_id,) = _parts(settings, token, tokens.Purpose.PRIVACY, now, 1)
    locale = _locale_of(settings, subscriber_id)
    if SubscriberStore(settings).erase(subscriber_id, "erased at the person's request", now):
        metrics.add_metric(name="Erased", unit=MetricUnit.Count, value=1)
    return locale


def _locale_of(settings: Settings, subscriber_id: str) -> str:
    subscriber = SubscriberStore(settings).get(subscriber_id)
    return subscriber.locale if subscriber else DEFAULT_LOCALE


def check_unsubscribe(settings: Settings, token: str, now: datetime) -> tuple[str, ...]:
    """The parts of a valid unsubscribe token: the subscriber, then campaign and region when
    it came with a reminder."""
    parts = tokens.verify(keys.token_keyring(settings), token, tokens.Purpose.UNSUBSCRIBE, now)
    if len(parts) not in (1, 3):
        raise TokenInvalid("this link is not one of ours")
    issued = tokens.issued_at(token, tokens.LIFETIMES[tokens.Purpose.UNSUBSCRIBE])
    not_ended_by_erasure(settings, parts[0], issued)
    return parts


def unsubscribe_locale(settings: Settings, token: str, now: datetime) -> str:
    """The language of the person a valid unsubscribe link names, for the page it opens."""
    subscriber_id, *_ = check_unsubscribe(settings, token, now)
    return _locale_of(settings, subscriber_id)


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
    return _locale_of(settings, subscriber_id)
