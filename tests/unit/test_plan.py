"""Reminder instants: a morning hour in each region's reference zone, DST included."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from optout.core.clock import iso, parse_iso
from optout.domain import plan, regions
from optout.domain.models import Audience, Consent, Reminder, ReminderState, Status, Subscriber
from tests.helpers import planned_reminder

DEADLINES = {  # the LinkedIn case: 3 November 2025, local midnight
    "EU": "2025-11-03T00:00:00+01:00",
    "CA": "2025-11-03T00:00:00-05:00",
    "HK": "2025-11-03T00:00:00+08:00",
}
BEFORE = datetime(2025, 10, 1, tzinfo=UTC)


def instants(region: str, now: datetime = BEFORE) -> dict[str, tuple[str, str]]:
    planned = plan.plan_region(regions.resolve(region), parse_iso(DEADLINES[region]), now)
    return {reminder.kind: (iso(reminder.due_at), reminder.state) for reminder in planned}


def test_eu_reminders_are_due_at_nine_in_brussels_across_the_end_of_summer_time() -> None:
    assert instants("EU") == {
        "two-weeks-left": ("2025-10-20T07:00:00Z", "pending"),  # CEST, UTC+2
        "one-week-left": ("2025-10-27T08:00:00Z", "pending"),  # CET from 26 October
        "last-day": ("2025-11-02T08:00:00Z", "pending"),
        "live-now": ("2025-11-03T08:00:00Z", "pending"),
    }


def test_canada_follows_toronto_whose_summer_time_ends_a_week_later() -> None:
    assert instants("CA") == {
        "two-weeks-left": ("2025-10-20T13:00:00Z", "pending"),  # EDT, UTC-4
        "one-week-left": ("2025-10-27T13:00:00Z", "pending"),
        "last-day": ("2025-11-02T14:00:00Z", "pending"),  # EST from 2 November, 02:00
        "live-now": ("2025-11-03T14:00:00Z", "pending"),
    }


def test_hong_kong_has_no_summer_time() -> None:
    assert [due for due, _ in instants("HK").values()] == [
        "2025-10-20T01:00:00Z",
        "2025-10-27T01:00:00Z",
        "2025-11-02T01:00:00Z",
        "2025-11-03T01:00:00Z",
    ]


def test_a_campaign_planned_late_skips_the_past_but_sends_the_latest_of_it_now() -> None:
    planned = instants("EU", now=datetime(2025, 10, 28, 12, 0, tzinfo=UTC))
    assert {kind: state for kind, (_, state) in planned.items()} == {
        "two-weeks-left": "skipped",
        "one-week-left": "pending",  # already due: goes out at the next tick
        "last-day": "pending",
        "live-now": "pending",
    }


def test_the_live_reminder_waits_for_the_next_morning_after_an_afternoon_deadline() -> None:
    zone = plan.reference_zone(regions.resolve("EU"))
    deadline = parse_iso("2025-11-03T15:00:00+01:00")
    assert iso(plan.due_time(deadline, 0, zone, 9)) == "2025-11-04T08:00:00Z"
    assert iso(plan.due_time(deadline, 1, zone, 9)) == "2025-11-02T08:00:00Z"


def test_offsets_and_hour_are_configurable() -> None:
    planned = plan.plan_region(regions.resolve("EU"), parse_iso(DEADLINES["EU"]), BEFORE, (3,), 18)
    assert [(reminder.kind, iso(reminder.due_at)) for reminder in planned] == [
        ("3-days-left", "2025-10-31T17:00:00Z")
    ]


def test_no_subscriber_is_reached_by_two_regions_of_one_campaign() -> None:
    audiences = plan.audiences(regions.resolve(code) for code in ("EU", "EEA", "CH", "DE"))
    assert audiences["EU"] == Audience(groups=("EU",), except_regions=("DE",))
    assert audiences["EEA"] == Audience(groups=("EEA",))  # the EU has its own entry
    assert audiences["DE"] == Audience(groups=("EU",), only_regions=("DE",))
    assert plan.audiences([regions.resolve("EEA")])["EEA"].groups == ("EU", "EEA")
    assert not audiences["EU"].includes("DE") and audiences["EU"].includes("FR")
    assert audiences["DE"].includes("DE") and not audiences["DE"].includes("EU")


def named(reminders: list[Reminder]) -> list[str]:
    """Which reminders: the other campaign's marked as such."""
    return sorted(("other " if r.campaign_id == "other" else "") + r.reminder_id for r in reminders)


