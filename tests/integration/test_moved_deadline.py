"""A moved deadline is told (issue 16 §2): when `policy.changed` moves a region's deadline
after its reminders went out, everyone in that region who has not said "I've switched it off"
gets one short notice in their language, and the unsent reminders are re-planned.

The LinkedIn campaign's dates (UTC): the EU's "one week left" goes out on 27 October at 08:00
and its deadline is 2 November 23:00 (3 November 00:00 in Brussels); Canada's "one week left"
goes out on 27 October at 13:00.
"""

from __future__ import annotations

import copy
from typing import Any

from optout.core import settings
from optout.store import CampaignStore
from tests.helpers import CAMPAIGN, LINKEDIN, active, at, link, to
from tests.integration.conftest import Organiser, Stack

ADA = "ada@example.org"  # in Germany, reads English
BERT = "bert@example.org"  # in Germany, reads German
CLAIRE = "claire@example.org"  # in Canada
BERLIN_PHONE = "+4915112345678"  # in Germany, by text
DORA = "dora@example.org"  # in Germany, has said "I've switched it off"


def moved(eu_deadline: str) -> dict[str, Any]:
    """The LinkedIn webhook body with the EU's deadline at `eu_deadline`."""
    payload = copy.deepcopy(LINKEDIN)
    for entry in payload["regions"]:
        if entry["region"] == "EU":
            entry["effective_at"] = eu_deadline
    return payload


A_WEEK_LATER = "2025-11-10T00:00:00+01:00"
EARLIER = "2025-10-31T00:00:00+01:00"


def people() -> None:
    active(ADA, "DE", "en")
    active(BERT, "DE", "de")
    active(CLAIRE, "CA", "en")


def eu_stats() -> dict[str, int]:
    return CampaignStore(settings.get()).stats(CAMPAIGN).get("EU", {})


def test_a_deadline_moved_later_after_one_week_left_is_told_once_in_each_language(
    stack: Stack, test_clock, campaign, organiser: Organiser
) -> None:
    # Given "one week left" went out to the EU and Canada
    people()
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    assert len(to(stack, ADA)) == len(to(stack, CLAIRE)) == 1
    # When LinkedIn postpones the EU's deadline by a week, and the next tick runs
    assert stack.post_webhook(moved(A_WEEK_LATER), webhook_id="msg_moved").status == 200
    at(stack, test_clock, "2025-10-28T09:00:00Z")
    # Then each EU subscriber gets one notice naming the new date in their language
    [english] = to(stack, ADA)[1:]
    assert english.subject.startswith("The deadline moved to November 10, 2025")
    assert "November 10, 2025" in english.text
    [german] = to(stack, BERT)[1:]
    assert german.subject.startswith("Die Frist wurde verschoben auf den 10. November 2025")
    # And nobody in Canada hears of it
    assert len(to(stack, CLAIRE)) == 1
    # And the stats count them, the plan shows the notice and the EU's unsent reminders moved
    assert eu_stats()["deadline_notices"] == 2
    stats = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats").json()
    eu_row = next(row for row in stats["regions"] if row["region"] == "EU")
    assert eu_row["deadline_notices"] == 2
    shown = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()
    eu_plan = {r["kind"]: r for r in shown["plan"]["EU"]}
    assert eu_plan["deadline-later"]["notice"] == 1
    assert eu_plan["deadline-later"]["deadline"] == "2025-11-09T23:00:00Z"
    assert eu_plan["last-day"]["due_at"] == "2025-11-09T08:00:00Z"
    assert eu_plan["last-day"]["state"] == "pending"
    assert shown["regions"]["EU"] == "2025-11-09T23:00:00Z"
    # And the old "last day" no longer comes: the next EU message is the new one, on 9 November
    at(stack, test_clock, "2025-11-02T08:00:00Z")
    assert len(to(stack, ADA)) == 2
    at(stack, test_clock, "2025-11-09T08:00:00Z")
    assert to(stack, ADA)[-1].subject.startswith("Last day to opt out")


def test_a_deadline_moved_earlier_says_so_with_the_days_left(
    stack: Stack, test_clock, campaign
) -> None:
    # Given "one week left" went out to the EU
    people()
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    # When the EU's deadline comes three days earlier
    assert stack.post_webhook(moved(EARLIER), webhook_id="msg_earlier").status == 200
    at(stack, test_clock, "2025-10-28T09:00:00Z")
    # Then the notice says it is earlier, and how long is left
    [english] = to(stack, ADA)[1:]
    assert english.subject.startswith("The deadline is now earlier: October 31, 2025, 3 days left")
    [german] = to(stack, BERT)[1:]
    assert german.subject.startswith("Die Frist ist jetzt früher: 31. Oktober 2025, noch 3 Tage")


