"""A/B tests judged by conversions, as organisers and subscribers see them: an organiser gives
"one week left" two subjects; at its due time a share of the audience gets them, half each, and
nobody else; people say "I've switched it off" through one of them; after the wait the rest
gets the one that converted better, or the organiser's first when too few converted to tell.
Through the real admin, scheduler, fan-out, sender and links handlers on moto."""

from __future__ import annotations

import html
import io
import json
from collections import Counter
from csv import DictReader
from datetime import UTC, datetime
from typing import Any

import pytest

from local import invoke
from optout.core import settings
from optout.domain import ab
from optout.organisers import launch_check
from optout.sending import catch_up, sender
from optout.store import CampaignStore
from tests.helpers import CAMPAIGN, LINKEDIN, active, link, to
from tests.integration.conftest import Organiser, Stack

# Enough that the random split leaves each variant enough readers for the z-test to tell (all of
# B's readers against none of A's is significant unless one variant has fewer than a tenth).
PEOPLE = 100
A_SUBJECT = "One week left to opt out of AI training"
B_SUBJECT = "{{ time_left }} left: LinkedIn will train its AI on your posts"
B_SEEN = "1 week left: LinkedIn will train its AI on your posts"  # as rendered in English
WEEK_LEFT = "2025-10-27T08:00:00Z"  # 09:00 in Brussels, a week before the EU deadline


def at(stack: Stack, test_clock: Any, moment: str) -> dict[str, Any]:
    """Move the clock, tick through the scheduler's own handler (its role as on AWS), and run
    fan-out and sender to the end; the tick's answer."""
    test_clock.now = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    ticked: dict[str, Any] = invoke.invoke(
        "SchedulerFunction", invoke.scheduled_event(test_clock.now)
    )
    stack.run_fanout()
    stack.run_sender()
    return ticked


def a_test(**changes: Any) -> dict[str, Any]:
    return {
        "ab_tests": [
            {
                "days_before": 7,
                "share": 0.5,
                "wait_hours": 4,
                "variants": [
                    {"name": "A", "subject": {"en": A_SUBJECT}},
                    {
                        "name": "B",
                        "subject": {"en": B_SUBJECT},
                        "opening": {"en": "Your posts train their AI unless you say no."},
                    },
                ],
                **changes,
            }
        ]
    }


@pytest.fixture
def people(stack: Stack, organiser: Organiser, test_clock: Any) -> list[str]:
    """The LinkedIn campaign with a test of "one week left" to half its audience, and a
    hundred people in Germany."""
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    set_test = organiser.call(
        "POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=json.dumps(a_test())
    )
    assert set_test.status == 200, set_test.text
    addresses = [f"person{n:02d}@example.org" for n in range(PEOPLE)]
    for address in addresses:
        active(address, "DE", "en")
    return addresses


def subjects(stack: Stack, addresses: list[str]) -> dict[str, list[str]]:
    return {address: [sent.subject for sent in to(stack, address)] for address in addresses}


def variant_of(subject: str) -> str:
    return {A_SUBJECT: "A", B_SEEN: "B"}.get(subject, "?")


def eu_test(organiser: Organiser) -> dict[str, Any]:
    """The stats of the EU's "one week left" test (each region's reminder runs its own)."""
    tests = {test["reminder"]: test for test in stats_of(organiser)["ab_tests"]}
    return dict(tests["EU-07"])


def stats_of(organiser: Organiser) -> dict[str, Any]:
    reply = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats")
    assert reply.status == 200
    return dict(reply.json())


def test_the_test_share_gets_the_variants_at_the_due_time_and_nobody_else(
    stack: Stack, organiser: Organiser, test_clock: Any, people: list[str]
) -> None:
    # When "one week left" comes due
    at(stack, test_clock, WEEK_LEFT)
    # Then about half get it, each one variant, and the others nothing yet
    got = {address: s for address, s in subjects(stack, people).items() if s}
    assert 25 <= len(got) <= 75
    assert all(len(s) == 1 for s in got.values())
    by_variant = Counter(variant_of(s[0]) for s in got.values())
    assert set(by_variant) == {"A", "B"}
    # B's opening stands where the summary would
    b_reader = next(a for a, s in got.items() if variant_of(s[0]) == "B")
    assert "Your posts train their AI unless you say no." in to(stack, b_reader)[0].text
    # And the stats say who is waiting for the result
    test = eu_test(organiser)
    assert test["decision"] is None
    assert test["held_for_result"] == PEOPLE - len(got)
    assert {v["variant"]: v["test"]["sent"] for v in test["variants"]} == {
        "A": by_variant["A"],
        "B": by_variant["B"],
    }


