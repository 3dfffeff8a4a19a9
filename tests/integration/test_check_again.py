""" "Check it again" (issue 17): when a watched settings page changes after a campaign ended,
organisers may ask once the people who said "I've switched it off" in it to check that it is
still off: an ad-hoc send to exactly them, in their language, with the setting's link."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

import pytest

from optout.core import clock, settings
from optout.core.clock import iso
from optout.domain.watches import (
    PAGE,
    POLICY,
    SETTING,
    SeenChange,
    Source,
    Version,
    Watch,
    WatchStatus,
    change_id,
)
from optout.messages import render
from optout.store import CampaignStore, WatchStore
from optout.watching import follow_up
from tests.helpers import BASE, CAMPAIGN, LINKEDIN, active, at, link, to
from tests.integration.conftest import Organiser, Stack

ADA = "ada@example.org"  # in Germany, reads English
BERT = "bert@example.org"  # in Germany, reads German
CHLOE = "chloe@example.org"  # in France, reads French
HANA = "+85251234567"  # in Hong Kong, by text, reads Traditional Chinese
DORA = "dora@example.org"  # in Germany: reminded, never said she switched it off
EMIL = "emil@example.org"  # switched it off, then unsubscribed
FRIDA = "frida@example.org"  # switched it off, then had her data erased
SETTING_URL = LINKEDIN["policy"]["setting_url"]
ENGLISH = "LinkedIn changed its settings page: check that yours is still off"
GERMAN = "LinkedIn hat seine Einstellungsseite geändert"
FRENCH = "LinkedIn a modifié sa page de réglages"
CHINESE = "LinkedIn更改了設定頁面"


def seen(
    test_clock: Any,
    moment: str,
    *,
    about: str = SETTING,
    platform: str = "linkedin",
) -> str:
    """A change the watcher found at `moment` on a watch of `platform`'s settings page (or,
    `about` "policy", its policy), recorded as the watcher records one; its id."""
    test_clock.now = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    now = clock.now()
    watch = Watch(
        watch_id=f"{platform}-{about}",
        platform=platform,
        title=f"{platform}: data for generative AI",
        source=Source(PAGE, url=f"https://{platform}.example/help/generative-ai"),
        about=about,
        setting_url=SETTING_URL if about == SETTING else "",
        created_at=iso(now),
    )
    store = WatchStore(settings.get())
    assert store.create(watch)
    text = "The setting is now under Data privacy, Generative AI, and is on for new accounts."
    change = SeenChange(
        change_id=change_id(now, watch.watch_id),
        watch_id=watch.watch_id,
        platform=platform,
        title=watch.title,
        about=about,
        detected_at=iso(now),
        added=(text,),
        removed=("The setting is under Data privacy.",),
        terms=("generative ai", "default"),
        score=0.8,
        notify=True,
        before="",
        after=iso(now),
        source_url=watch.source.url,
        setting_url=watch.setting_url,
    )
    version = Version(watch.watch_id, iso(now), hashlib.sha256(text.encode()).hexdigest(), text)
    status = WatchStatus(checked_at=iso(now), ok_at=iso(now))
    assert store.record_version(watch, version, status, now, change=change)
    return change.change_id


def switch_off(stack: Stack, contact: str) -> None:
    """The person presses "I've switched it off" in the reminder they got (a text's short
    link leads to the same page first)."""
    (message,) = to(stack, contact)
    if "@" in contact:
        done = link(message.text, "done")
    else:
        page = stack.call("short-link", path=link(message.text, "s"))
        done = page.headers["Location"].removeprefix(BASE)
    assert stack.call("done", path=done).status == 200


@pytest.fixture
def converted(stack: Stack, test_clock: Any, campaign: None) -> None:
    """The LinkedIn campaign's "one week left" reached seven people; six said they switched it
    off, of whom Emil then unsubscribed and Frida had her data erased; the campaign ended on
    3 November (Canada's deadline, the last, at 05:00 UTC)."""
    for contact, region, locale in (
        (ADA, "DE", "en"),
        (BERT, "DE", "de"),
        (CHLOE, "FR", "fr"),
        (HANA, "HK", "zh-HK"),
        (DORA, "DE", "de"),
        (EMIL, "DE", "de"),
        (FRIDA, "DE", "de"),
    ):
        active(contact, region, locale)
    at(stack, test_clock, "2025-10-27T09:00:00Z")
    for contact in (ADA, BERT, CHLOE, HANA, EMIL, FRIDA):
        switch_off(stack, contact)
    emil = to(stack, EMIL)[0].text
    assert stack.call("unsubscribe-one-click", path=link(emil, "unsubscribe")).status == 200
    assert stack.call("privacy-erase", path=link(to(stack, FRIDA)[0].text, "privacy")).status == 200
    at(stack, test_clock, "2025-11-03T09:00:00Z")  # Dora's last reminders; the campaign ends


def path_of(text: str, kind: str) -> str:
    """The path of the first /`kind`/ link in a message sent for the organisers' request (its
    links start where the admin API was reached)."""
    found = re.search(rf"https?://[^\s\"<>]+?(/{kind}/[\w.-]+)", text)
    assert found, f"no /{kind}/ link in {text!r}"
    return found.group(1)


HEADLINES = (ENGLISH, GERMAN, FRENCH, CHINESE)


def asked(stack: Stack) -> dict[str, str]:
    """Who got the "check it again" message, and what it said (its subject, or a text)."""
    return {
        message.to: message.subject or message.text
        for message in stack.outbox()
        if any(headline in message.subject + message.text for headline in HEADLINES)
    }


def test_check_again_asks_exactly_who_switched_it_off_in_their_language_once(
    stack: Stack, test_clock: Any, converted: None, organiser: Organiser
) -> None:
    # Given LinkedIn's settings page changed a week after the campaign ended
    change = seen(test_clock, "2025-11-10T08:00:00Z")
    # When the organiser looks at what the change may follow up
    offers = organiser.call("GET", f"/admin/changes/{change}/follow-ups")
    # Then the campaign is offered, with the six who said they switched it off
    assert offers.status == 200
    [offer] = offers.json()["offers"]
    assert offer["campaign_id"] == CAMPAIGN and offer["status"] == "active"
    assert offer["converted"] == 6 and offer["send_id"] == ""
    assert offer["setting_url"] == SETTING_URL

    # When they ask those people to check it again
    reply = organiser.call(
        "POST",
        f"/admin/changes/{change}/check-again",
        body=json.dumps({"campaign_id": CAMPAIGN}),
    )
    assert reply.status == 201, reply.text
    send = reply.json()["send_id"]
    assert reply.json()["converted"] == 6
    at(stack, test_clock, "2025-11-10T08:01:00Z")

    # Then exactly those still subscribed hear of it, once each, in their own language
    got = asked(stack)
    assert set(got) == {ADA, BERT, CHLOE, HANA}
    assert got[ADA] == ENGLISH
    assert got[BERT].startswith(GERMAN) and got[CHLOE].startswith(FRENCH)
    assert CHINESE in got[HANA]
    # (nobody who never said so, who unsubscribed, or who had their data erased)
    assert DORA not in got and EMIL not in got and FRIDA not in got
    # Ada's email says what she told us and leads to the setting itself, through a tracked link
    [email] = [m for m in to(stack, ADA) if m.subject == ENGLISH]
    assert "You told us you had switched this off: " + LINKEDIN["policy"]["title"] in email.text
    assert "Open the LinkedIn settings" not in email.text  # the steps are the campaign's own
    assert LINKEDIN["policy"]["steps"][0] in email.text
    click = stack.call("link-click", path=path_of(email.text, "r"))
    assert click.status == 302 and click.headers["Location"] == SETTING_URL
    # Hana's text leads to her page with the steps and the setting
    [text] = [m for m in to(stack, HANA) if CHINESE in m.text]
    page = stack.call("short-link", path=path_of(text.text, "s"))
    assert page.status == 302 and "/done/" in page.headers["Location"]
    # The send's numbers are its own
    numbers = CampaignStore(settings.get()).stats(send)
    assert sum(region.get("sent", 0) for region in numbers.values()) == 4

    # When they ask again, or tick again
    again = organiser.call(
        "POST",
        f"/admin/changes/{change}/check-again",
        body=json.dumps({"campaign_id": CAMPAIGN}),
    )
    at(stack, test_clock, "2025-11-10T09:00:00Z")
    # Then it is refused, naming the send; nobody hears twice; the offer shows it was sent
    assert again.status == 409 and send in again.json()["message"]
    assert len([m for m in to(stack, ADA) if m.subject == ENGLISH]) == 1
    [offer] = organiser.call("GET", f"/admin/changes/{change}/follow-ups").json()["offers"]
    assert offer["send_id"] == send


def test_the_change_page_shows_the_button_and_its_form_asks_once(
    stack: Stack, test_clock: Any, converted: None, organiser: Organiser
) -> None:
    # Given a settings page's change after the campaign ended
    change = seen(test_clock, "2025-11-10T08:00:00Z")
    page_path = f"/admin/changes/{change}"
    # When the organiser opens the change's page on the dashboard
    cookie = organiser.sign_in()
    page = organiser.browse("GET", page_path, cookie=cookie)
    # Then a button says how many it asks, in a form that names the campaign
    form = re.search(r'<form method="post" action="([^"]*/check-again)">(.*?)</form>', page.text)
    assert page.status == 200 and form
    assert form.group(1).endswith(f"{page_path}/check-again")
    assert f'name="campaign_id" value="{CAMPAIGN}"' in form.group(2)
    assert "Ask 6 people to check it is still off</button>" in form.group(2)
    # When they press it
    sent = organiser.browse(
        "POST",
        f"{page_path}/check-again",
        cookie=cookie,
        body=f"campaign_id={CAMPAIGN}",
        headers={
            "Origin": "http://127.0.0.1:3000",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    # Then the dashboard goes back to the change's page, which names the send instead
    assert sent.status == 303 and sent.headers["Location"].endswith(page_path)
    after = organiser.browse("GET", page_path, cookie=cookie).text
    assert "/check-again" not in after and "asked already" in after
    at(stack, test_clock, "2025-11-10T08:01:00Z")
    assert set(asked(stack)) == {ADA, BERT, CHLOE, HANA}


def test_a_follow_up_noted_but_never_stored_is_finished_by_asking_again(
    stack: Stack, test_clock: Any, converted: None, organiser: Organiser
) -> None:
    # Given a call that stopped between noting its send on the change and storing the send
    change = seen(test_clock, "2025-11-10T08:00:00Z")
    planned = follow_up.send_id(change, CAMPAIGN)
    assert WatchStore(settings.get()).add_follow_up(change, CAMPAIGN, planned)
    # When the organiser asks again
    path = f"/admin/changes/{change}/check-again"
    reply = organiser.call("POST", path, body=json.dumps({"campaign_id": CAMPAIGN}))
    # Then that very send is stored and goes out; a further call is refused
    assert reply.status == 201 and reply.json()["send_id"] == planned
    at(stack, test_clock, "2025-11-10T08:01:00Z")
    assert set(asked(stack)) == {ADA, BERT, CHLOE, HANA}
    assert organiser.call("POST", path, body=json.dumps({"campaign_id": CAMPAIGN})).status == 409


def test_a_policy_change_offers_nothing_and_is_refused(
    stack: Stack, test_clock: Any, converted: None, organiser: Organiser
) -> None:
    change = seen(test_clock, "2025-11-10T08:00:00Z", about=POLICY)
    offers = organiser.call("GET", f"/admin/changes/{change}/follow-ups").json()
    assert offers["about"] == "policy" and offers["offers"] == []
    reply = organiser.call(
        "POST", f"/admin/changes/{change}/check-again", body=json.dumps({"campaign_id": CAMPAIGN})
    )
    assert reply.status == 409 and "not to a settings page" in reply.json()["message"]
    at(stack, test_clock, "2025-11-10T08:01:00Z")
    assert asked(stack) == {}


def test_a_campaign_still_running_when_the_page_changed_is_refused(
    stack: Stack, test_clock: Any, campaign: None, organiser: Organiser
) -> None:
    # Given Ada switched it off during the campaign, and the settings page changed before its end
    active(ADA, "DE", "en")
    at(stack, test_clock, "2025-10-27T09:00:00Z")
    switch_off(stack, ADA)
    change = seen(test_clock, "2025-10-30T08:00:00Z")
    # Then the running campaign is neither offered nor followed up, even once it has ended
    assert organiser.call("GET", f"/admin/changes/{change}/follow-ups").json()["offers"] == []
    test_clock.now = datetime.fromisoformat("2025-11-10T08:00:00+00:00")
    reply = organiser.call(
        "POST", f"/admin/changes/{change}/check-again", body=json.dumps({"campaign_id": CAMPAIGN})
    )
    assert reply.status == 409 and "had not ended when this change was found" in reply.text


def test_a_campaign_of_another_platform_is_refused(
    stack: Stack, test_clock: Any, converted: None, organiser: Organiser
) -> None:
    change = seen(test_clock, "2025-11-10T08:00:00Z", platform="meta")
    assert organiser.call("GET", f"/admin/changes/{change}/follow-ups").json()["offers"] == []
    reply = organiser.call(
        "POST", f"/admin/changes/{change}/check-again", body=json.dumps({"campaign_id": CAMPAIGN})
    )
    assert reply.status == 400
    assert reply.json()["problems"]["campaign_id"] == (
        "the campaign is about LinkedIn, this change about Meta"
    )


def test_a_campaign_nobody_switched_off_in_is_offered_but_refused(
    stack: Stack, test_clock: Any, campaign: None, organiser: Organiser
) -> None:
    # Given a campaign that reached Dora, who never said she switched it off
    active(DORA, "DE", "de")
    at(stack, test_clock, "2025-10-27T09:00:00Z")
    change = seen(test_clock, "2025-11-10T08:00:00Z")
    # Then it is offered with nobody to ask, and no button; asking anyway is refused
    follow_ups = organiser.call("GET", f"/admin/changes/{change}/follow-ups").json()
    assert [offer["converted"] for offer in follow_ups["offers"]] == [0]
    part = render.admin_page("_check_again", {"follow_ups": follow_ups, "admin_root": "/a"})
    assert "<form" not in part and "nobody said they switched it off" in part
    reply = organiser.call(
        "POST", f"/admin/changes/{change}/check-again", body=json.dumps({"campaign_id": CAMPAIGN})
    )
    assert reply.status == 409 and "nobody said they switched it off" in reply.text


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "campaign_id"),
        ({"campaign_id": "no-such-campaign"}, "campaign_id"),
        ({"campaign_id": {"x": 1}}, "campaign_id"),
    ],
)
def test_a_missing_or_unknown_campaign_is_named(
    stack: Stack,
    test_clock: Any,
    campaign: None,
    organiser: Organiser,
    body: dict[str, Any],
    field: str,
) -> None:
    change = seen(test_clock, "2025-11-10T08:00:00Z")
    reply = organiser.call("POST", f"/admin/changes/{change}/check-again", body=json.dumps(body))
    assert reply.status == 400 and field in reply.json()["problems"]


