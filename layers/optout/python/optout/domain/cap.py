"""The cap across campaigns. Pure logic: no AWS.

Two platforms may change their policies in the same week. Whatever the campaigns, a person
gets at most `per_day` reminders a day and `per_week` in seven days (MessagesPerDay and
MessagesPerWeek), both counted in their own time zone. What the cap holds back waits for the
next day with room (deferred, counted "deferred_cap", never dropped), and a reminder closer to
its deadline goes first: one that is further from its own yields its place to the more urgent
reminders of other campaigns due for that person the same day. A deadline notice ("the deadline
moved") or the good news of a withdrawal is outside the cap: it corrects, once, what a reminder
said, and a correction that waits a day may come too late.

A person's record keeps what it takes to count: one entry a message for the last seven days,
"<local day> <campaign id>" (`entry`), so that a rival whose message already reached them
today is not counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

WEEK_DAYS = 7  # "a week" is the seven local days that end on the day in question


@dataclass(frozen=True)
class Cap:
    per_day: int = 1
    per_week: int = 3

    def fits(self, days: Sequence[date], day: date) -> bool:
        """Whether one more message on `day` keeps `days` (one a message) within the cap: that
        day, and every seven days that hold it."""
        if sum(1 for sent in days if sent == day) >= self.per_day:
            return False
        for end in (day + timedelta(days=n) for n in range(WEEK_DAYS)):
            first = end - timedelta(days=WEEK_DAYS - 1)
            if sum(1 for sent in days if first <= sent <= end) >= self.per_week:
                return False
        return True

    def place(
        self, sends: Iterable[str], waiting: Sequence[Planned], today: date
    ) -> dict[Planned, date]:
        """The day each of `waiting` reaches a person who got `sends`: the closest to its
        deadline is placed first, on its due day (today at the earliest) or the first day after
        with room, so a reminder further from its deadline never takes the place a more urgent
        one needs, today or in the days ahead. Every seven days have room for one: this ends."""
        days = [_day_of(send) for send in sends]
        placed: dict[Planned, date] = {}
        for reminder in sorted(waiting, key=_urgency):
            day = max(reminder.due.date(), today)
            while not self.fits(days, day):
                day += timedelta(days=1)
            days.append(day)
            placed[reminder] = day
        return placed


def entry(day: date, campaign_id: str) -> str:
    """What a person's record keeps of one message: its local day and its campaign."""
    return f"{day.isoformat()} {campaign_id}"


def kept(sends: Iterable[str], today: date) -> tuple[str, ...]:
    """The entries still inside the week that ends today (older ones count for nothing)."""
    first = today - timedelta(days=WEEK_DAYS - 1)
    return tuple(send for send in sends if _day_of(send) >= first)


def campaigns_on(sends: Iterable[str], day: date) -> set[str]:
    """The campaigns whose messages reached the person on `day`."""
    return {send.partition(" ")[2] for send in sends if _day_of(send) == day}


@dataclass(frozen=True)
class Planned:
    """A reminder waiting to reach a person: when it is due where they live, and its deadline,
    if one is still ahead when it is due (a "live now", or an ad-hoc send, has none: it is
    useful whenever it comes, so it gives way to every reminder that has one)."""

    key: str
    due: datetime
    deadline: datetime | None

    @classmethod
    def of(cls, key: str, due: datetime, deadline: datetime | None) -> Planned:
        return cls(key, due, deadline if deadline is not None and deadline > due else None)

    def when(self, day: date) -> datetime:
        """When it goes out if placed on `day`: its due time of day, that day."""
        return self.due + timedelta(days=(day - self.due.date()).days)


def pushed_past_deadline(cap: Cap, planned: Sequence[Planned]) -> list[tuple[Planned, datetime]]:
    """Of `planned`, those that a person reached by every one of them would get only at or
    after their deadline, with when (`Cap.place`, from the first one's day)."""
    if not planned:
        return []
    today = min(p.due for p in planned).date()
    late = []
    for reminder, day in cap.place((), planned, today).items():
        sent_at = reminder.when(day)
        if reminder.deadline is not None and sent_at >= reminder.deadline:
            late.append((reminder, sent_at))
    return sorted(late, key=lambda found: found[1])


def _urgency(planned: Planned) -> tuple[bool, datetime, float]:
    """Closest deadline first, those without one last; of one deadline, the latest due first:
    "last day" before a "one week left" held back until the same day, which it says better."""
    no_deadline = planned.deadline is None
    return (no_deadline, planned.deadline or planned.due, -planned.due.timestamp())


def _day_of(send: str) -> date:
    return date.fromisoformat(send[:10])


@dataclass(frozen=True)
class Reservation:
    """One more message in a person's count: their entries as the sender read them (`before`),
    and as they become with this message (`after`). Written with the message's claim only if
    nobody changed them meanwhile, so that two senders never both take the day's last place."""

    before: tuple[str, ...]
    after: tuple[str, ...]


def reserve(sends: Sequence[str], today: date, campaign_id: str) -> Reservation:
    """The reservation of a message of `campaign_id` today."""
    return Reservation(tuple(sends), (*kept(sends, today), entry(today, campaign_id)))