def test_of_reminders_due_together_only_the_latest_of_each_region_goes_out() -> None:
    now = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)
    candidates = [
        planned_reminder("EU", 14, "2025-10-20T07:00:00Z"),
        planned_reminder("EU", 7, "2025-10-27T08:00:00Z"),
        planned_reminder("CA", 14, "2025-10-20T13:00:00Z"),
        planned_reminder("EU", 14, "2025-10-20T07:00:00Z", campaign_id="other"),
    ]
    send, superseded = plan.supersede(candidates, now)
    assert named(send) == ["CA-14", "EU-07", "other EU-14"]
    assert named(superseded) == ["EU-14"]


def test_a_late_reminder_gives_way_to_the_next_one_due_within_hours() -> None:
    # Canada's "two weeks left" is a week late; "one week left" is due in five hours
    now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
    candidates = [
        planned_reminder("CA", 14, "2025-10-20T13:00:00Z"),
        planned_reminder("CA", 7, "2025-10-27T13:00:00Z"),
    ]
    assert plan.supersede(candidates, now) == ([], [candidates[0]])


def test_last_day_and_live_now_a_day_apart_both_go_out() -> None:
    now = datetime(2025, 11, 2, 8, 0, tzinfo=UTC)
    last_day = planned_reminder("EU", 1, "2025-11-02T08:00:00Z")
    live_now = planned_reminder("EU", 0, "2025-11-03T08:00:00Z")
    within_soon = [r for r in (last_day, live_now) if r.due_at <= iso(now + plan.SOON)]
    assert plan.supersede(within_soon, now) == ([last_day], [])


def test_a_reminder_ahead_of_its_deadline_never_gives_way_to_one_due_after_it() -> None:
    # The scheduler comes back at 22:30 in Berlin on 2 November, 90 minutes before the deadline
    now = datetime(2025, 11, 2, 21, 30, tzinfo=UTC)
    deadline = "2025-11-02T23:00:00Z"
    last_day = planned_reminder("EU", 1, "2025-11-02T08:00:00Z", deadline=deadline)
    live_now = planned_reminder("EU", 0, "2025-11-03T08:00:00Z", deadline=deadline)
    assert plan.supersede([last_day, live_now], now) == ([last_day], [])
    # Half an hour past the deadline, "last day" is stale and gives way to "live now"
    later = datetime(2025, 11, 2, 23, 30, tzinfo=UTC)
    assert plan.supersede([last_day, live_now], later) == ([], [last_day])


def test_texts_held_over_the_night_give_way_only_past_the_deadline_to_a_reminder_that_comes() -> (
    None
):
    deadline = "2025-11-02T23:00:00Z"  # midnight in Berlin
    last_day = planned_reminder(
        "EU", 1, "2025-11-02T08:00:00Z", deadline=deadline, state=ReminderState.FANNING_OUT
    )
    live_now = planned_reminder("EU", 0, "2025-11-03T08:00:00Z", deadline=deadline)
    elsewhere = replace(live_now, region="CA")
    morning = datetime(2025, 11, 3, 7, 0, tzinfo=UTC)  # 08:00 in Berlin, an hour before live now
    assert plan.overtaken(last_day, [last_day, live_now], morning)
    # before the deadline, the text is still news
    assert not plan.overtaken(last_day, [last_day, live_now], datetime(2025, 11, 2, 7, tzinfo=UTC))
    # no next reminder of its own region, or one that will not go out: the text goes
    assert not plan.overtaken(last_day, [last_day, elsewhere], morning)
    cancelled = replace(live_now, state=ReminderState.CANCELLED)
    assert not plan.overtaken(last_day, [last_day, cancelled], morning)
    # a next reminder further away than SOON does not take its place either
    far = replace(live_now, due_at=iso(morning + plan.SOON + timedelta(minutes=1)))
    assert not plan.overtaken(last_day, [last_day, far], morning)


@pytest.mark.parametrize(
    "days, name",
    [
        (14, "two-weeks-left"),
        (7, "one-week-left"),
        (1, "last-day"),
        (0, "live-now"),
        (3, "3-days-left"),
    ],
)
def test_reminder_kinds_have_readable_names(days: int, name: str) -> None:
    assert plan.kind(days) == name


def person(region: str = "DE", platforms: tuple[str, ...] = ("linkedin",)) -> Subscriber:
    place = regions.resolve(region)
    return Subscriber(
        subscriber_id="s1",
        channel="email",
        contact="ada@example.org",
        region=place.code,
        home_group=place.group,
        locale="en",
        timezone="Europe/Berlin",
        platforms=platforms,
        status=Status.ACTIVE,
        consent=Consent(requested_at="", form_version="", source="web-form"),
        created_at="",
    )


