"""The links of a reminder that count: a tracked click on the setting (or the source), and "I've
switched it off" (a conversion).

A click is redirected to the destination stored with the campaign, whatever is appended to the
link, so the bot is no open redirect. A click is never a conversion by itself (mail scanners
follow links); only a POST from the "done" page is. Each is idempotent and counted once.

In a coalition a done link names the organisation the reminder came from, and a conversion of
a campaign shared by several organisations is counted under it too (a link without one, as
every link of a deployment that serves one organisation, is the default organisation's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from optout.core import events, keys, tokens
from optout.core.clock import iso
from optout.core.errors import NotFound
from optout.core.events import EventType
from optout.core.observability import MetricUnit, metrics
from optout.core.settings import Settings
from optout.domain import ab, event_data, organisations
from optout.domain.models import (
    DEFAULT_ORGANISATION,
    UNKNOWN_REMINDER,
    Campaign,
    reminder_region,
)
from optout.links import verified
from optout.store import CampaignStore, DeliveryStore, SubscriberStore, layout


@dataclass(frozen=True)
class Done:
    """What the "I've switched it off" page shows."""

    campaign_id: str
    region: str
    subscriber_id: str
    campaign: Campaign
    locale: str
    channel: str = "email"
    # The reminder whose link this is; `UNKNOWN_REMINDER` for links minted before done links
    # named their reminder.
    reminder_id: str = ""
    # The organisation the reminder came from (links without one: the default organisation's).
    organisation: str = DEFAULT_ORGANISATION

    def page_context(self) -> dict[str, Any]:
        text = self.campaign.policy.in_language(self.locale)
        return {
            "title": text.title,
            "steps": list(text.steps),
            "setting_url": self.campaign.policy.setting_url,
        }


def _destination(campaign: Campaign | None, link: str) -> str:
    """Where a click token's link name leads: a destination stored with the campaign."""
    if campaign is None:
        return ""
    stored = {"setting": campaign.policy.setting_url, "source": campaign.policy.source_url}
    return stored.get(link, "")


# Mail and chat link scanners and previewers that say who they are in their User-Agent.
SCANNER_AGENTS = re.compile(
    r"bot\b|bot/|crawler|spider|preview|scanner|barracuda|mimecast|proofpoint|urldefense|"
    r"symantec|messagelabs|trend ?micro|forcepoint|sophos|fortiguard|ironport|safelinks|"
    r"curl/|wget/|python-|go-http-client|java/|okhttp|headlesschrome|phantomjs",
    re.IGNORECASE,
)
# A click this soon after the reminder went out is a scanner at the mail server, not a person
# who read it: nobody opens, reads and clicks in ten seconds.
SCANNER_SECONDS = 10


def by_scanner(user_agent: str) -> bool:
    """Whether a User-Agent names a link scanner or previewer (an empty one does not: a
    person's browser may be set to send none)."""
    return bool(SCANNER_AGENTS.search(user_agent))


def click(settings: Settings, token: str, now: datetime, user_agent: str = "") -> str:
    """Record a click on a tracked link; where to send the person (or the scanner).

    A link scanner's click (a known scanner's User-Agent, or one within `SCANNER_SECONDS` of
    the delivery) is counted apart, as ``scanner_clicks``: ``clicked`` counts people."""
    campaign_id, reminder_id, subscriber_id, link = verified.parts(
        settings, token, tokens.Purpose.CLICK, now, 4
    )
    campaign = CampaignStore(settings).get_campaign(campaign_id)
    destination = _destination(campaign, link)
    if not destination:
        raise NotFound("this link leads nowhere any more")
    deliveries = DeliveryStore(settings)
    scanner = by_scanner(user_agent)
    if not scanner:
        sent = deliveries.reminder_sent_at(campaign_id, reminder_id, subscriber_id)
        scanner = sent is not None and now - sent < timedelta(seconds=SCANNER_SECONDS)
    key = layout.scanner_click if scanner else layout.click
    first = deliveries.record_click(
        key(campaign_id, reminder_id, subscriber_id, link),
        now,
        campaign_id=campaign_id,
        reminder=reminder_id,
        subscriber_id=subscriber_id,
        link=link,
    )
    if first:
        counter = "scanner_clicks" if scanner else "clicked"
        CampaignStore(settings).add_stats(campaign_id, reminder_region(reminder_id), {counter: 1})
    return destination


