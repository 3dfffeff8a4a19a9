"""The cap across campaigns (`domain.cap`), as a specification: at most MessagesPerDay a day and
MessagesPerWeek in any seven days, the reminder closest to its deadline placed first."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from optout.domain.cap import Cap, Planned, entry, kept, pushed_past_deadline, reserve

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2025, 10, 27)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)


def reminder(key: str, due: date, deadline: date | None, hour: int = 9) -> Planned:
    return Planned.of(key, at(due, hour), at(deadline, 0) if deadline else None)


def test_one_a_day_three_a_week_by_default() -> None:
    cap = Cap()
    assert cap.fits([], MONDAY)
    assert not cap.fits([MONDAY], MONDAY)
    three = [MONDAY - timedelta(days=n) for n in (1, 3, 5)]
    assert not cap.fits(three, MONDAY)  # the week that ends today holds three already
    # ... and a message today must not break a week to come, that places held already
    assert not cap.fits([MONDAY + timedelta(days=n) for n in (2, 4, 6)], MONDAY)
    assert cap.fits([MONDAY - timedelta(days=7)], MONDAY)  # eight days ago: outside every week


def test_the_closer_deadline_goes_first_even_when_due_later_that_day() -> None:
    week_left = reminder("linkedin one-week-left", MONDAY, date(2025, 11, 3), hour=9)
    last_day = reminder("meta last-day", MONDAY, date(2025, 10, 28), hour=15)
    placed = Cap().place((), [week_left, last_day], MONDAY)
    assert placed == {last_day: MONDAY, week_left: MONDAY + timedelta(days=1)}


def test_a_message_after_its_deadline_gives_way_to_every_reminder_with_one_ahead() -> None:
    # "live now" is useful whenever it comes; this week's three reminders with a deadline ahead
    # are not, so they take the week's three places first
    live_now = reminder("meta live-now", MONDAY, date(2025, 10, 27), hour=15)
    others = [
        reminder("tiktok last-day", MONDAY + timedelta(days=2), date(2025, 10, 30)),
        reminder("linkedin last-day", MONDAY + timedelta(days=6), date(2025, 11, 3)),
        reminder("x two-weeks-left", MONDAY + timedelta(days=4), date(2025, 11, 14)),
    ]
    placed = Cap().place((), [live_now, *others], MONDAY)
    assert [placed[other] for other in others] == [other.due.date() for other in others]
    # Until Wednesday, 5 November, every seven days that would hold it hold three already
    assert placed[live_now] == date(2025, 11, 5)


def test_what_was_sent_today_counts_whichever_campaign_sent_it() -> None:
    today = [entry(MONDAY, "meta-ai-2025")]
    week_left = reminder("linkedin one-week-left", MONDAY, date(2025, 11, 3))
    assert Cap().place(today, [week_left], MONDAY)[week_left] == MONDAY + timedelta(days=1)
    assert Cap(per_day=2).place(today, [week_left], MONDAY)[week_left] == MONDAY


def test_a_reservation_keeps_only_the_last_seven_days() -> None:
    old, recent = entry(MONDAY - timedelta(days=7), "a"), entry(MONDAY - timedelta(days=6), "b")
    assert kept([old, recent], MONDAY) == (recent,)
    made = reserve([old, recent], MONDAY, "linkedin-genai-2025")
    assert made.before == (old, recent)  # written only if their record still holds this
    assert made.after == (recent, "2025-10-27 linkedin-genai-2025")


def test_the_launch_check_finds_a_last_day_the_cap_would_push_past_its_deadline() -> None:
    # Two campaigns whose last days fall on the same day, a day before their deadlines
    linkedin = reminder("linkedin last-day", MONDAY, date(2025, 10, 28))
    meta = reminder("meta last-day", MONDAY, date(2025, 10, 28), hour=15)
    [(late, when)] = pushed_past_deadline(Cap(), [linkedin, meta])
    assert late in (linkedin, meta) and when.date() == date(2025, 10, 28)
    assert pushed_past_deadline(Cap(per_day=2), [linkedin, meta]) == []


def test_the_founding_campaign_alone_fits_the_default_cap() -> None:
    deadline = date(2025, 11, 3)
    plan = [
        reminder(f"linkedin {n}", deadline - timedelta(days=n), deadline if n else None)
        for n in (14, 7, 1, 0)
    ]
    assert pushed_past_deadline(Cap(), plan) == []
    placed = Cap().place((), plan, deadline - timedelta(days=14))
    assert [placed[p] for p in plan] == [p.due.date() for p in plan]  # each on its own day
