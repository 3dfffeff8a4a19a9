""" "Check it again": when a watched settings page changes after a campaign of the same platform
ended, the people who said "I've switched it off" in that campaign may be asked, once, to check
that it is still off (a changed settings page can switch a setting back on, or move it).

`offers` lists the campaigns a change can follow up, with how many people converted in each
(the campaign's counters); `check_again` plans the follow-up as an ad-hoc send
(`optout.campaigns.ad_hoc_sends`): the templates of messages/check_again/, in each person's
language, with the campaign's steps and setting link, to the segment of those who converted in
it (`Segment.converted_in`, which the fan-out reads from the audience index: whoever has
unsubscribed or been erased since is not in it). The send is noted on the change
(`WatchStore.add_follow_up`), so a second one is refused, naming the first.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from optout.campaigns import ad_hoc_sends
from optout.core.clock import iso, parse_iso
from optout.core.errors import Conflict, InvalidInput, NotFound
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain import regions
from optout.domain.models import Campaign, CampaignStatus, Segment
from optout.domain.policy import platform_name
from optout.domain.watches import SETTING, SeenChange
from optout.store import CampaignStore, WatchStore

TEMPLATE = "check_again"  # templates/messages/check_again/
_CAMPAIGN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class Offer:
    """A campaign a settings page's change can follow up: ended, of the change's platform."""

    campaign_id: str
    title: str
    status: str
    ended_at: str  # its last deadline; when it was withdrawn, when that was recorded
    converted: int  # people who said "I've switched it off" (those who left since included)
    setting_url: str  # where the follow-up's "Open the setting" leads
    send_id: str = ""  # the follow-up planned already, if any


def offers(settings: Settings, change: SeenChange) -> list[Offer]:
    """The campaigns `change` can follow up, the latest ended first: none unless the change is
    to a settings page; else every campaign of its platform that had ended when the change was
    found, each with its converts and the send that followed it up, if one did."""
    if change.about != SETTING:
        return []
    store = CampaignStore(settings)
    found = [
        _offer(store, campaign, change)
        for campaign in store.campaigns()  # tens of campaigns: a filtered scan
        if _follows_up(campaign, change) and ended(campaign, parse_iso(change.detected_at))
    ]
    return sorted(found, key=lambda offer: (offer.ended_at, offer.campaign_id), reverse=True)


def offers_of(settings: Settings, change_id: str) -> dict[str, Any]:
    """`offers` for the change `change_id`, as the admin API answers them."""
    change = _change(settings, change_id)
    return {
        "change_id": change.change_id,
        "platform": change.platform,
        "about": change.about,
        "offers": [asdict(offer) for offer in offers(settings, change)],
    }


def ended(campaign: Campaign, at: datetime) -> bool:
    """Whether `campaign` had ended at `at`: withdrawn (cancelled), or launched with every
    region's deadline passed. A draft never started, so never ended."""
    if campaign.status is CampaignStatus.WITHDRAWN:
        return True
    if campaign.status is CampaignStatus.DRAFT or not campaign.regions:
        return False
    return all(parse_iso(deadline) <= at for deadline in campaign.regions.values())


def check_again(
    settings: Settings, change_id: str, campaign_id: object, now: datetime, base_url: str
) -> dict[str, Any]:
    """Plan the follow-up of `change_id` to the converts of `campaign_id`, due now; a summary.

    Refused: a change that is not to a settings page, or a campaign that is not one, is of
    another platform, had not ended when the change was found, was followed up already (409,
    naming that send), or in which nobody said they switched it off."""
    watches = WatchStore(settings)
    change = _change(settings, change_id)
    if change.about != SETTING:
        raise Conflict(
            f"this change is to {platform_name(change.platform)}'s {change.about}, not to a "
            "settings page: only a settings page's change asks people to check again"
        )
    store = CampaignStore(settings)
    campaign = _campaign(store, campaign_id, change)
    if not ended(campaign, parse_iso(change.detected_at)):
        raise Conflict(
            f"the campaign {campaign.campaign_id} had not ended when this change was found "
            f"({change.detected_at}): its reminders still told people what to do"
        )
    send = _send(campaign, change, now, base_url)
    earlier = change.follow_ups.get(campaign.campaign_id, "")
    if earlier and not _unfinished(store, earlier, send):
        raise Conflict(_asked_already(campaign.campaign_id, earlier))
    converted = _converted(store, campaign.campaign_id)
    if not converted:
        raise Conflict(f"nobody said they switched it off in {campaign.campaign_id}: nobody to ask")
    places = [regions.resolve(code) for code in send.regions]
    segment = Segment(platforms=(campaign.platform,), converted_in=campaign.campaign_id)
    planned = ad_hoc_sends.prepare(settings, send, places, segment, now)
    # Noted first, stored second: a call that stops in between leaves the send noted, and the
    # next call finishes it rather than be refused (see `_unfinished`).
    if not earlier and not watches.add_follow_up(
        change.change_id, campaign.campaign_id, send.campaign_id
    ):
        noted = (watches.get_change(change.change_id) or change).follow_ups
        earlier = noted.get(campaign.campaign_id, "")
        if not _unfinished(store, earlier, send):
            raise Conflict(_asked_already(campaign.campaign_id, earlier))
    ad_hoc_sends.save(settings, send, planned, now)
    logger.info(
        "check-again planned",
        extra={"change_id": change.change_id, "campaign_id": campaign.campaign_id},
    )
    return {
        "change_id": change.change_id,
        "campaign_id": campaign.campaign_id,
        "send_id": send.campaign_id,
        "send_at": iso(now),
        "converted": converted,
        "regions": len(planned),
    }


