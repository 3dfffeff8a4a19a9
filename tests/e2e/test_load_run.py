"""`make bench`'s load run, small enough for every CI run: the local stack in its own process,
a whole campaign played by the clock, and subscribe, click and "I've switched it off" traffic
from a second process. A reminder sent twice or lost fails CI here, not only in the benchmark.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import load

# One of each of the run's nineteen places, twenty times over: every place has subscribers who
# text, who follow only Meta, and who are not reached (the UK).
SUBSCRIBERS = 380


def test_a_whole_campaign_under_traffic_sends_each_reminder_once(tmp_path: Path) -> None:
    options = argparse.Namespace(
        subscribers=SUBSCRIBERS, traffic_rate=load.DEFAULT_TRAFFIC_RATE, traffic_seconds=120.0
    )

    figures = load.run(options, tmp_path)

    assert load.problems(figures) == []
    checked = figures["check"]
    reached = [person for person in load.people(SUBSCRIBERS) if person.reached]
    assert checked["expected"] == sum(
        figures["reminders_per_region"][person.group] for person in reached
    )
    # Those who said "I've switched it off" miss the reminders after it, and only those.
    assert checked["done"] > 0 and checked["after_done"] == 0
    missed = checked["expected"] - checked["reminders"]
    assert 0 <= missed <= checked["done"] * max(figures["reminders_per_region"].values())
    assert checked["deferred"] > 0  # Vancouver's texts waited for the morning
    answers = figures["traffic"]["answers"]
    assert {"subscribe 202", "click 302", "done 200"} <= answers.keys()
    assert checked["confirmations"] == answers["subscribe 202"]
