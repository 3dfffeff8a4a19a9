"""Deadlines -> reminders. Pure logic: no AWS, no templates.

Each region of a campaign has a deadline (when the new data use switches on). Its reminders fall
a number of days before that deadline, at a morning hour in the region's reference time zone, so
"one week left" reaches Brussels at 09:00 Brussels time whether or not summer time ended in
between. The day-0 reminder ("it is live now: switching off still stops future use") goes out on
the first such morning at or after the deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from optout.core.clock import iso, parse_iso
from optout.domain.models import NEVER_SENT, STARTED, Audience, Reminder, ReminderState, Subscriber
from optout.domain.regions import GROUPS, Region, audience_groups

DEFAULT_OFFSETS = (14, 7, 1, 0)
DEFAULT_LOCAL_HOUR = 9
# A due reminder gives way to a later one of its region due within this time. Less than a day,
# so that "last day" and "live now", a day apart, both go out.
SOON = timedelta(hours=12)

_KINDS = {14: "two-weeks-left", 7: "one-week-left", 1: "last-day", 0: "live-now"}
ANNOUNCEMENT_KIND = (
    "announcement"  # the one reminder of an ad-hoc send (`optout.campaigns.ad_hoc_sends`)
)
# A deadline notice's kinds: the deadline people were told moved later, or earlier.
DEADLINE_LATER = "deadline-later"
DEADLINE_EARLIER = "deadline-earlier"
# The notice organisers may send once a withdrawn campaign had reminders out: nothing to do.
GOOD_NEWS = "good-news"


def kind(days_before: int) -> str:
    """A readable name for a reminder `days_before` the deadline."""
    return _KINDS.get(days_before, f"{days_before}-days-left")


@dataclass(frozen=True)
class PlannedReminder:
    region: str
    days_before: int
    due_at: datetime  # UTC
    deadline: datetime  # UTC
    state: ReminderState  # pending, or skipped (already in the past when planned)

    @property
    def kind(self) -> str:
        return kind(self.days_before)


def due_time(deadline: datetime, days_before: int, zone: ZoneInfo, local_hour: int) -> datetime:
    """When a reminder `days_before` the deadline is due, in UTC."""
    local_deadline = deadline.astimezone(zone)
    morning = time(hour=local_hour)
    if days_before == 0:
        candidate = datetime.combine(local_deadline.date(), morning, tzinfo=zone)
        if candidate < local_deadline:
            candidate = datetime.combine(
                local_deadline.date() + timedelta(days=1), morning, tzinfo=zone
            )
    else:
        day = local_deadline.date() - timedelta(days=days_before)
        candidate = datetime.combine(day, morning, tzinfo=zone)
    # Through UTC, so that a local time in a DST gap or overlap resolves by zoneinfo's rules.
    return candidate.astimezone(ZoneInfo("UTC"))


def reference_zone(region: Region) -> ZoneInfo:
    return ZoneInfo(GROUPS[region.group].reference_zone)


def plan_region(
    region: Region,
    deadline: datetime,
    now: datetime,
    offsets: Sequence[int] = DEFAULT_OFFSETS,
    local_hour: int = DEFAULT_LOCAL_HOUR,
) -> list[PlannedReminder]:
    """The reminders of one region, earliest first. Of those already due at `now`, only the
    latest stays pending (it goes out at the next tick); the earlier ones are skipped, so nobody
    gets "two weeks left" a week before the deadline."""
    zone = reference_zone(region)
    times = sorted(
        ((due_time(deadline, days, zone, local_hour), days) for days in set(offsets)),
    )
    past = [due for due, _ in times if due <= now]
    latest_past = past[-1] if past else None
    return [
        PlannedReminder(
            region=region.code,
            days_before=days,
            due_at=due,
            deadline=deadline,
            state=ReminderState.SKIPPED
            if due <= now and due != latest_past
            else ReminderState.PENDING,
        )
        for due, days in times
    ]


def audiences(regions: Iterable[Region]) -> dict[str, Audience]:
    """Region code -> its audience, so that no subscriber is reached by two regions of one
    campaign: a country with an entry of its own leaves its group's audience, and "EEA" next to
    "EU" reaches only the EEA countries outside the EU."""
    listed = list(regions)
    codes = {region.code for region in listed}
    result = {}
    for region in listed:
        if region.is_country:
            result[region.code] = Audience(groups=(region.group,), only_regions=(region.code,))
            continue
        groups = tuple(
            group for group in audience_groups(region) if group == region.code or group not in codes
        )
        carved_out = tuple(
            sorted(other.code for other in listed if other.is_country and other.group in groups)
        )
        result[region.code] = Audience(groups=groups, except_regions=carved_out)
    return result


def supersede(
    candidates: Sequence[Reminder], now: datetime
) -> tuple[list[Reminder], list[Reminder]]:
    """Choose, per campaign and region, which due reminder goes out.

    `candidates` are the reminders due now or within `SOON`. Of those due now, only the latest
    goes out, and only if no later one is due within `SOON`: after an outage, or a campaign
    planned late, nobody gets "two weeks left" a week before the deadline, nor two reminders a
    few hours apart. The others are superseded. But a reminder still ahead of its region's
    deadline never gives way to one due after it: after an outage that ends late on the last
    day, "last day" is the most useful message of the campaign, and the next morning's "live
    now" comes too late for it.
    """
    # A deadline notice neither gives way to a reminder nor takes its place: it says
    # something else (the date moved), so notices are chosen among themselves.
    by_region: dict[tuple[str, str, bool], list[Reminder]] = {}
    for reminder in candidates:
        key = (reminder.campaign_id, reminder.region, bool(reminder.notice))
        by_region.setdefault(key, []).append(reminder)
    send: list[Reminder] = []
    superseded: list[Reminder] = []
    cutoff = iso(now)
    for reminders in by_region.values():
        reminders.sort(key=lambda reminder: reminder.due_at)
        due_now = [reminder for reminder in reminders if reminder.due_at <= cutoff]
        if not due_now:
            continue
        latest = due_now[-1]
        later = reminders[len(due_now) :]
        if later and not _ahead_of_deadline_and_the_next_is_not(latest, later[0], cutoff):
            superseded.extend(due_now)
        else:
            send.append(latest)
            superseded.extend(due_now[:-1])
    return send, superseded


def overtaken(reminder: Reminder, region_reminders: Sequence[Reminder], now: datetime) -> bool:
    """Whether texts of `reminder` held back over their readers' night, released at `now`,
    give way to the region's next reminder: the deadline passed while they waited, and that
    next one is due within `SOON`. Nobody then gets a stale "last day" text in the morning and
    "live now" an hour later; they get "live now" alone."""
    if reminder.notice or not reminder.deadline or reminder.deadline > iso(now):
        return False
    soon = iso(now + SOON)
    return any(
        reminder.due_at < other.due_at <= soon and other.state not in NEVER_SENT
        for other in region_reminders
        if other.region == reminder.region and not other.notice
    )


def rest_overtaken(reminder: Reminder, region_reminders: Sequence[Reminder], now: datetime) -> bool:
    """Whether the rest of `reminder`'s A/B test, due at `now` (after the organiser's wait, or
    later: the campaign was paused or withdrawn meanwhile), gives way rather than go: its words
    count days to a deadline that has passed ("one week left" the day after), or the region's
    next reminder is due by now or within `SOON`, as `supersede` judges reminders (nobody gets
    "one week left" in the same tick as "last day"; but "last day" before the deadline still
    goes when the next one comes after it). Its people then get that next reminder."""
    cutoff = iso(now)
    if reminder.notice:
        return False
    if reminder.days_before > 0 and reminder.deadline and reminder.deadline <= cutoff:
        return True
    following = sorted(
        (
            other
            for other in region_reminders
            if other.region == reminder.region
            and not other.notice
            and other.due_at > reminder.due_at
            and other.state not in NEVER_SENT
        ),
        key=lambda other: other.due_at,
    )
    if not following or following[0].due_at > iso(now + SOON):
        return False
    return not _ahead_of_deadline_and_the_next_is_not(reminder, following[0], cutoff)


def _ahead_of_deadline_and_the_next_is_not(
    reminder: Reminder, following: Reminder, now: str
) -> bool:
    return bool(reminder.deadline) and now < reminder.deadline <= following.due_at


def catch_up(
    reminders: Sequence[Reminder], subscriber: Subscriber, now: datetime
) -> Reminder | None:
    """The reminder someone who has just become active gets at once, if any: of their
    campaign's reminders that reach them (their home group and region, their platforms) and
    have gone out, the latest. None before any has gone out (the fan-out will reach them), and
    none past the deadline but the day-0 one ("live now": it is not too late to switch it off),
    since a "last day" read after the deadline says what is no longer true."""
    reaching = [
        reminder
        for reminder in reminders
        if not reminder.notice  # "the deadline moved" means nothing to who never heard it
        and subscriber.home_group in reminder.audience.groups
        and reminder.audience.includes(subscriber.region)
        and (
            not reminder.platform
            or not subscriber.platforms
            or reminder.platform in subscriber.platforms
        )
    ]
    gone_out = [reminder for reminder in reaching if reminder.state in STARTED]
    if not gone_out:
        return None
    latest = max(gone_out, key=lambda reminder: reminder.due_at)
    if latest.days_before > 0 and latest.deadline and latest.deadline <= iso(now):
        return None
    return latest


def deadline_notice(
    region_reminders: Sequence[Reminder], old_deadline: str, new_deadline: str
) -> tuple[int, str] | None:
    """Whether a region whose deadline goes from `old_deadline` to `new_deadline` (ISO 8601)
    is told, and how: the new notice's number and kind (`DEADLINE_LATER` or
    `DEADLINE_EARLIER`), or None.

    None when the date does not move, and when none of the region's reminders has gone out
    (nobody was told the old date: the re-planned reminders tell the new one). None too when
    the region's latest notice already names the new date: a change applied again (a retry
    after a crash, the same body under another webhook id) tells nobody twice."""
    old, new = parse_iso(old_deadline), parse_iso(new_deadline)
    if old == new:
        return None
    if not any(r.state in STARTED for r in region_reminders if not r.notice):
        return None
    notices = sorted((r for r in region_reminders if r.notice), key=lambda r: r.notice)
    if notices and parse_iso(notices[-1].deadline) == new:
        return None
    number = notices[-1].notice + 1 if notices else 1
    return number, DEADLINE_EARLIER if new < old else DEADLINE_LATER


def good_news(reminders: Sequence[Reminder]) -> list[Reminder]:
    """The regions a withdrawn campaign can tell "the change is dropped: nothing to do", each
    by the latest of its reminders that went out (whose audience the good news reaches): every
    region with one, none if the good news was planned already (it goes once)."""
    if any(reminder.kind == GOOD_NEWS for reminder in reminders):
        return []
    latest: dict[str, Reminder] = {}
    for reminder in sorted(reminders, key=lambda reminder: reminder.due_at):
        if reminder.state in STARTED and not reminder.notice:
            latest[reminder.region] = reminder
    return [latest[region] for region in sorted(latest)]


def next_notice(reminders: Sequence[Reminder], region: str) -> int:
    """The number of the region's next notice."""
    return 1 + max((r.notice for r in reminders if r.region == region), default=0)
