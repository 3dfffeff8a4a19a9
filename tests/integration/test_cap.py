"""A cap across campaigns (issue 16 §3): two platforms change their policies in the same week;
a person gets at most MessagesPerDay reminders a day (default 1) and MessagesPerWeek in seven
days (default 3), counted where they live. What the cap holds back goes on the next day with
room, counted "deferred_cap", never dropped; the reminder closer to its deadline goes first."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

import pytest

from optout.core import settings
from optout.sending import sender
from optout.store import CampaignStore
from tests.helpers import CAMPAIGN, LINKEDIN, active, at, to
from tests.integration.conftest import ADMIN_TOKEN, Organiser, Stack

META = "meta-ai-2025"
ADA = "ada@example.org"  # in Germany, uses every platform: both campaigns reach her
BEA = "bea@example.org"  # in Germany, uses LinkedIn only


def meta_change(deadline: str = "2025-10-28T00:00:00+01:00", hour: int = 15) -> dict[str, object]:
    """A second platform's change in the EU, its deadline the day after LinkedIn's "one week
    left", its reminders at 15:00."""
    payload = copy.deepcopy(LINKEDIN)
    payload["platform"] = "meta"
    payload["policy"] = {
        **payload["policy"],  # type: ignore[dict-item]
        "id": META,
        "title": "Meta trains its AI on your posts",
        "short_title": "Meta AI training",
        "translations": {},
    }
    payload["regions"] = [{"region": "EU", "effective_at": deadline}]
    payload["plan"] = {"local_hour": hour}
    return payload


@pytest.fixture
def two_campaigns(stack: Stack, test_clock, campaign) -> None:
    """LinkedIn's campaign (13 October) and Meta's, posted on 20 October."""
    test_clock.now = datetime(2025, 10, 20, 7, 0, tzinfo=UTC)
    assert stack.post_webhook(meta_change(), webhook_id="msg_meta").status == 200
    sender.forget_campaigns()


def subjects(stack: Stack, address: str) -> list[str]:
    return [message.subject for message in to(stack, address)]


def test_the_reminder_closer_to_its_deadline_goes_first_and_the_other_the_next_day(
    stack: Stack, test_clock, two_campaigns, organiser: Organiser
) -> None:
    # Given Ada hears of every platform, Bea of LinkedIn only
    active(ADA, "DE", "en", platforms=())
    active(BEA, "DE", "en")
    # When LinkedIn's "one week left" is due, at 09:00 in Berlin on Monday 27 October
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    # Then Bea gets it; Ada does not: Meta's "last day", due at 15:00, is closer to its deadline
    assert len(to(stack, BEA)) == 1
    assert to(stack, ADA) == []
    eu = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert (eu["sent"], eu["deferred_cap"]) == (1, 1)
    # And the organiser's campaign page shows it held back by the cap
    signed_in = organiser.browse("POST", "/admin/sign-in", body=f"token={ADMIN_TOKEN}")
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]
    page = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=cookie)
    header = re.search(r"<thead>.*?</thead>", page.text, re.S)
    eu_row = re.search(r'<th scope="row">EU</th>.*?</tr>', page.text, re.S)
    assert header and eu_row
    columns = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', header.group(0))
    cells = re.findall(r"<td[^>]*>([^<]+)</td>", eu_row.group(0))
    assert dict(zip(columns[1:], cells, strict=True))["Deferred: cap"] == "1"
    # When Meta's "last day" is due, Ada gets it
    at(stack, test_clock, "2025-10-27T14:00:00Z")
    [last_day] = subjects(stack, ADA)
    assert "Meta" in last_day
    # And the next morning at LinkedIn's hour, LinkedIn's reminder, telling the days as they are
    at(stack, test_clock, "2025-10-28T08:00:00Z")
    assert to(stack, BEA)[0].subject.startswith("1 week left to opt out: LinkedIn")
    [linkedin] = [s for s in subjects(stack, ADA) if "Meta" not in s]
    assert linkedin.startswith("6 days left to opt out: LinkedIn")
    at(stack, test_clock, "2025-10-28T08:05:00Z")
    assert len(to(stack, ADA)) == 2
    eu = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert (eu["sent"], eu["deferred_cap"]) == (2, 1)


def test_a_second_reminder_the_same_day_waits_whichever_comes_first(
    stack: Stack, test_clock, campaign
) -> None:
    # Given Meta's "last day" and LinkedIn's "one week left" are both due at 09:00 on the 27th
    test_clock.now = datetime(2025, 10, 20, 7, 0, tzinfo=UTC)
    assert stack.post_webhook(meta_change(hour=9), webhook_id="msg_meta").status == 200
    sender.forget_campaigns()
    active(ADA, "DE", "en", platforms=())
    # When both go out
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    # Then Ada gets one, Meta's, the closer to its deadline; LinkedIn's waits a day
    [first] = subjects(stack, ADA)
    assert "Meta" in first
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["deferred_cap"] == 1
    at(stack, test_clock, "2025-10-28T08:00:00Z")
    assert len(to(stack, ADA)) == 2


def test_a_higher_cap_lets_both_go_the_same_day(
    stack: Stack, test_clock, two_campaigns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESSAGES_PER_DAY", "2")
    settings.get.cache_clear()
    active(ADA, "DE", "en", platforms=())
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    at(stack, test_clock, "2025-10-27T14:00:00Z")
    assert len(to(stack, ADA)) == 2
    assert "deferred_cap" not in CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]


def test_the_organiser_sees_what_the_cap_holds_back_and_the_launch_check_warns(
    stack: Stack, test_clock, two_campaigns, organiser: Organiser
) -> None:
    # Given a third change whose "last day" falls on Meta's, as close to its deadline
    test_clock.now = datetime(2025, 10, 21, 7, 0, tzinfo=UTC)
    third = meta_change(hour=10)
    third["platform"] = "tiktok"
    third["policy"] = {**third["policy"], "id": "tiktok-ai-2025", "title": "TikTok AI"}  # type: ignore[dict-item]
    assert stack.post_webhook(third, webhook_id="msg_tiktok").status == 200
    # When the organiser checks it before launch
    checked = organiser.call("GET", "/admin/campaigns/tiktok-ai-2025/launch-check").json()
    # Then it says that for someone who uses both, one "last day" comes after its deadline
    problems = [p for r in checked["reminders"] for p in r["problems"]]
    assert any("MessagesPerDay" in p and "last-day" in p for p in problems), problems
    assert checked["ok"] is False
    # And the stats list "deferred_cap" with the other outcomes, at 0 before anything is held
    stats = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats").json()
    assert stats["total"]["deferred_cap"] == 0