def test_after_the_wait_the_rest_gets_the_variant_that_converted_better(
    stack: Stack, organiser: Organiser, test_clock: Any, people: list[str]
) -> None:
    # Given the test share got its variants, and every B reader switched it off
    at(stack, test_clock, WEEK_LEFT)
    first = {address: s[0] for address, s in subjects(stack, people).items() if s}
    b_readers = [a for a, s in first.items() if variant_of(s) == "B"]
    test_clock.now = datetime(2025, 10, 27, 10, 0, tzinfo=UTC)
    for address in b_readers:
        (email,) = to(stack, address)
        assert stack.call("done", path=link(email.text, "done")).status == 200
    # When the four hours' wait is over
    ticked = at(stack, test_clock, "2025-10-27T12:05:00Z")
    # Then the rest gets B, and nobody has two copies
    assert ticked["ab_rest_started"] == 4  # each region's "one week left" has its own test
    after = subjects(stack, people)
    assert all(len(s) == 1 for s in after.values()), "one message each, whichever phase"
    rest = [a for a in people if a not in first]
    assert rest and all(variant_of(after[a][0]) == "B" for a in rest)
    assert all(after[a][0] == first[a] for a in first)  # the test share kept theirs
    # And the stats show each variant's numbers and the decision with its reason
    test = eu_test(organiser)
    numbers = {v["variant"]: v for v in test["variants"]}
    assert numbers["B"]["test"]["confirmed"] == len(b_readers)
    assert numbers["B"]["test"]["conversion_rate"] == 1.0
    assert numbers["A"]["test"]["confirmed"] == 0
    assert numbers["B"]["rest"]["sent"] == len(rest) and numbers["A"]["rest"]["sent"] == 0
    decision = test["decision"]
    assert decision["winner"] == "B" and decision["significant"]
    assert decision["reason"].startswith("B: 100.0% vs 0.0%, significant at 95%")
    assert test["held_for_result"] == 0
    csv = organiser.call(
        "GET", f"/admin/campaigns/{CAMPAIGN}/stats", query="format=csv&table=ab_tests"
    ).text
    assert csv.startswith("reminder,variant,group,sent,confirmed,conversion_rate,winner,reason")
    assert f"EU-07,B,test,{len(b_readers)},{len(b_readers)},1.0,B," in csv
    # And the regions' CSV is one table, as a spreadsheet or csv.DictReader reads it
    regions = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats", query="format=csv")
    rows = list(DictReader(io.StringIO(regions.text)))
    assert [row["region"] for row in rows] == [
        *(r["region"] for r in stats_of(organiser)["regions"]),
        "all",
    ]
    # And everyone is counted once as sent
    total = stats_of(organiser)["total"]
    assert total["sent"] == PEOPLE
    # And the campaign's dashboard page shows the decision and its reason
    page = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=organiser.sign_in())
    assert page.status == 200 and "A/B tests" in page.text
    assert "B: 100.0% vs 0.0%, significant at 95%" in page.text


def test_with_too_few_conversions_the_rest_gets_the_first_variant_and_the_reason_says_so(
    stack: Stack, organiser: Organiser, test_clock: Any, people: list[str]
) -> None:
    # Given one B reader switched it off, and nobody else
    at(stack, test_clock, WEEK_LEFT)
    first = {address: s[0] for address, s in subjects(stack, people).items() if s}
    b_reader = next(a for a, s in first.items() if variant_of(s) == "B")
    test_clock.now = datetime(2025, 10, 27, 10, 0, tzinfo=UTC)
    (email,) = to(stack, b_reader)
    assert stack.call("done", path=link(email.text, "done")).status == 200
    # When the wait is over
    at(stack, test_clock, "2025-10-27T12:05:00Z")
    # Then the rest gets A, the organiser's first, and the reason says there were too few
    after = subjects(stack, people)
    rest = [a for a in people if a not in first]
    assert all(len(s) == 1 for s in after.values())
    assert all(variant_of(after[a][0]) == "A" for a in rest)
    test = eu_test(organiser)
    assert test["decision"]["winner"] == "A" and not test["decision"]["significant"]
    assert test["decision"]["reason"].startswith("too few conversions to tell (1 in all")
    assert "two-proportion z-test at 95%" in test["decision"]["reason"]