def test_an_unknown_change_is_not_found(stack: Stack, organiser: Organiser) -> None:
    for method, path in (
        ("GET", "/admin/changes/20251110080000-nothing/follow-ups"),
        ("POST", "/admin/changes/20251110080000-nothing/check-again"),
    ):
        reply = organiser.call(method, path, body=json.dumps({"campaign_id": CAMPAIGN}))
        assert reply.status == 404, (method, reply.text)


def test_an_ad_hoc_send_may_target_who_switched_it_off_in_a_campaign(
    stack: Stack, test_clock: Any, converted: None, organiser: Organiser
) -> None:
    # Given the converts of the LinkedIn campaign, as any ad-hoc send's segment
    body = {
        "id": "thanks-switchers",
        "send_at": "2025-11-10T08:00:00Z",
        "regions": ["EU", "HK"],
        "converted_in": CAMPAIGN,
        "message": {"title": "Thank you for switching it off", "summary": "It made a difference."},
    }
    test_clock.now = datetime.fromisoformat("2025-11-10T07:00:00+00:00")
    assert organiser.call("POST", "/admin/sends", body=json.dumps(body)).status == 201
    at(stack, test_clock, "2025-11-10T08:00:00Z")
    thanked = {
        m.to for m in stack.outbox() if "Thank you for switching it off" in m.subject + m.text
    }
    assert thanked == {ADA, BERT, CHLOE, HANA}
    # And a campaign that is none is refused
    bad = {**body, "id": "thanks-nobody", "converted_in": "no-such-campaign"}
    reply = organiser.call("POST", "/admin/sends", body=json.dumps(bad))
    assert reply.status == 400 and "converted_in" in reply.json()["problems"]
