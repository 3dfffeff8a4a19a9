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
from dataclasses import dataclass
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

_rivals: list[tuple[float, list[Rival]]] = []


def forget_rivals() -> None:
    """Drop what this execution environment remembers of live reminders (tests start afresh)."""
    _rivals.clear()


@dataclass(frozen=True)
class Rival:
    """A live campaign's reminder as the cap weighs it, read once for every person."""

    reminder: Reminder
    key: str  # "<campaign id> <reminder id>"
    due: datetime  # UTC
    deadline: datetime | None  # its region's, as the campaign holds it now


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
    deadline = campaign.regions.get(reminder.region, reminder.deadline)
    mine = Planned.of(
        _key(reminder),
        parse_iso(reminder.due_at).astimezone(zone),  # placed today at the earliest
        parse_iso(deadline) if deadline else None,
    )
    waiting = [mine, *_rivals_for(campaigns, mine.key, subscriber, sends, today)]
    day = limits.place(sends, waiting, today)[mine]
    if day == today:
        return cap.reserve(subscriber.recent_sends, today, campaign.campaign_id)
    return datetime.combine(day, clock_time(campaign.local_hour), tzinfo=zone)


def _rivals_for(
    campaigns: CampaignStore,
    mine: str,
    subscriber: Subscriber,
    sends: tuple[str, ...],
    today: date,
) -> list[Planned]:
    """The other reminders due to `subscriber` in the coming week, today's included, that
    reach them: of campaigns they have not said "I've switched it off" to, and, today, of
    campaigns whose message has not reached them yet today (those are counted in `sends`)."""
    zone = subscriber.zone
    reached_today = cap.campaigns_on(sends, today)
    # Their week, as instants: from today's start to the end of the sixth day after it.
    starts, tomorrow, ends = (
        datetime.combine(today + timedelta(days=n), clock_time(0), tzinfo=zone)
        for n in (0, 1, cap.WEEK_DAYS)
    )
    member = AudienceMember(
        subscriber.subscriber_id,
        subscriber.region,
        subscriber.channel,
        subscriber.locale,
        subscriber.platforms,
        subscriber.done_campaigns,
    )
    rivals = []
    for rival in _live_reminders(campaigns):
        theirs = rival.reminder
        if (
            starts <= rival.due < ends
            and rival.key != mine
            and theirs.campaign_id not in subscriber.done_campaigns
            and not (rival.due < tomorrow and theirs.campaign_id in reached_today)
            and subscriber.home_group in theirs.audience.groups
            and fanout.reached(member, theirs.audience, theirs.platform, theirs.segment)
        ):
            rivals.append(Planned.of(rival.key, rival.due.astimezone(zone), rival.deadline))
    return rivals


def _key(reminder: Reminder) -> str:
    return f"{reminder.campaign_id} {reminder.reminder_id}"


def _live_reminders(campaigns: CampaignStore) -> list[Rival]:
    """The reminders under way of every active campaign, each with its region's deadline as the
    campaign holds it now (it may have moved since it was planned)."""
    if not _rivals or _rivals[0][0] < time.monotonic():
        live = []
        for campaign in campaigns.campaigns():
            if campaign.status is not CampaignStatus.ACTIVE:
                continue
            for reminder in campaigns.reminders(campaign.campaign_id):
                if reminder.state not in UNDER_WAY or reminder.notice:  # notices: outside the cap
                    continue
                deadline = campaign.regions.get(reminder.region, reminder.deadline)
                due = parse_iso(reminder.due_at)
                live.append(
                    Rival(reminder, _key(reminder), due, parse_iso(deadline) if deadline else None)
                )
        _rivals[:] = [(time.monotonic() + RIVALS_CACHE_SECONDS, live)]
    return _rivals[0][1]