def test_a_late_joiner_of_the_rest_waits_for_the_result_then_gets_the_winner(
    stack: Stack, organiser: Organiser, test_clock: Any, people: list[str]
) -> None:
    at(stack, test_clock, WEEK_LEFT)
    before = {address: s for address, s in subjects(stack, people).items() if s}
    held = eu_test(organiser)["held_for_result"]
    # Given people who join during the wait, caught up at once with the latest reminder
    test_clock.now = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)
    late = [f"late{n:02d}@example.org" for n in range(20)]
    ids = [active(address, "DE", "en") for address in late]
    catch_up.request(settings.get(), ids, test_clock.now)
    stack.drain_notices()
    stack.run_sender()
    # Then those of the test share get their variant, and those of the rest wait for the result
    caught_up = [a for a, s in subjects(stack, late).items() if s]
    assert 0 < len(caught_up) < len(late)
    assert eu_test(organiser)["held_for_result"] == held + len(late) - len(caught_up)
    # And the organisers' tools are told of each late joiner once, the held ones as held
    told = [e.data["counts"] for e in stack.events("reminder.sent") if e.data["catch_up"]]
    assert sum(sum(counts.values()) for counts in told) == len(late)
    assert sum(counts.get("held_ab_test", 0) for counts in told) == len(late) - len(caught_up)
    # When the wait ends
    at(stack, test_clock, "2025-10-27T12:05:00Z")
    # Then everyone, early or late, has exactly one copy
    after = subjects(stack, [*people, *late])
    assert all(len(s) == 1 for s in after.values())
    assert all(after[a] == before[a] for a in before)


@pytest.mark.parametrize(
    "body, problem",
    [
        (
            a_test(variants=[{"subject": {"en": "Only one"}}]),
            "ab_tests[0].variants",
        ),
        (a_test(share=1.5), "ab_tests[0].share"),
        (
            a_test(variants=[{"subject": {"en": "a", "xx": "b"}}, {"subject": {"en": "c"}}]),
            "ab_tests[0].variants[0].subject.xx",
        ),
        (
            a_test(variants=[{"subject": {"en": "{{ nope }}"}}, {"subject": {"en": "c"}}]),
            "ab_tests[0].variants[0].en",
        ),
        (
            a_test(variants=[{"subject": {"en": "{% if %}"}}, {"subject": {"en": "c"}}]),
            "ab_tests[0].variants[0].en",
        ),
        # A subject that makes every text of the variant cost more segments (an emoji turns a
        # text into UCS-2: 67 characters a segment, not 153)
        (
            a_test(
                variants=[
                    {"subject": {"en": "\N{BELL} Your posts will train their AI. " * 4}},
                    {"subject": {"en": "c"}},
                ]
            ),
            "(variant A) takes",
        ),
    ],
)
def test_bad_variants_get_a_clear_400_and_change_nothing(
    stack: Stack, organiser: Organiser, test_clock: Any, body: dict[str, Any], problem: str
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    reply = organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=json.dumps(body))
    assert reply.status == 400, reply.text
    assert problem in reply.text
    shown = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()
    assert shown["ab_tests"] == []


def test_a_test_cannot_change_once_its_reminder_has_gone_out(
    stack: Stack, organiser: Organiser, test_clock: Any, people: list[str]
) -> None:
    at(stack, test_clock, WEEK_LEFT)
    reply = organiser.call(
        "POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=json.dumps({"ab_tests": []})
    )
    assert reply.status == 409 and "EU-07" in reply.text
    changed = a_test(share=0.3)
    reply = organiser.call(
        "POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=json.dumps(changed)
    )
    assert reply.status == 409 and "EU-07" in reply.text


def test_other_tests_can_change_after_one_went_out_and_nobody_of_it_moves(
    stack: Stack, organiser: Organiser, test_clock: Any, people: list[str]
) -> None:
    # Given "one week left" went out to its test share
    at(stack, test_clock, WEEK_LEFT)
    first = {address: s[0] for address, s in subjects(stack, people).items() if s}
    # When the organiser adds a test of "last day", sending "one week left"'s unchanged
    last_day = a_test(days_before=1)["ab_tests"][0]
    body = {"ab_tests": [a_test()["ab_tests"][0], last_day]}
    reply = organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=json.dumps(body))
    # Then it is saved, and after the wait everyone has "one week left" once: nobody moved
    assert reply.status == 200, reply.text
    sender.forget_campaigns()
    at(stack, test_clock, "2025-10-27T12:05:00Z")
    after = subjects(stack, people)
    assert all(len(s) == 1 for s in after.values()), after
    assert all(after[a][0] == first[a] for a in first)
    assert stats_of(organiser)["total"]["sent"] == PEOPLE