EU_DEADLINE = "2025-11-02T23:00:00Z"
SENT, PENDING = ReminderState.FANNED_OUT, ReminderState.PENDING


def eu(days: int, due_at: str, state: ReminderState) -> Reminder:
    return planned_reminder("EU", days, due_at, deadline=EU_DEADLINE, state=state)


def test_a_late_joiner_gets_the_latest_reminder_that_went_out_to_them() -> None:
    plan_ = [
        eu(14, "2025-10-20T07:00:00Z", SENT),
        eu(7, "2025-10-27T08:00:00Z", SENT),
        eu(1, "2025-11-02T08:00:00Z", PENDING),
        eu(0, "2025-11-03T08:00:00Z", PENDING),
    ]
    now = datetime(2025, 10, 28, 9, tzinfo=UTC)
    assert plan.catch_up(plan_, person(), now) == plan_[1]
    # nothing before any went out: the fan-out reaches them
    assert plan.catch_up([replace(r, state=PENDING) for r in plan_], person(), now) is None
    # not someone of another region, nor of a carved-out country, nor of another platform
    assert plan.catch_up(plan_, person("CA"), now) is None
    carved = [replace(r, audience=Audience(groups=("EU",), except_regions=("DE",))) for r in plan_]
    assert plan.catch_up(carved, person("DE"), now) is None
    assert plan.catch_up(plan_, person(platforms=("meta",)), now) is None
    assert plan.catch_up(plan_, person(platforms=()), now) == plan_[1]  # every platform


def test_past_the_deadline_a_late_joiner_gets_only_live_now() -> None:
    last_day_sent = [eu(1, "2025-11-02T08:00:00Z", SENT), eu(0, "2025-11-03T08:00:00Z", PENDING)]
    night = datetime(2025, 11, 3, 2, tzinfo=UTC)
    assert plan.catch_up(last_day_sent, person(), night) is None
    live_now_sent = [replace(last_day_sent[0]), replace(last_day_sent[1], state=SENT)]
    assert plan.catch_up(live_now_sent, person(), night) == live_now_sent[1]


# -- a moved deadline (issue 16 §2) ---------------------------------------------------------

OLD = "2025-11-02T23:00:00Z"


def test_a_deadline_moved_after_a_reminder_went_out_is_told_later_or_earlier() -> None:
    sent = [planned_reminder("EU", 7, state=ReminderState.FANNED_OUT), planned_reminder("EU", 1)]
    assert plan.deadline_notice(sent, OLD, "2025-11-09T23:00:00Z") == (1, plan.DEADLINE_LATER)
    assert plan.deadline_notice(sent, OLD, "2025-10-30T23:00:00Z") == (1, plan.DEADLINE_EARLIER)


def test_a_deadline_that_does_not_move_or_moves_before_anything_went_out_is_not_told() -> None:
    sent = [planned_reminder("EU", 7, state=ReminderState.FANNED_OUT)]
    assert plan.deadline_notice(sent, OLD, "2025-11-03T00:00:00+01:00") is None
    assert plan.deadline_notice([planned_reminder("EU", 7)], OLD, "2025-11-09T23:00:00Z") is None


def test_a_move_already_told_is_not_told_again_and_the_next_one_is_numbered_after_it() -> None:
    told = replace(
        planned_reminder("EU", 0, deadline="2025-11-09T23:00:00Z", state=ReminderState.FANNED_OUT),
        notice=1,
        kind=plan.DEADLINE_LATER,
    )
    sent = [planned_reminder("EU", 7, state=ReminderState.FANNED_OUT), told]
    # the campaign's deadline not yet written when a crash stopped the first attempt
    assert plan.deadline_notice(sent, OLD, "2025-11-09T23:00:00Z") is None
    assert plan.deadline_notice(sent, "2025-11-09T23:00:00Z", OLD) == (2, plan.DEADLINE_EARLIER)


def test_a_notice_and_a_reminder_due_together_both_go_out() -> None:
    now = datetime(2025, 11, 2, 8, 0, tzinfo=UTC)
    last_day = planned_reminder("EU", 1, due_at="2025-11-02T08:00:00Z")
    notice = replace(last_day, notice=1, kind=plan.DEADLINE_LATER, due_at="2025-11-02T07:55:00Z")
    send, superseded = plan.supersede([notice, last_day], now)
    assert {r.reminder_id for r in send} == {"EU-01", "EU-N1"}
    assert superseded == []