def test_the_same_move_delivered_twice_or_under_another_id_is_told_once(
    stack: Stack, test_clock, campaign
) -> None:
    # Given "one week left" went out, and the move arrived
    people()
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    first = stack.post_webhook(moved(A_WEEK_LATER), webhook_id="msg_moved")
    assert first.json()["deadline_notices"] == 1
    # When the same delivery comes again, and the same body under another id, before and after
    # the notice went out
    assert stack.post_webhook(moved(A_WEEK_LATER), webhook_id="msg_moved").status == 200
    again = stack.post_webhook(moved(A_WEEK_LATER), webhook_id="msg_moved_again")
    assert "deadline_notices" not in again.json()
    at(stack, test_clock, "2025-10-28T09:00:00Z")
    assert stack.post_webhook(moved(A_WEEK_LATER), webhook_id="msg_third").status == 200
    at(stack, test_clock, "2025-10-28T10:00:00Z")
    # Then each person got one notice
    assert len(to(stack, ADA)) == len(to(stack, BERT)) == 2
    assert eu_stats()["deadline_notices"] == 2


def test_a_move_before_any_reminder_went_out_sends_nothing_but_re_plans(
    stack: Stack, test_clock, campaign, organiser: Organiser
) -> None:
    # Given nothing has gone out yet (the campaign was made on 13 October)
    people()
    # When the EU's deadline moves a week later
    reply = stack.post_webhook(moved(A_WEEK_LATER), webhook_id="msg_early_move")
    assert "deadline_notices" not in reply.json()
    at(stack, test_clock, "2025-10-14T09:00:00Z")
    # Then nobody is told, and the reminders follow the new date
    assert to(stack, ADA) == []
    shown = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()
    assert {r["kind"] for r in shown["plan"]["EU"]} == {
        "two-weeks-left",
        "one-week-left",
        "last-day",
        "live-now",
    }
    assert next(r for r in shown["plan"]["EU"] if r["kind"] == "one-week-left")["due_at"] == (
        "2025-11-03T08:00:00Z"
    )


def test_a_change_that_moves_nothing_sends_nothing(stack: Stack, test_clock, campaign) -> None:
    # Given "one week left" went out
    people()
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    # When the same body comes under a new webhook id (the same dates)
    reply = stack.post_webhook(moved(LINKEDIN["regions"][0]["effective_at"]), webhook_id="x")
    assert reply.status == 200
    assert "deadline_notices" not in reply.json()
    at(stack, test_clock, "2025-10-28T09:00:00Z")
    # Then nobody hears anything more
    assert len(to(stack, ADA)) == 1


def test_someone_who_switched_it_off_is_not_told(stack: Stack, test_clock, campaign) -> None:
    # Given Dora said "I've switched it off" after "one week left"
    people()
    active(DORA, "DE", "en")
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    [reminder] = to(stack, DORA)
    assert stack.call("done", path=link(reminder.text, "done")).status == 200
    # When the deadline moves
    stack.post_webhook(moved(A_WEEK_LATER), webhook_id="msg_moved")
    at(stack, test_clock, "2025-10-28T09:00:00Z")
    # Then she hears nothing, and the others are told
    assert len(to(stack, DORA)) == 1
    assert len(to(stack, ADA)) == 2
    assert eu_stats()["skipped_already_done"] == 1


def test_a_notice_by_text_waits_for_the_morning(stack: Stack, test_clock, campaign) -> None:
    # Given a subscriber by text in Berlin had "one week left"
    active(BERLIN_PHONE, "DE", "en")
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    assert len(to(stack, BERLIN_PHONE)) == 1
    # When the deadline moves at 23:00 in Berlin
    test_clock.now = test_clock.now.replace(day=28, hour=22)
    assert stack.post_webhook(moved(A_WEEK_LATER), webhook_id="msg_night").status == 200
    at(stack, test_clock, "2025-10-28T22:05:00Z")
    # Then the text waits for 08:00 there, and then says the new date
    assert len(to(stack, BERLIN_PHONE)) == 1
    at(stack, test_clock, "2025-10-29T07:00:00Z")
    [notice] = to(stack, BERLIN_PHONE)[1:]
    assert "The deadline moved to November 10, 2025" in notice.text