def test_a_test_saved_as_its_reminder_starts_splits_people_by_the_test_it_started_with(
    stack: Stack, organiser: Organiser, test_clock: Any, people: list[str]
) -> None:
    # Given a tick started "one week left" and its fan-out queued the test share's batches
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
    invoke.invoke("SchedulerFunction", invoke.scheduled_event(test_clock.now))
    stack.run_fanout()
    # When an organiser's save, checked just before the tick, lands just after it: the test
    # drawn anew (another seed, another share)
    store = CampaignStore(settings.get())
    (started,) = ab.parse_tests(a_test(share=0.3)["ab_tests"], "another seed")
    store.set_ab_tests(CAMPAIGN, (started,), test_clock.now)
    sender.forget_campaigns()
    stack.run_sender()
    at(stack, test_clock, "2025-10-27T12:05:00Z")
    # Then everyone gets "one week left" exactly once, counted once as sent: nobody is held by
    # one split and left out by the other
    after = subjects(stack, people)
    assert all(len(s) == 1 for s in after.values()), after
    assert stats_of(organiser)["total"]["sent"] == PEOPLE
    test = eu_test(organiser)
    assert test["share"] == 0.5 and test["held_for_result"] == 0


def test_the_preview_shows_each_variant(
    stack: Stack, organiser: Organiser, test_clock: Any, people: list[str]
) -> None:
    reply = organiser.call(
        "GET",
        f"/admin/campaigns/{CAMPAIGN}/preview",
        query="region=EU&reminder=one-week-left&channel=email&locale=de",
    )
    assert reply.status == 200, reply.text
    shown = reply.json()
    # B has no German: it falls back to its English, as the templates do
    assert [(v["variant"], v["subject"]) for v in shown["variants"]] == [
        ("A", A_SUBJECT),
        ("B", "1 Woche left: LinkedIn will train its AI on your posts"),
    ]
    assert shown["subject"] == A_SUBJECT  # the first variant: what the rest gets by default
    assert "Your posts train their AI unless you say no." in shown["variants"][1]["text"]
    texts = organiser.call(
        "GET",
        f"/admin/campaigns/{CAMPAIGN}/preview",
        query="region=EU&reminder=one-week-left&channel=sms&locale=en",
    ).json()
    assert texts["variants"][1]["text"].startswith(B_SEEN)
    # And the dashboard's preview page shows them too, as the campaign's page shows the test
    cookie = organiser.sign_in()
    page = organiser.browse(
        "GET",
        f"/admin/campaigns/{CAMPAIGN}/preview",
        cookie=cookie,
        query="region=EU&reminder=one-week-left&channel=email&locale=en",
    )
    assert page.status == 200 and "Variant A" in page.text and "Variant B" in page.text
    campaign_page = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=cookie)
    assert campaign_page.status == 200
    assert "variants A, B to 50% of each region's audience" in campaign_page.text


@pytest.mark.parametrize(
    "wait_hours, problem",
    [
        (13, "after the day's window ends at 21:00 CET"),
        (16, "past the deadline"),
    ],
)
def test_the_launch_check_warns_when_the_wait_pushes_the_rest_too_late(
    stack: Stack, organiser: Organiser, test_clock: Any, wait_hours: int, problem: str
) -> None:
    # Given "last day" (09:00 in Brussels, the deadline at midnight) tested with a long wait
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    body = a_test(days_before=1, wait_hours=wait_hours)
    assert (
        organiser.call(
            "POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=json.dumps(body)
        ).status
        == 200
    )
    # When the organiser checks the launch
    checked = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/launch-check").json()
    # Then the EU's "last day" says when the rest would go, and why that is too late
    (row,) = [r for r in checked["reminders"] if r["region"] == "EU" and r["kind"] == "last-day"]
    assert row["ab_test"]["wait_hours"] == wait_hours
    assert any("its A/B test waits" in p and problem in p for p in row["problems"]), row
    assert not checked["ok"]
    page = organiser.browse(
        "GET", f"/admin/campaigns/{CAMPAIGN}/launch-check", cookie=organiser.sign_in()
    )
    assert page.status == 200 and problem in html.unescape(page.text)