_SHORT_CODE = re.compile(r"^[a-z2-7]{16}$")


def short_link(settings: Settings, code: str, now: datetime) -> str:
    """Where a text's short link leads: the person's done page, with a fresh done token."""
    stored = DeliveryStore(settings).short_link(code) if _SHORT_CODE.match(code) else None
    campaign = CampaignStore(settings).get_campaign(stored["campaign_id"]) if stored else None
    if stored is None or campaign is None:
        raise NotFound("this link leads nowhere any more")
    # Short codes are stored to expire with a done link sent with them.
    sent = datetime.fromtimestamp(int(stored["expires_at"]), UTC)
    verified.not_ended_by_erasure(
        settings, stored["subscriber_id"], sent - tokens.LIFETIMES[tokens.Purpose.DONE]
    )
    expires = now + tokens.LIFETIMES[tokens.Purpose.DONE]
    parts = [stored["campaign_id"], stored["region"], stored["subscriber_id"]]
    if stored.get("reminder"):
        parts.append(stored["reminder"])
        if stored.get("organisation"):
            parts.append(stored["organisation"])
    return f"{campaign.base_url}/done/{tokens.mint(keys.token_keyring(settings), tokens.Purpose.DONE, parts, expires)}"


def done_link(settings: Settings, token: str, now: datetime) -> Done:
    """What a "done" link names; raises if the link or its campaign is not valid."""
    campaign_id, region, subscriber_id, *later = verified.parts(
        settings, token, tokens.Purpose.DONE, now, 3, optional=2
    )
    campaign = CampaignStore(settings).get_campaign(campaign_id)
    subscriber = SubscriberStore(settings).get(subscriber_id)
    if campaign is None or subscriber is None:
        raise NotFound("we no longer hold this subscription")
    return Done(
        campaign_id,
        region,
        subscriber_id,
        campaign,
        subscriber.locale,
        subscriber.channel,
        later[0] if later else UNKNOWN_REMINDER,
        later[1] if len(later) > 1 else DEFAULT_ORGANISATION,
    )


def confirm_done(settings: Settings, token: str, now: datetime) -> Done:
    """The person switched it off: no more reminders of this campaign, one conversion."""
    done = done_link(settings, token, now)
    first = SubscriberStore(settings).mark_done(done.subscriber_id, done.campaign_id, now)
    if first is None:
        raise NotFound("we no longer hold this subscription")
    if first:
        campaigns = CampaignStore(settings)
        campaigns.add_stats(done.campaign_id, done.region, {"confirmed": 1})
        campaigns.add_to_timeline(done.campaign_id, now, {"confirmed": 1})
        counted = {
            ("reminder", done.reminder_id): {"confirmed": 1},
            ("language", done.locale): {"confirmed": 1},
            ("channel", done.channel): {"confirmed": 1},
        }
        shared = organisations.in_coalition(done.campaign)
        if shared:
            counted[("organisation", done.organisation)] = {"confirmed": 1}
        if done.campaign.ab_tests and done.reminder_id != UNKNOWN_REMINDER:
            # The variant of an A/B-tested reminder that went to them, as its claim recorded it.
            sent = DeliveryStore(settings).variant_sent(
                done.campaign_id, done.reminder_id, done.subscriber_id, done.channel
            )
            if sent is not None:
                value = ab.breakdown_value(done.reminder_id, *sent)
                counted[("variant", value)] = {"confirmed": 1}
        campaigns.add_breakdowns(done.campaign_id, counted)
        metrics.add_metric(name="SwitchedOff", unit=MetricUnit.Count, value=1)
        events.emit(
            settings,
            EventType.CONVERSION_RECORDED,
            event_data.conversion_recorded(
                done.campaign_id,
                done.subscriber_id,
                done.region,
                done.reminder_id,
                done.channel,
                iso(now),
                done.organisation if shared else "",
            ),
            now,
            key=event_data.key(done.campaign_id, done.subscriber_id),
        )
    return done