def send_id(change_id: str, campaign_id: str) -> str:
    """The follow-up's id: the same for the same change and campaign (a retry writes the same
    items), readable, and within a campaign id's 64 characters."""
    digest = hashlib.sha256(f"{change_id} {campaign_id}".encode()).hexdigest()[:6]
    return f"again-{change_id[:8]}-{campaign_id[:40]}-{digest}"


def _change(settings: Settings, change_id: str) -> SeenChange:
    change = WatchStore(settings).get_change(change_id) if len(change_id) <= 200 else None
    if change is None:
        raise NotFound("no such change")
    return change


def _campaign(store: CampaignStore, campaign_id: object, change: SeenChange) -> Campaign:
    if not isinstance(campaign_id, str) or not _CAMPAIGN_ID.match(campaign_id):
        raise InvalidInput({"campaign_id": "the id of the campaign whose converts to ask"})
    campaign = store.get_campaign(campaign_id)
    if campaign is None or campaign.message != "reminder":
        raise InvalidInput({"campaign_id": f"there is no campaign {campaign_id!r}"})
    if campaign.platform != change.platform:
        raise InvalidInput(
            {
                "campaign_id": f"the campaign is about {platform_name(campaign.platform)}, "
                f"this change about {platform_name(change.platform)}"
            }
        )
    return campaign


def _follows_up(campaign: Campaign, change: SeenChange) -> bool:
    """A campaign (not an ad-hoc send) of the change's platform."""
    return campaign.message == "reminder" and campaign.platform == change.platform


def _offer(store: CampaignStore, campaign: Campaign, change: SeenChange) -> Offer:
    withdrawn = campaign.status is CampaignStatus.WITHDRAWN
    return Offer(
        campaign_id=campaign.campaign_id,
        title=campaign.policy.text.title,
        status=campaign.status.value,
        ended_at=campaign.updated_at if withdrawn else max(campaign.regions.values()),
        converted=_converted(store, campaign.campaign_id),
        setting_url=campaign.policy.setting_url or change.setting_url,
        send_id=change.follow_ups.get(campaign.campaign_id, ""),
    )


def _converted(store: CampaignStore, campaign_id: str) -> int:
    """People who said "I've switched it off" in the campaign, as its counters have it."""
    return sum(counts.get("confirmed", 0) for counts in store.stats(campaign_id).values())


def _send(campaign: Campaign, change: SeenChange, now: datetime, base_url: str) -> Campaign:
    """The follow-up, an ad-hoc send: the campaign's text (its title, steps and translations)
    with its setting link, or the watch's when it gave none, to the home groups of its regions
    (the segment narrows them to its converts, wherever in the group they live now)."""
    identifier = send_id(change.change_id, campaign.campaign_id)
    groups = sorted({regions.resolve(code).group for code in campaign.regions})
    return Campaign(
        campaign_id=identifier,
        platform=campaign.platform,
        policy=replace(
            campaign.policy,
            id=identifier,
            source_url=change.source_url or campaign.policy.source_url,
            setting_url=campaign.policy.setting_url or change.setting_url,
        ),
        status=CampaignStatus.ACTIVE,
        regions=dict.fromkeys(groups, iso(now)),
        offsets_days=(0,),
        local_hour=0,
        base_url=base_url,
        message=TEMPLATE,
    )


def _unfinished(store: CampaignStore, noted: str, send: Campaign) -> bool:
    """Whether the follow-up noted on the change is this very send, not wholly stored yet (the
    send, then one reminder per region): by a call that stopped after noting it, or one running
    now. This call's writes then land on the same items (the send's id is the same for the same
    change and campaign, and its reminders' ids are its regions'), a pending reminder taking
    this call's due time, and one that has started is never written over: one send at most."""
    if noted != send.campaign_id:
        return False
    stored = store.get_campaign(send.campaign_id)
    return stored is None or len(store.reminders(send.campaign_id)) < len(send.regions)


def _asked_already(campaign_id: str, send: str) -> str:
    return f"the people of {campaign_id} were asked to check again already: send {send}"
