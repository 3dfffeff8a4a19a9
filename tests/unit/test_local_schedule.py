"""How the local stack plays template.yaml's schedules: each function at its own rate on the
stack's clock (`local.template.schedules`, `local.stack.Timetable`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local import template
from local.stack import Timetable

START = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)
EVERY_TICK = "SchedulerFunction"
HOURLY = "WatcherFunction"


def function(name: str, **events: dict[str, Any]) -> template.Function:
    return template.Function(name, Path("functions"), "app.lambda_handler", events, frozenset())


def scheduled(name: str, expression: str) -> template.Function:
    return function(name, Tick={"Type": "Schedule", "Properties": {"Schedule": expression}})


def timetable() -> Timetable:
    """The scheduler every five minutes and a watcher every hour, as the stack starts at START."""
    schedules = template.schedules(
        [scheduled(EVERY_TICK, "rate(5 minutes)"), scheduled(HOURLY, "rate(1 hour)")]
    )
    return Timetable(schedules, started=START)


# ---------------------------------------------------------------- reading the rates


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
    ],
)
def test_a_rate_is_read_as_its_period(expression: str, period: timedelta) -> None:
    assert template.parse_rate(expression) == period


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("rate(0 minutes)", "at least 1"),
        ("rate(1 hours)", "rate(1 hour)"),  # EventBridge wants the unit singular for 1
        ("rate(5 minute)", "rate(5 minutes)"),  # and plural otherwise
        ("rate(2 weeks)", "not a rate"),
        ("rate(-5 minutes)", "not a rate"),
        ("rate(five minutes)", "not a rate"),
        ("every 5 minutes", "not a rate"),
        ("", "not a rate"),
    ],
)
def test_a_rate_eventbridge_refuses_is_refused_saying_what_to_write(
    expression: str, said: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        template.parse_rate(expression)


def test_each_scheduled_function_is_listed_with_its_period() -> None:
    # Given a function on a schedule, one on an HTTP route and one on a queue
    functions = [
        scheduled(HOURLY, "rate(1 hour)"),
        function("ApiFunction", Get={"Type": "Api", "Properties": {"Path": "/", "Method": "get"}}),
        function("QueueFunction", Jobs={"Type": "SQS", "Properties": {"Queue": "q"}}),
    ]

    # When their schedules are read
    schedules = template.schedules(functions)

    # Then only the scheduled one is listed, with its rate
    assert schedules == {HOURLY: template.Schedule(HOURLY, "rate(1 hour)", timedelta(hours=1))}


def test_a_cron_schedule_is_refused_naming_its_function() -> None:
    with pytest.raises(ValueError, match=r"WatcherFunction's schedule .*cron"):
        template.schedules([scheduled(HOURLY, "cron(0 * * * ? *)")])


def test_a_bad_rate_is_refused_naming_its_function() -> None:
    with pytest.raises(ValueError, match=r"WatcherFunction's schedule: 'rate\(1 hours\)'"):
        template.schedules([scheduled(HOURLY, "rate(1 hours)")])


# ---------------------------------------------------------------- POST /_local/tick


def test_the_first_tick_runs_every_scheduled_function() -> None:
    assert timetable().tick(START + timedelta(seconds=3)) == [EVERY_TICK, HOURLY]


def test_a_tick_within_the_hour_runs_the_scheduler_alone() -> None:
    # Given a first tick ran both
    times = timetable()
    times.tick(START)

    # When the stack ticks again five minutes later, and again at once
    # Then the scheduler runs each time, and the hourly function not again
    assert times.tick(START + timedelta(minutes=5)) == [EVERY_TICK]
    assert times.tick(START + timedelta(minutes=5, seconds=1)) == [EVERY_TICK]


def test_a_tick_an_hour_after_its_last_run_runs_the_hourly_function_again() -> None:
    # Given a first tick ran both, and another ran the scheduler 59 minutes on
    times = timetable()
    times.tick(START)
    times.tick(START + timedelta(minutes=59))

    # When the clock has moved an hour on from the first
    ran = times.tick(START + timedelta(hours=1))

    # Then both run
    assert ran == [EVERY_TICK, HOURLY]


def test_a_tick_after_the_clock_was_moved_back_runs_the_hourly_function_again() -> None:
    # Given a tick ran both at 09:00
    times = timetable()
    times.tick(START)

    # When the clock is set back to 08:50 and the stack ticks
    ran = times.tick(START - timedelta(minutes=10))

    # Then the timeline replays from there: both run
    assert ran == [EVERY_TICK, HOURLY]


def test_a_tick_runs_the_shortest_rate_even_when_it_is_not_the_scheduler() -> None:
    # Given a stack whose only schedule is hourly
    times = Timetable(template.schedules([scheduled(HOURLY, "rate(1 hour)")]), started=START)
    times.tick(START)

    # When it ticks a minute later, then it runs again: its rate is the stack's beat
    assert times.tick(START + timedelta(minutes=1)) == [HOURLY]


# ---------------------------------------------------------------- the pump, as EventBridge


def test_the_pump_runs_nothing_before_the_first_rate_has_passed() -> None:
    assert timetable().pump(START + timedelta(minutes=4, seconds=59)) == []


def test_the_pump_runs_each_function_when_its_own_rate_has_passed() -> None:
    # Given a stack started at 09:00, pumped every five minutes
    times = timetable()
    ran = [times.pump(START + timedelta(minutes=minutes)) for minutes in range(5, 65, 5)]

    # Then the scheduler runs every time, and the hourly function only at 10:00
    assert all(EVERY_TICK in names for names in ran)
    assert [names for names in ran if HOURLY in names] == [[EVERY_TICK, HOURLY]]
    assert ran[-1] == [EVERY_TICK, HOURLY]


def test_the_pump_runs_every_function_when_the_clock_is_moved_back() -> None:
    assert timetable().pump(START - timedelta(days=1)) == [EVERY_TICK, HOURLY]


def test_a_tick_counts_as_a_run_for_the_pump() -> None:
    # Given a tick ran both at 09:30
    times = timetable()
    times.tick(START + timedelta(minutes=30))

    # When the pump looks at 10:00 and at 10:30
    # Then the hourly function waits for its hour from the tick
    assert times.pump(START + timedelta(hours=1)) == [EVERY_TICK]
    assert times.pump(START + timedelta(hours=1, minutes=30)) == [EVERY_TICK, HOURLY]
