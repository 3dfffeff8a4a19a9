"""The cap across campaigns as the sender applies it (`domain.cap` has the rules): before each
reminder's claim, whether it may go to that person now, and if not, when.

The cap places the reminder among the others due to that person in the coming week, the
closest to its deadline first (`Cap.place`): it goes now if that leaves it today, wherever the
others are in the queues. Those rivals are the reminders of the live campaigns, read once a
minute by each warm sender (a scan of the campaigns table and a query a live campaign); a
rival whose campaign already reached the person today is not counted twice, nor one they said
"I've switched it off" to, nor one that does not reach them.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as clock_time

from optout.core.clock import parse_iso
from optout.domain import cap
from optout.domain.cap import Cap, Planned, Reservation
from optout.domain.models import (
    AudienceMember,
    Campaign,
    CampaignStatus,
    Reminder,
    ReminderState,
    Subscriber,
)
from optout.sending import fanout
from optout.store import CampaignStore

RIVALS_CACHE_SECONDS = 60.0
# Reminders that may still reach people: not yet fanned out, or fanned out and sending.
UNDER_WAY = frozenset({ReminderState.PENDING, ReminderState.FANNING_OUT, ReminderState.FANNED_OUT})

_rivals: list[tuple[float, list[Reminder]]] = []


def forget_rivals() -> None:
    """Drop what this execution environment remembers of live reminders (tests start afresh)."""
    _rivals.clear()


def decide(
    limits: Cap,
    campaigns: CampaignStore,
    campaign: Campaign,
    reminder: Reminder,
    subscriber: Subscriber,
    now: datetime,
) -> Reservation | datetime:
    """The reservation to claim the message with, or when it may go at the earliest: the
    campaign's local hour, in the person's time zone, on the day the cap places it."""
    zone = subscriber.zone
    today = now.astimezone(zone).date()
    sends = cap.kept(subscriber.recent_sends, today)
    due = parse_iso(reminder.due_at).astimezone(zone)  # today at the earliest (`Cap.place`)
    mine = _planned(campaign.regions.get(reminder.region, reminder.deadline), reminder, due)
    waiting = [mine, *_rivals_for(campaigns, reminder, subscriber, sends, today)]
    day = limits.place(sends, waiting, today)[mine]
    if day == today:
        return cap.reserve(subscriber.recent_sends, today, campaign.campaign_id)
    return datetime.combine(day, clock_time(campaign.local_hour), tzinfo=zone)


def _rivals_for(
    campaigns: CampaignStore,
    reminder: Reminder,
    subscriber: Subscriber,
    sends: tuple[str, ...],
    today: date,
) -> list[Planned]:
    """The other reminders due to `subscriber` in the coming week, today's included, that
    reach them: of campaigns they have not said "I've switched it off" to, and, today, of
    campaigns whose message has not reached them yet today (those are counted in `sends`)."""
    zone = subscriber.zone
    reached_today = cap.campaigns_on(sends, today)
    last = today + timedelta(days=cap.WEEK_DAYS - 1)
    member = AudienceMember(
        subscriber.subscriber_id,
        subscriber.region,
        subscriber.channel,
        subscriber.locale,
        subscriber.platforms,
    )
    rivals = []
    for rival in _live_reminders(campaigns):
        due = parse_iso(rival.due_at).astimezone(zone)
        if (
            (rival.campaign_id, rival.reminder_id) != (reminder.campaign_id, reminder.reminder_id)
            and today <= due.date() <= last
            and not (due.date() == today and rival.campaign_id in reached_today)
            and rival.campaign_id not in subscriber.done_campaigns
            and subscriber.home_group in rival.audience.groups
            and fanout.reached(member, rival.audience, rival.platform, rival.segment)
        ):
            rivals.append(_planned(rival.deadline, rival, due))
    return rivals


def _planned(deadline: str, reminder: Reminder, due: datetime) -> Planned:
    """A reminder as the cap weighs it: due at `due` where the person lives, with its region's
    `deadline`."""
    return Planned.of(
        f"{reminder.campaign_id} {reminder.reminder_id}",
        due,
        parse_iso(deadline) if deadline else None,
    )


def _live_reminders(campaigns: CampaignStore) -> list[Reminder]:
    """The reminders under way of every active campaign, each with its region's deadline as the
    campaign holds it now (it may have moved since it was planned)."""
    if not _rivals or _rivals[0][0] < time.monotonic():
        live = []
        for campaign in campaigns.campaigns():
            if campaign.status is not CampaignStatus.ACTIVE:
                continue
            live += [
                replace(reminder, deadline=campaign.regions.get(reminder.region, reminder.deadline))
                for reminder in campaigns.reminders(campaign.campaign_id)
                if reminder.state in UNDER_WAY and not reminder.notice  # notices: outside the cap
            ]
        _rivals[:] = [(time.monotonic() + RIVALS_CACHE_SECONDS, live)]
    return _rivals[0][1]
