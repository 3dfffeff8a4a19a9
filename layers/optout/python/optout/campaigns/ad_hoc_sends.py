"""Ad-hoc sends: a one-off message from the organisers to a segment of subscribers (regions,
platforms, channel, languages, or the people who said "I've switched it off" in one campaign)
at a time they choose. "Check it again" (`optout.watching.follow_up`) is one, with its own
templates: it plans through `prepare` and `save`.

An announcement is a campaign with one reminder per region, all due at `send_at`, marked with
the message template ``announcement`` and a segment the fan-out filters on. So it goes through
the same scheduler, fan-out and sender as every reminder: the same claims (nobody gets it twice),
quiet hours for texts, pacing, pausing, counters and dashboard. Its text is checked before
anything is stored: it must render in every language, and its text message fit two segments.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from optout.core import json_body
from optout.core.clock import iso, parse_iso
from optout.core.errors import Conflict, InvalidInput
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain import plan, policy, regions
from optout.domain.contacts import CHANNELS
from optout.domain.locales import SUPPORTED_LOCALES
from optout.domain.models import (
    DEFAULT_ORGANISATION,
    Campaign,
    CampaignStatus,
    Policy,
    Reminder,
    ReminderState,
    Segment,
)
from optout.messages import reminders
from optout.messages.render import RenderError
from optout.store import CampaignStore

TEMPLATE = "announcement"
KIND = plan.ANNOUNCEMENT_KIND
LATEST_START = timedelta(days=365)
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")  # a campaign's id (the policy-change schema's)
FIELDS = {"id", "send_at", "regions", "platforms", "channel", "locales", "converted_in", "message"}


def create(
    settings: Settings,
    body: bytes,
    *,
    base_url: str,
    now: datetime,
    organisation: str = DEFAULT_ORGANISATION,
) -> dict[str, Any]:
    """Validate an ad-hoc send, check that it renders, and plan it, `organisation`'s; a
    summary."""
    document = json_body.parse_object(body)
    problems: dict[str, str] = {}
    unknown = sorted(set(document) - FIELDS)
    for name in unknown:
        problems[name] = "not a field of an ad-hoc send"
    send_at = _send_at(document.get("send_at"), now, problems)
    segment, region_codes = _segment(settings, document, problems)
    campaign_id = document.get("id", f"message-{now:%Y%m%d}-{secrets.token_hex(3)}")
    if not isinstance(campaign_id, str):  # found by schemathesis: {} was taken for "make one"
        problems["id"] = "lower-case letters, digits and dashes, or leave it out for one made up"
        campaign_id = "not-given"
    message = document.get("message")
    text = None
    if not isinstance(message, dict):
        problems["message"] = (
            "give the message: title, summary, and optionally short_title (for texts; made from "
            "the title when left out), steps, setting_url, translations"
        )
    else:
        text = _message(campaign_id, message, problems)
    if problems or text is None or send_at is None:
        raise InvalidInput(problems or {"message": "not a valid message"})
    places = [regions.resolve(str(code)) for code in region_codes]
    store = CampaignStore(settings)
    if store.get_campaign(campaign_id) is not None:
        raise Conflict(f"there is already a campaign or send {campaign_id!r}")
    campaign = Campaign(
        campaign_id=campaign_id,
        platform=",".join(segment.platforms) or "all",
        policy=text,
        status=CampaignStatus.ACTIVE,
        regions={place.code: iso(send_at) for place in places},
        offsets_days=(0,),
        local_hour=0,
        base_url=base_url,
        message=TEMPLATE,
        organisation=organisation,
    )
    planned = prepare(settings, campaign, places, segment, send_at)
    save(settings, campaign, planned, now)
    return {"campaign_id": campaign_id, "send_at": iso(send_at), "regions": len(planned)}


def prepare(
    settings: Settings,
    campaign: Campaign,
    places: list[regions.Region],
    segment: Segment,
    send_at: datetime,
) -> list[Reminder]:
    """The one reminder per region of an ad-hoc send `campaign` (its `message` names its
    templates), each checked to render in every language: `InvalidInput` if one does not.
    Nothing is stored."""
    planned = _reminders(campaign.campaign_id, places, segment, send_at)
    for reminder in planned:
        _check_renders(settings, campaign, reminder, send_at)
    return planned


def save(settings: Settings, campaign: Campaign, planned: list[Reminder], now: datetime) -> None:
    """Store a prepared send: the scheduler starts each reminder when it is due."""
    store = CampaignStore(settings)
    store.save_campaign(campaign, now)
    for reminder in planned:
        store.save_unsent_reminder(reminder)
    logger.info(
        "ad-hoc send planned", extra={"campaign_id": campaign.campaign_id, "regions": len(planned)}
    )


def _send_at(raw: object, now: datetime, problems: dict[str, str]) -> datetime | None:
    try:
        moment = parse_iso(str(raw))
    except (TypeError, ValueError):
        problems["send_at"] = "an ISO 8601 time with its offset, like 2025-10-30T09:00:00+01:00"
        return None
    if moment < now - timedelta(minutes=5):
        problems["send_at"] = "is in the past"
    elif moment > now + LATEST_START:
        problems["send_at"] = "is more than a year ahead"
    return max(moment, now)


def _segment(
    settings: Settings, document: dict[str, Any], problems: dict[str, str]
) -> tuple[Segment, list[Any]]:
    """Whom the send narrows to, and the regions it goes to."""
    platforms = document.get("platforms", [])
    if not isinstance(platforms, list) or not all(
        isinstance(p, str) and p.isascii() and p.replace("-", "").isalnum() for p in platforms
    ):
        problems["platforms"] = 'a list of platform slugs, like ["linkedin"]'
        platforms = []
    channel = document.get("channel")
    if channel not in (None, *CHANNELS):
        problems["channel"] = "email, sms, or leave it out for both"
    locales = document.get("locales", [])
    if not isinstance(locales, list) or not all(code in SUPPORTED_LOCALES for code in locales):
        problems["locales"] = f"a list of languages among {', '.join(SUPPORTED_LOCALES)}"
        locales = []
    region_codes = document.get("regions")
    if not isinstance(region_codes, list) or not region_codes:
        problems["regions"] = 'a list of regions or countries, like ["EU", "CA"]'
    else:
        for index, code in enumerate(region_codes):
            try:
                regions.resolve(str(code))
            except InvalidInput as error:
                problems[f"regions[{index}]"] = error.message
    converted_in = document.get("converted_in", "")
    if not isinstance(converted_in, str) or not (
        converted_in == "" or _converts(settings, converted_in)
    ):
        problems["converted_in"] = (
            "the id of a campaign: only the people who said they switched it off in it"
        )
        converted_in = ""
    segment = Segment(
        platforms=tuple(sorted(set(platforms))),
        channel=channel,
        locales=tuple(sorted(set(locales))),
        converted_in=converted_in,
    )
    return segment, region_codes if isinstance(region_codes, list) else []


def _converts(settings: Settings, campaign_id: str) -> bool:
    """Whether `campaign_id` names a campaign (not an ad-hoc send) people may have converted in."""
    campaign = CampaignStore(settings).get_campaign(campaign_id) if _ID.match(campaign_id) else None
    return campaign is not None and campaign.message == "reminder"


def _message(campaign_id: str, message: dict[str, Any], problems: dict[str, str]) -> Policy | None:
    """The message, checked by the webhook schema's rules for a policy's text; unlike a policy
    it needs no steps and no setting link."""
    try:
        return policy.parse_text(
            {**message, "id": campaign_id}, where="message", required=("title",)
        )
    except InvalidInput as error:
        problems.update(error.problems)
        return None


def _reminders(
    campaign_id: str, places: list[regions.Region], segment: Segment, send_at: datetime
) -> list[Reminder]:
    audiences = plan.audiences(places)
    return [
        Reminder(
            campaign_id=campaign_id,
            region=place.code,
            days_before=0,
            kind=KIND,
            deadline=iso(send_at),
            due_at=iso(send_at),
            state=ReminderState.PENDING,
            platform="",
            audience=audiences[place.code],
            segment=segment,
        )
        for place in places
    ]


def _check_renders(
    settings: Settings, campaign: Campaign, reminder: Reminder, send_at: datetime
) -> None:
    try:
        reminders.check_templates(
            settings, campaign, reminder, send_at, max_sms_segments=reminders.MAX_SMS_SEGMENTS
        )
    except RenderError as error:
        raise InvalidInput({"message": f"does not render: {error}"}) from None
