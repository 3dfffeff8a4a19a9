"""The good news of a withdrawal (issue 16 §2): after `policy.withdrawn`, if reminders had gone
out, organisers may tell their readers once that the change is dropped and nothing needs doing.
"""

from __future__ import annotations

import json

from optout.core import settings
from optout.store import CampaignStore
from tests.helpers import CAMPAIGN, EVENTS, active, at, to
from tests.integration.conftest import Organiser, Stack

ADA = "ada@example.org"  # in Germany, reads English
BERT = "bert@example.org"  # in Germany, reads German
CLAIRE = "claire@example.org"  # in Canada
WITHDRAWN = json.loads((EVENTS / "payloads/policy-withdrawn.linkedin.json").read_text("utf-8"))


def test_after_a_withdrawal_organisers_may_send_the_good_news_once(
    stack: Stack, test_clock, campaign, organiser: Organiser
) -> None:
    # Given the EU's "one week left" went out, Canada's not yet
    active(ADA, "DE", "en")
    active(BERT, "DE", "de")
    active(CLAIRE, "CA", "en")
    at(stack, test_clock, "2025-10-27T09:00:00Z")
    assert len(to(stack, CLAIRE)) == 0
    # When LinkedIn drops the change
    withdrawal = stack.post_webhook(WITHDRAWN, webhook_id="msg_withdrawn").json()
    # Then the answer and the campaign offer the good news, and nothing is sent on its own
    assert withdrawal["good_news_available"] is True
    path = f"/admin/campaigns/{CAMPAIGN}"
    assert organiser.call("GET", path).json()["good_news_available"] is True
    at(stack, test_clock, "2025-10-27T10:00:00Z")
    assert len(to(stack, ADA)) == 1
    # When the organiser sends it, twice
    sent = organiser.call("POST", f"{path}/good-news")
    assert sent.status == 200
    assert sent.json()["good_news"] == 4  # EU, EEA, CH and HK: Canada had nothing out yet
    assert organiser.call("POST", f"{path}/good-news").status == 409
    at(stack, test_clock, "2025-10-27T10:05:00Z")
    # Then each EU reader gets it once, in their language; Canada hears nothing
    assert to(stack, ADA)[-1].subject.startswith("Good news: the change is dropped")
    assert to(stack, BERT)[-1].subject.startswith("Gute Nachricht")
    assert len(to(stack, ADA)) == len(to(stack, BERT)) == 2
    assert to(stack, CLAIRE) == []
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["good_news"] == 2
    shown = organiser.call("GET", path).json()
    assert shown["good_news_available"] is False
    [told] = [r for r in shown["plan"]["EU"] if r["kind"] == "good-news"]
    assert told["state"] == "fanned-out"


def test_a_withdrawal_before_anything_went_out_offers_no_good_news(
    stack: Stack, test_clock, campaign, organiser: Organiser
) -> None:
    withdrawal = stack.post_webhook(WITHDRAWN, webhook_id="msg_withdrawn").json()
    assert "good_news_available" not in withdrawal
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/good-news").status == 409
