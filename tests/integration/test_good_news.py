"""The good news of a withdrawal (issue 16 §2): after `policy.withdrawn`, if reminders had gone
out, organisers may tell their readers once that the change is dropped and nothing needs doing.
"""

from __future__ import annotations

import json
import re

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


def test_the_dashboard_offers_the_good_news_saying_who_gets_it_and_sends_it_once(
    stack: Stack, test_clock, campaign, organiser: Organiser
) -> None:
    # Given the EU's "one week left" reached Ada and Bert, and Canada's has not gone out
    active(ADA, "DE", "en")
    active(BERT, "DE", "de")
    active(CLAIRE, "CA", "en")
    at(stack, test_clock, "2025-10-27T09:00:00Z")
    cookie = organiser.sign_in()
    path = f"/admin/campaigns/{CAMPAIGN}"
    # While the campaign runs, its page offers no good news
    assert "Send the good news" not in organiser.browse("GET", path, cookie=cookie).text
    # When LinkedIn drops the change, the organiser opens the campaign's page
    stack.post_webhook(WITHDRAWN, webhook_id="msg_withdrawn")
    page = organiser.browse("GET", path, cookie=cookie)
    # Then a button sends the good news, and the text it points to says who will get it
    assert page.status == 200
    button = re.search(
        r'<button type="submit" aria-describedby="good-news">([^<]*)</button>', page.text
    )
    assert button and button.group(1) == "Send the good news"
    shown = page.text.split('<p id="good-news">', 1)[1].split("</p>", 1)[0]
    said = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", shown))
    assert "tells the subscribers of CH, EEA, EU and HK, the regions that had reminders out" in said
    assert "has not said they switched it off, about 2 people" in said
    assert "(the latest reminder reached CH 0, EEA 0, EU 2, HK 0)" in said
    assert "CA had no reminder out: nobody there hears of it" in said
    # A form posted from elsewhere with the cookie sends nothing
    form = f"{path}/good-news"
    forged = organiser.browse(
        "POST", form, cookie=cookie, headers={"Origin": "https://evil.example"}
    )
    assert forged.status == 403
    # When the organiser presses it, the dashboard goes back to the campaign's page
    sent = organiser.browse(
        "POST", form, cookie=cookie, headers={"Origin": "http://127.0.0.1:3000"}
    )
    assert sent.status == 303 and sent.headers["Location"].endswith(path)
    # Then the button is gone, and the plan shows the notices
    after = organiser.browse("GET", path, cookie=cookie).text
    assert "Send the good news" not in after and 'id="good-news"' not in after
    assert "EU good-news" in after
    # And each EU reader gets it once, in their language; Canada hears nothing
    at(stack, test_clock, "2025-10-27T10:05:00Z")
    assert to(stack, ADA)[-1].subject.startswith("Good news: the change is dropped")
    assert to(stack, BERT)[-1].subject.startswith("Gute Nachricht")
    assert len(to(stack, ADA)) == len(to(stack, BERT)) == 2
    assert to(stack, CLAIRE) == []
    again = organiser.browse(
        "POST", form, cookie=cookie, headers={"Origin": "http://127.0.0.1:3000"}
    )
    assert again.status == 409


def test_a_campaign_withdrawn_before_anything_went_out_shows_no_good_news_button(
    stack: Stack, campaign, organiser: Organiser
) -> None:
    stack.post_webhook(WITHDRAWN, webhook_id="msg_withdrawn")
    page = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=organiser.sign_in())
    assert page.status == 200 and "withdrawn" in page.text
    assert "Send the good news" not in page.text
