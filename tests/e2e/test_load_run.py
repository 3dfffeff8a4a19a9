"""`make bench`'s load run, small enough for every CI run: the local stack in its own process,
a whole campaign played by the clock, and subscribe, click and "I've switched it off" traffic
from a second process. A reminder sent twice or lost fails CI here, not only in the benchmark.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench import load

pytestmark = pytest.mark.slow

# The run's nineteen places, twenty people each. Reached: the eighteen places in the campaign
# (not the UK), less the one person in each who follows only Meta. Some text, some of them from
# Vancouver, where 09:00 in Toronto is too early for a text.
SUBSCRIBERS = 380
REACHED = 18 * 20 - 18
REMINDERS = 4  # two weeks, one week, one day before, and the last day


def test_a_whole_campaign_under_traffic_sends_each_reminder_once(tmp_path: Path) -> None:
    options = argparse.Namespace(
        subscribers=SUBSCRIBERS, traffic_rate=load.DEFAULT_TRAFFIC_RATE, traffic_seconds=120.0
    )

    figures = load.run(options, tmp_path)

    assert load.problems(figures) == []
    checked = figures["check"]
    assert figures["reminders_per_region"] == dict.fromkeys(load.REACHED_GROUPS, REMINDERS)
    assert figures["reached"] == REACHED
    assert checked["expected"] == REACHED * REMINDERS
    # Those who said "I've switched it off" (from a reminder) miss the ones after, and only they.
    assert checked["done"] > 0 and checked["after_done"] == 0
    missed = checked["expected"] - checked["reminders"]
    assert 0 <= missed <= checked["done"] * (REMINDERS - 1)
    assert checked["deferred"] > 0  # Vancouver's texts waited for the morning
    answers = figures["traffic"]["answers"]
    assert {"subscribe 202", "click 302", "done 200"} <= answers.keys()
    assert checked["confirmations"] == answers["subscribe 202"]