@pytest.mark.parametrize(
    "resumed_at, expected",
    [
        # Resumed when "last day" comes due: the rest gets it, not "one week left" beside it
        ("2025-11-02T08:05:00Z", "Last day to opt out"),
        # Resumed after the deadline: the rest gets "live now", never "one week left"
        ("2025-11-03T08:05:00Z", None),
    ],
)
def test_a_rest_resumed_too_late_gives_way_to_the_later_reminder_and_its_people_are_counted(
    stack: Stack,
    organiser: Organiser,
    test_clock: Any,
    people: list[str],
    resumed_at: str,
    expected: str | None,
) -> None:
    # Given the test share got "one week left", and the campaign paused during the wait
    at(stack, test_clock, WEEK_LEFT)
    first = {address: s[0] for address, s in subjects(stack, people).items() if s}
    held = eu_test(organiser)["held_for_result"]
    assert held == PEOPLE - len(first)
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/pause").status == 200
    assert at(stack, test_clock, "2025-10-27T12:05:00Z")["ab_rest_held"] >= 1
    # When it is resumed only once a later reminder is due
    test_clock.now = datetime.fromisoformat(resumed_at.replace("Z", "+00:00"))
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/resume").status == 200
    sender.forget_campaigns()
    ticked = at(stack, test_clock, resumed_at)
    # Then nobody of the rest gets "one week left": they get the later reminder alone
    assert ticked["ab_rest_started"] == 0 and ticked["ab_rest_superseded"] == 4
    rest = [a for a in people if a not in first]
    after = subjects(stack, rest)
    assert all(len(s) == 1 for s in after.values()), after
    assert not any(variant_of(s[0]) in ("A", "B") for s in after.values())
    if expected:
        assert all(s[0].startswith(expected) for s in after.values())
    # And the held people are counted, as skipped for a later reminder, and no longer held
    test = eu_test(organiser)
    assert test["state"] == "superseded" and test["held_for_result"] == 0
    assert test["decision"] is None
    eu = next(r for r in stats_of(organiser)["regions"] if r["region"] == "EU")
    assert eu["skipped_superseded"] == held


def test_a_rest_waits_while_its_campaign_is_withdrawn_and_goes_once_it_is_revived(
    stack: Stack, organiser: Organiser, test_clock: Any, people: list[str]
) -> None:
    # Given the test share got "one week left", and the campaign withdrawn during the wait
    at(stack, test_clock, WEEK_LEFT)
    first = {address: s[0] for address, s in subjects(stack, people).items() if s}
    withdrawal = {"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": CAMPAIGN}}
    assert stack.post_webhook(withdrawal, webhook_id="msg_w1").status == 200
    ticked = at(stack, test_clock, "2025-10-27T12:05:00Z")
    assert ticked["ab_rest_cancelled"] == 0 and ticked["ab_rest_held"] >= 1
    # When it is revived the next hour (the policy change is back)
    test_clock.now = datetime(2025, 10, 27, 13, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN, webhook_id="msg_back").status == 200
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()["status"] == "active"
    sender.forget_campaigns()
    at(stack, test_clock, "2025-10-27T13:05:00Z")
    # Then the rest gets its "one week left" after all, once each
    after = subjects(stack, people)
    assert all(len(s) == 1 for s in after.values()), after
    assert [a for a in people if a not in first]


def test_the_launch_check_warns_when_the_test_share_takes_much_of_the_wait_to_send(
    stack: Stack,
    organiser: Organiser,
    test_clock: Any,
    people: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a slow sending account (an email every 100 seconds) and an hour's wait for half
    # of a hundred people
    slow = launch_check.Rates(0.01, 1.0, float("inf"), "a slow account")
    monkeypatch.setattr(launch_check, "sending_rates", lambda _settings: slow)
    body = json.dumps(a_test(wait_hours=1))
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=body).status == 200
    # When the organiser checks the launch
    checked = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/launch-check").json()
    # Then "one week left" in the EU says its test share takes most of the wait to send
    (row,) = [
        r for r in checked["reminders"] if r["region"] == "EU" and r["kind"] == "one-week-left"
    ]
    assert any("test share's" in p and "Lengthen the wait" in p for p in row["problems"]), row
    assert not checked["ok"]
