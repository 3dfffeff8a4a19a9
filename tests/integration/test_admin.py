"""The organisers' admin API and dashboard: who gets in, campaigns by hand, pause and resume
without losing a message, and the numbers per region as JSON, CSV and charts."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from optout.campaigns import schedule
from optout.core import clock, settings
from optout.sending import sender
from optout.store import CampaignStore, SubscriberStore
from tests.helpers import CAMPAIGN, LINKEDIN, active, confirm_path, linkedin, to
from tests.integration.conftest import ADMIN_TOKEN, Organiser, Stack


def _signed_in(organiser: Organiser) -> str:
    """The dashboard's session cookie, as a browser signed in with the token holds it."""
    reply = organiser.browse("POST", "/admin/sign-in", body=f"token={ADMIN_TOKEN}")
    return reply.headers["Set-Cookie"].split(";", 1)[0]


def _campaign_writes(stack: Stack) -> list[dict[str, Any]]:
    return stack.items("CAMPAIGNS_TABLE")


@pytest.mark.parametrize(
    "token",
    [None, "", "wrong-token", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1], "Basic " + ADMIN_TOKEN],
)
def test_without_the_admin_token_every_route_is_a_401_and_nothing_else(
    stack: Stack, organiser: Organiser, token: str | None
) -> None:
    stack.post_webhook(LINKEDIN)
    before = _campaign_writes(stack)
    routes = [
        ("GET", "/admin/campaigns"),
        ("GET", f"/admin/campaigns/{CAMPAIGN}"),
        ("GET", f"/admin/campaigns/{CAMPAIGN}/stats"),
        ("POST", f"/admin/campaigns/{CAMPAIGN}/pause"),
        ("POST", f"/admin/campaigns/{CAMPAIGN}/cancel"),
        ("POST", "/admin/campaigns"),
    ]
    for method, path in routes:
        headers = {"Authorization": token} if token and token.startswith("Basic") else None
        reply = organiser.call(
            method, path, token=None if headers else token, headers=headers, body="{}"
        )
        assert reply.status == 401, (method, path, reply.text)
        assert set(reply.json()) == {"error", "message"}
        assert reply.json()["error"] == "Unauthorized"
        assert CAMPAIGN not in reply.text and "linkedin" not in reply.text.lower()
    assert _campaign_writes(stack) == before


def test_the_sample_events_work_with_the_real_token(stack: Stack, organiser: Organiser) -> None:
    stack.post_webhook(LINKEDIN)
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    listed = stack.call("admin-campaigns-list", headers=bearer)
    assert [c["campaign_id"] for c in listed.json()["campaigns"]] == [CAMPAIGN]
    table = stack.call("admin-campaign-stats-csv", headers=bearer)
    assert table.status == 200 and table.text.startswith("region,audience,sent,clicked")
    assert stack.call("admin-campaigns-list").status == 401  # the placeholder is no token


def test_a_secret_that_holds_no_token_lets_nobody_in(stack: Stack) -> None:
    stack.put_secret("AdminTokenSecret", " ")
    assert Organiser().call("GET", "/admin/campaigns", token="").status == 401
    assert Organiser().call("GET", "/admin/campaigns", token=" ").status == 401


def test_a_rotated_token_lets_both_the_new_and_the_old_in_while_both_are_stored(
    stack: Stack,
) -> None:
    stack.put_secret("AdminTokenSecret", "new-token-abcdefghijklmnop old-token-abcdefghijklmnop")
    for token in ("new-token-abcdefghijklmnop", "old-token-abcdefghijklmnop"):
        assert Organiser().call("GET", "/admin/campaigns", token=token).status == 200
    assert Organiser().call("GET", "/admin/campaigns", token="new-token").status == 401


def test_an_organiser_creates_a_campaign_by_hand_as_the_webhook_would(
    stack: Stack, organiser: Organiser
) -> None:
    reply = organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    assert reply.status == 201, reply.text
    assert reply.json()["campaign_id"] == CAMPAIGN
    assert reply.json()["planned"] > 0

    listed = organiser.call("GET", "/admin/campaigns").json()["campaigns"]
    assert [c["campaign_id"] for c in listed] == [CAMPAIGN]
    assert listed[0]["regions"]["EU"] == "2025-11-02T23:00:00Z"

    shown = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()
    assert shown["status"] == "active"
    assert [r["kind"] for r in shown["plan"]["EU"]] == [
        "two-weeks-left",
        "one-week-left",
        "last-day",
        "live-now",
    ]
    assert {r["state"] for r in shown["plan"]["EU"]} <= {"pending", "skipped"}

    again = organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    assert again.status == 409


def test_a_campaign_document_with_problems_is_refused_listing_each_and_writes_nothing(
    stack: Stack, organiser: Organiser
) -> None:
    bad = linkedin(platform="Linked In!", regions=[{"region": "XX", "effective_at": "soon"}])
    reply = organiser.call("POST", "/admin/campaigns", body=json.dumps(bad))
    assert reply.status == 400
    problems = reply.json()["problems"]
    assert "platform" in problems and any(path.startswith("regions") for path in problems)
    assert _campaign_writes(stack) == []


def test_text_can_be_edited_until_the_first_reminder_goes_out(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    edited = organiser.call(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/text",
        body=json.dumps({"title": "LinkedIn trains AI on your data: switch it off"}),
    )
    assert edited.status == 200, edited.text
    shown = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()
    assert shown["title"] == "LinkedIn trains AI on your data: switch it off"
    assert shown["policy"]["steps"] == LINKEDIN["policy"]["steps"]  # the rest is kept

    refused = organiser.call(
        "POST", f"/admin/campaigns/{CAMPAIGN}/text", body=json.dumps({"platform": "meta"})
    )
    assert refused.status == 400 and "platform" in refused.json()["problems"]
    too_long = organiser.call(
        "POST", f"/admin/campaigns/{CAMPAIGN}/text", body=json.dumps({"title": "x" * 201})
    )
    assert too_long.status == 400

    active("de@example.org", "DE")
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)  # EU "one week left" is due
    schedule.tick(settings.get(), clock.now())
    late = organiser.call(
        "POST", f"/admin/campaigns/{CAMPAIGN}/text", body=json.dumps({"title": "Too late"})
    )
    assert late.status == 409
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()["title"] != "Too late"


def test_a_paused_campaign_sends_nothing_and_resuming_sends_everyone_exactly_once(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    people = [active(f"p{n}@example.org", "DE") for n in range(5)]
    test_clock.now = datetime(2025, 10, 27, 7, 0, tzinfo=UTC)
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    # Fanned out just before the pause: batches are on the send queue when it comes.
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/pause").json()["status"] == "paused"
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/pause").status == 409
    stack.run_sender()
    assert stack.outbox() == []
    shown = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()
    assert shown["held_batches"] >= 1

    # While paused, due reminders ("last day" in Europe and Hong Kong) wait instead of starting.
    test_clock.now = datetime(2025, 11, 2, 8, 0, tzinfo=UTC)
    assert schedule.tick(settings.get(), clock.now())["reminders_held"] >= 3
    assert CampaignStore(settings.get()).get_reminder(CAMPAIGN, "REMINDER#EU#01").state == "pending"

    resumed = organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/resume").json()
    assert resumed["held_batches_released"] == shown["held_batches"]
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    sender.forget_campaigns()  # a warm sender sees the resume within its 10 s campaign cache
    stack.run_sender()
    # Everyone got "last day" once: one reminder a day (MessagesPerDay), and of the two due,
    # the one that says it better; the held "one week left" waits a day for the cap ...
    assert sorted(sent.to for sent in stack.outbox()) == [f"p{n}@example.org" for n in range(5)]
    assert {sent.subject.split(":")[0] for sent in stack.outbox()} == {"Last day to opt out"}
    eu = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert (eu["sent"], eu["deferred_cap"]) == (5, 5)
    # ... and then gives way to "live now", the morning after the deadline: nothing lost, no twin
    test_clock.now = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    eu = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert (eu["sent"], eu["skipped_superseded"]) == (10, 5)
    assert sorted(sent.to for sent in stack.outbox()) == sorted(
        [f"p{n}@example.org" for n in range(5)] * 2
    )
    assert len(people) == 5


def test_cancel_ends_every_unsent_reminder(stack: Stack, organiser: Organiser) -> None:
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    reply = organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/cancel")
    assert reply.json()["status"] == "withdrawn"
    states = {r.state for r in CampaignStore(settings.get()).reminders(CAMPAIGN)}
    assert states <= {"cancelled"}
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/resume").status == 409
    assert organiser.call("POST", "/admin/campaigns/nope/pause").status == 404


def test_stats_per_region_as_json_and_csv(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    for n in range(3):
        active(f"de{n}@example.org", "DE")
    active("ca@example.org", "CA")
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    done_link = re.search(r"https?://\S+/done/[\w.-]+", stack.outbox()[0].text)
    assert done_link
    token = done_link.group(0).rsplit("/", 1)[1]
    assert stack.call("done", path=f"/done/{token}").status == 200

    numbers = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats").json()
    eu = next(row for row in numbers["regions"] if row["region"] == "EU")
    assert (eu["audience"], eu["sent"], eu["confirmed"]) == (3, 3, 1)
    assert eu["conversion_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert numbers["total"]["confirmed"] == 1
    assert sum(hour["confirmed"] for hour in numbers["timeline"].values()) == 1

    reply = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats", query="format=csv")
    assert reply.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in reply.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [row["region"] for row in rows][-1] == "all"
    eu_row = next(row for row in rows if row["region"] == "EU")
    assert (eu_row["sent"], eu_row["confirmed"], eu_row["conversion_rate"]) == ("3", "1", "0.3333")


def test_conversions_count_for_the_reminder_whose_link_was_pressed_by_language_and_channel(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    # Given three people in Germany (one reading German) sent "one week left"
    active("de0@example.org", "DE", "de")
    for n in (1, 2):
        active(f"de{n}@example.org", "DE")
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()

    # When the German reader presses "I've switched it off" (twice: it counts once)
    (german,) = to(stack, "de0@example.org")
    done_link = re.search(r"https?://\S+/done/[\w.-]+", german.text)
    assert done_link
    for _ in range(2):
        assert (
            stack.call("done", path="/done/" + done_link.group(0).rsplit("/", 1)[1]).status == 200
        )

    # Then the stats say which reminder, language and channel it came through, of how many sent
    numbers = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats").json()
    by = numbers["conversions"]
    assert by["by_reminder"] == [
        {"reminder": "EU-07", "sent": 3, "confirmed": 1, "conversion_rate": 0.3333}
    ]
    assert {row["language"]: (row["sent"], row["confirmed"]) for row in by["by_language"]} == {
        "de": (1, 1),
        "en": (2, 0),
    }
    assert by["by_channel"] == [
        {"channel": "email", "sent": 3, "confirmed": 1, "conversion_rate": 0.3333}
    ]
    # and the page draws it: the reminder by its name, with its rate
    page = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=_signed_in(organiser))
    assert "EU one week left" in page.text and "1 · 33.3% of 3 sent" in page.text


def test_the_dashboard_signs_in_with_the_token_and_shows_the_funnel(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    active("de@example.org", "DE")
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))

    page = organiser.browse("GET", "/admin")
    assert page.status == 401 and 'name="token"' in page.text and CAMPAIGN not in page.text
    wrong = organiser.browse("POST", "/admin/sign-in", body="token=guess")
    assert wrong.status == 401 and "not the admin token" in wrong.text
    signed_in = organiser.browse("POST", "/admin/sign-in", body=f"token={ADMIN_TOKEN}")
    assert signed_in.status == 303
    cookie_header = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie_header and "SameSite=Strict" in cookie_header
    assert ADMIN_TOKEN not in cookie_header  # the session is not the token
    cookie = cookie_header.split(";", 1)[0]

    home = organiser.browse("GET", "/admin/", cookie=cookie)
    assert home.status == 200, home.text
    assert "LinkedIn" in home.text and "EU" in home.text and "left" in home.text

    detail = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=cookie)
    assert detail.status == 200
    assert detail.text.count("<svg") == 5 and 'role="img"' in detail.text
    assert "Funnel per region" in detail.text
    # Before anything is sent, each region's funnel says so rather than showing zeros
    assert detail.text.count("nothing yet: no reminder has gone out") >= 2
    assert ">0<" not in detail.text.split("Funnel per region", 2)[2].split("</svg>", 1)[0]
    assert "Which reminder made people act" in detail.text

    # A form posted from elsewhere with the cookie is refused; from the dashboard it works.
    forged = organiser.browse(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/pause",
        cookie=cookie,
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status == 403
    paused = organiser.browse(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/pause",
        cookie=cookie,
        headers={"Origin": "http://127.0.0.1:3000"},
    )
    assert paused.status == 303
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()["status"] == "paused"

    # A session ends after its lifetime, and with a rotated token.
    test_clock.now = test_clock.now + timedelta(hours=13)
    assert organiser.browse("GET", "/admin", cookie=cookie).status == 401


def test_hostile_campaign_text_is_escaped_on_the_dashboard(
    stack: Stack, organiser: Organiser
) -> None:
    hostile = json.loads(json.dumps(LINKEDIN))
    hostile["policy"]["title"] = '<script>alert("x")</script>'
    organiser.call("POST", "/admin/campaigns", body=json.dumps(hostile))
    signed_in = organiser.browse("POST", "/admin/sign-in", body=f"token={ADMIN_TOKEN}")
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]
    for path in ("/admin", f"/admin/campaigns/{CAMPAIGN}"):
        text = organiser.browse("GET", path, cookie=cookie).text
        assert '<script>alert("x")' not in text
        assert "&lt;script&gt;" in text


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("de", "3. November 2025"), ("fr", "3 novembre 2025"), ("en", "November 3, 2025")],
)
def test_a_preview_is_the_email_as_sent_in_the_language_asked_for(
    stack: Stack, organiser: Organiser, locale: str, expected: str
) -> None:
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    reply = organiser.call(
        "GET",
        f"/admin/campaigns/{CAMPAIGN}/preview",
        query=f"region=EU&reminder=last-day&channel=email&locale={locale}",
    )
    assert reply.status == 200, reply.text
    shown = reply.json()
    assert expected in shown["text"] and expected in shown["html"]
    assert shown["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in shown["headers"]["List-Unsubscribe"]
    assert LINKEDIN["policy"]["steps"][0] not in shown["text"] or locale == "en"
    assert stack.outbox() == []  # a preview sends nothing


def test_a_text_preview_counts_its_segments(stack: Stack, organiser: Organiser) -> None:
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    shown = organiser.call(
        "GET",
        f"/admin/campaigns/{CAMPAIGN}/preview",
        query="region=HK&reminder=one-week-left&channel=sms&locale=zh-HK",
    ).json()
    assert shown["sms"]["encoding"] == "UCS-2"
    assert shown["sms"]["segments"] >= 1 and "STOP" in shown["sms"]["text"]
    bad = organiser.call(
        "GET",
        f"/admin/campaigns/{CAMPAIGN}/preview",
        query="region=EU&reminder=next-year&channel=fax&locale=xx",
    )
    assert bad.status == 400
    assert set(bad.json()["problems"]) == {"reminder"}


def test_a_test_send_goes_once_to_the_organiser_and_counts_nothing(
    stack: Stack, organiser: Organiser
) -> None:
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    body = json.dumps(
        {
            "to": "Organiser@Example.org",
            "region": "CA",
            "reminder": "one-week-left",
            "locale": "fr-CA",
        }
    )
    reply = organiser.call(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/test",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 200, reply.text
    [sent] = stack.outbox()
    assert sent.to == "organiser@example.org" and sent.subject == reply.json()["subject"]
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats").json()["total"]["sent"] == 0
    refused = organiser.call(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/test",
        body=json.dumps({"to": "not an address", "region": "CA", "reminder": "one-week-left"}),
        headers={"Content-Type": "application/json"},
    )
    assert refused.status == 400 and "to" in refused.json()["problems"]
    assert len(stack.outbox()) == 1


def test_test_sends_are_limited_per_campaign_and_the_refusal_says_when_to_retry(
    stack: Stack, organiser: Organiser
) -> None:
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    body = json.dumps({"to": "organiser@example.org", "region": "EU", "reminder": "last-day"})

    def test_send() -> Any:
        return organiser.call(
            "POST",
            f"/admin/campaigns/{CAMPAIGN}/test",
            body=body,
            headers={"Content-Type": "application/json"},
        )

    assert all(test_send().status == 200 for _ in range(30))
    refused = test_send()
    assert refused.status == 429 and "30 test sends an hour" in refused.json()["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert len(stack.outbox()) == 30


def test_the_launch_check_counts_each_channel_and_flags_a_reminder_that_would_run_into_the_night(
    stack: Stack, organiser: Organiser, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(30):
        active(f"de{n}@example.org", "DE")
    active("meta@example.org", "DE", platforms=("meta",))  # the campaign leaves them out
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))

    ok = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/launch-check").json()
    eu = [row for row in ok["reminders"] if row["region"] == "EU"]
    assert {row["audience"]["email"] for row in eu} == {30}
    assert ok["ok"] is True

    # Two senders at 0.0002 a second: 30 emails take 20 hours; a reminder due at 09:00 has
    # until 21:00.
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "0.0002")
    settings.get.cache_clear()
    slow = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/launch-check").json()
    assert slow["ok"] is False
    problems = [p for row in slow["reminders"] for p in row["problems"]]
    assert any(p.startswith("EU last-day: 30 emails at 0.0004 a second") for p in problems)
    assert all("21:00" in p for p in problems), problems
    assert all(row["problems"] == [] for row in slow["reminders"] if row["region"] == "HK")


THANKS = {
    "id": "thanks-2025",
    "send_at": "2025-10-28T10:00:00+01:00",
    "regions": ["EU"],
    "platforms": ["linkedin"],
    "channel": "email",
    "locales": ["de"],
    "message": {
        "title": "Danke! 40.000 von euch haben es schon ausgeschaltet",
        "short_title": "Danke",
        "summary": "Wer es noch nicht getan hat: Es dauert eine Minute.",
        "setting_url": "https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
    },
}


def test_an_ad_hoc_send_reaches_exactly_its_segment_once_at_its_time(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    test_clock.now = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)
    target = active("anna@example.org", "DE", "de", platforms=("linkedin",))
    active("any@example.org", "AT", "de", platforms=())  # every platform: in the segment
    active("+4915123456789", "DE", "de", platforms=("linkedin",))  # texts: not this channel
    active("fr@example.org", "FR", "fr", platforms=("linkedin",))  # French: not this language
    active("meta@example.org", "DE", "de", platforms=("meta",))  # another platform
    active("ca@example.org", "CA", "de", platforms=("linkedin",))  # another region
    reply = organiser.call("POST", "/admin/sends", body=json.dumps(THANKS))
    assert reply.status == 201, reply.text
    assert reply.json() == {
        "campaign_id": "thanks-2025",
        "send_at": "2025-10-28T09:00:00Z",
        "regions": 1,
    }

    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    assert stack.outbox() == []  # not yet

    test_clock.now = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)
    for _ in range(2):  # a second tick and drain send nothing more
        schedule.tick(settings.get(), clock.now())
        stack.run_fanout()
        stack.run_sender()
    sent = stack.outbox()
    assert sorted(message.to for message in sent) == ["anna@example.org", "any@example.org"]
    assert {message.subject for message in sent} == {THANKS["message"]["title"]}
    assert "Mit einem Klick abbestellen" in sent[0].text or "/unsubscribe/" in sent[0].text
    numbers = organiser.call("GET", "/admin/campaigns/thanks-2025/stats").json()
    assert numbers["total"]["sent"] == 2
    assert target


def test_an_ad_hoc_send_with_problems_lists_them_and_plans_nothing(
    stack: Stack, organiser: Organiser
) -> None:
    bad = {
        **THANKS,
        "send_at": "2020-01-01T00:00:00Z",
        "channel": "fax",
        "locales": ["tlh"],
        "regions": ["EU", "Atlantis"],
        "colour": "red",
    }
    reply = organiser.call("POST", "/admin/sends", body=json.dumps(bad))
    assert reply.status == 400
    assert set(reply.json()["problems"]) == {
        "send_at",
        "channel",
        "locales",
        "regions[1]",
        "colour",
    }
    long_text = {
        **THANKS,
        "channel": "sms",
        "message": {**THANKS["message"], "summary": "Bitte! " * 60},
    }
    too_long = organiser.call("POST", "/admin/sends", body=json.dumps(long_text))
    assert too_long.status == 400 and "segments" in too_long.json()["problems"]["message"]
    # found by schemathesis: a language that is not a string was a 500
    for odd_locales in ([{}], {}):  # found by schemathesis: a 500, and {} taken for "all"
        body = json.dumps({**THANKS, "id": {}, "locales": odd_locales, "platforms": {}})
        odd = organiser.call("POST", "/admin/sends", body=body)
        assert odd.status == 400 and set(odd.json()["problems"]) == {"id", "locales", "platforms"}
    assert _campaign_writes(stack) == []


def test_an_ad_hoc_text_without_a_short_title_uses_one_made_from_the_title(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    test_clock.now = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)
    active("+4915123456789", "DE", "de", platforms=("linkedin",))
    message = {key: value for key, value in THANKS["message"].items() if key != "short_title"}
    body = {**THANKS, "channel": "sms", "send_at": "2025-10-28T10:00:00Z", "message": message}
    reply = organiser.call("POST", "/admin/sends", body=json.dumps(body))
    assert reply.status == 201, reply.text
    schedule.tick(settings.get(), clock.now() + timedelta(hours=1))
    stack.run_fanout()
    stack.run_sender()
    [text] = stack.outbox()
    # the title, cut at a word to fit a text's two segments, then the summary
    assert text.text.startswith("Danke! 40.000 von euch haben es schon: Wer es noch nicht")


def test_a_draft_is_planned_but_sends_nothing_until_it_is_launched(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    active("de@example.org", "DE")
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)  # "one week left" is due
    reply = organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN), query="draft=yes")
    assert reply.json()["status"] == "draft"
    assert schedule.tick(settings.get(), clock.now())["reminders_started"] == 0
    stack.post_webhook(LINKEDIN, webhook_id="msg_update")  # an update keeps a draft a draft
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()["status"] == "draft"

    assert (
        organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/launch").json()["status"] == "active"
    )
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/launch").status == 409
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    assert [sent.to for sent in stack.outbox()] == ["de@example.org"]


def test_a_webhook_with_draft_true_makes_a_draft_that_waits_for_its_launch(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    active("de@example.org", "DE")
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)  # "one week left" is due
    assert stack.post_webhook({**LINKEDIN, "draft": True}).json()["status"] == "draft"
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    assert stack.outbox() == []

    organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/launch")
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    assert [sent.to for sent in stack.outbox()] == ["de@example.org"]


def test_a_webhook_refuses_a_draft_that_is_not_true_or_false(stack: Stack) -> None:
    reply = stack.post_webhook({**LINKEDIN, "draft": "yes"})
    assert reply.status == 400
    assert "draft" in reply.json()["problems"]


def test_a_webhook_update_does_not_unpause_a_paused_campaign(
    stack: Stack, organiser: Organiser
) -> None:
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/pause")
    stack.post_webhook(LINKEDIN, webhook_id="msg_update")
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()["status"] == "paused"


def sign_in(organiser: Organiser) -> str:
    signed_in = organiser.browse("POST", "/admin/sign-in", body=f"token={ADMIN_TOKEN}")
    assert signed_in.status == 303, signed_in.text
    return signed_in.headers["Set-Cookie"].split(";", 1)[0]


def test_two_sign_ins_in_the_same_second_get_different_sessions(
    stack: Stack, organiser: Organiser
) -> None:
    # Found by an attacker: two sign-ins in one second got the same session value
    assert sign_in(organiser) != sign_in(organiser)


def test_signing_out_ends_the_session_and_any_copy_of_its_cookie(
    stack: Stack, organiser: Organiser
) -> None:
    # Given an organiser signed in twice (a laptop and a phone), and a copy of the first cookie
    laptop, phone = sign_in(organiser), sign_in(organiser)
    copied = laptop
    # When they sign out on the laptop
    out = organiser.browse(
        "POST", "/admin/sign-out", cookie=laptop, headers={"Origin": "http://127.0.0.1:3000"}
    )
    assert out.status < 400
    # Then the copied cookie no longer signs in (found by an attacker: it did for 12 hours),
    # and the phone's session goes on
    assert organiser.browse("GET", "/admin", cookie=copied).status == 401
    assert organiser.browse("GET", "/admin", cookie=phone).status == 200


def test_wrong_tokens_are_throttled_per_address_even_the_right_one_after(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    # Given ten wrong tokens from one address, by the API and by the sign-in form
    for attempt in range(10):
        if attempt % 2:
            assert organiser.call("GET", "/admin/campaigns", token=f"guess{attempt}").status == 401
        else:
            reply = organiser.browse("POST", "/admin/sign-in", body=f"token=guess{attempt}")
            assert reply.status == 401
    # When it presents the right one
    refused = organiser.call("GET", "/admin/campaigns")
    # Then it is refused without a look (found by an attacker: 100 tries in 0.48 s)
    assert refused.status == 429 and "too many wrong admin tokens" in refused.text
    form = organiser.browse("POST", "/admin/sign-in", body=f"token={ADMIN_TOKEN}")
    assert form.status == 429
    # And both say when to try again: the end of the 15-minute window
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 15 * 60 and int(form.headers["Retry-After"]) == wait
    test_clock.now = test_clock.now + timedelta(seconds=wait - 1)
    assert organiser.call("GET", "/admin/campaigns").status == 429
    # And then the right token works again
    test_clock.now = test_clock.now + timedelta(seconds=1)
    assert organiser.call("GET", "/admin/campaigns").status == 200


# -- the links `optout smoke` needs, for SES's mailbox simulator only -------------------------


def test_test_links_are_given_for_a_simulator_address_and_work(
    stack: Stack, organiser: Organiser
) -> None:
    address = "success+run1@simulator.amazonses.com"
    subscribe = json.dumps({"contact": address, "region": "ZZ", "locale": "en"})
    assert stack.call("subscribe-json", body=subscribe).status == 202
    stack.drain_notices()

    reply = organiser.call(
        "POST", "/admin/subscribers/test-links", body=json.dumps({"contact": address})
    )

    assert reply.status == 200, reply.text
    links = reply.json()
    confirm_path = "/" + links["confirm"].split("/", 3)[3]
    assert stack.call("confirm", path=confirm_path).status == 200
    assert SubscriberStore(settings.get()).get(links["subscriber_id"]).status == "active"


@pytest.mark.parametrize("contact", ["ada@example.org", "+4915123456789", "success@amazonses.com"])
def test_test_links_are_refused_for_anyone_else(
    stack: Stack, organiser: Organiser, contact: str
) -> None:
    reply = organiser.call(
        "POST", "/admin/subscribers/test-links", body=json.dumps({"contact": contact})
    )
    assert reply.status in (400, 403), reply.text
    if reply.status == 403:
        assert "only for SES's mailbox simulator" in reply.json()["message"]
    assert "confirm" not in reply.text


def test_the_test_region_is_refused_to_a_person_and_never_offered(stack: Stack) -> None:
    body = json.dumps({"contact": "ada@example.org", "region": "ZZ", "locale": "en"})
    reply = stack.call("subscribe-json", body=body)
    assert reply.status == 400
    assert reply.json()["problems"]["region"].startswith("unknown region 'ZZ'; use one of EU,")
    assert "ZZ" not in reply.json()["problems"]["region"].split(";")[1]
    form = stack.call("subscribe-form-page").text
    assert 'value="ZZ"' not in form and "Test recipients" not in form


def test_list_health_counts_each_state_as_people_come_and_go_without_a_scan(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    # Given Ada signs up by email and confirms, a Canadian number signs up by text and does not,
    # Lena (imported) unsubscribes and Max's address bounces for good; Ben is erased
    test_clock.now = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)
    assert stack.call("subscribe-json").status == 202
    assert stack.call("subscribe-sms-json").status == 202
    stack.drain_notices()
    (ada,) = to(stack, "ada@example.org")
    assert stack.call("confirm", path=confirm_path(ada.text)).status == 200
    people = SubscriberStore(settings.get())
    people.unsubscribe(active("lena@example.org", "DE", "de"), test_clock.now)
    people.suppress(active("max@example.org", "AT", "de"), "bounce", test_clock.now)
    people.erase(active("ben@example.org", "FR", "fr"), "asked", test_clock.now)

    # When an organiser opens the dashboard's first page
    home = organiser.browse("GET", "/admin", cookie=_signed_in(organiser))

    # Then list health says how many are in each state, and how many sign-ups confirmed
    text = re.sub(r"\s+", " ", home.text)
    assert "1 active, 1 waiting to confirm, 1 unsubscribed, 1 suppressed" in text
    assert "50.0% of 2 sign-ups confirmed" in text
    # per region, channel and language (AT and DE are both in the EU; the text is Canadian)
    assert re.search(r'<th scope="row">DE</th>(<td[^>]*>[^<]*</td>){4}', text)
    assert (
        '<th scope="row">text message</th>' in text and '<th scope="row">français (Canada)' in text
    )
    assert "Sign-ups over time" in text

    # and the counters kept on writes agree with a count of the whole table
    def counted(health: Any) -> dict[tuple[str, str, str], dict[str, int]]:
        return {
            (c.region, c.channel, c.language): {k: v for k, v in c.states.items() if v}
            for c in health.counts
        }

    kept = counted(people.list_health(["EU", "CA"]))
    assert kept == counted(people.recount(["EU", "CA"]))
    assert kept[("DE", "email", "de")] == {"active": 1, "unsubscribed": 1}


def test_the_first_page_shows_each_campaign_s_bounces_and_complaints_against_the_pause_limits(
    stack: Stack, organiser: Organiser
) -> None:
    organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN))
    CampaignStore(settings.get()).add_stats(CAMPAIGN, "EU", {"sent": 1000, "bounced": 30})

    home = organiser.browse("GET", "/admin", cookie=_signed_in(organiser))

    assert "Bounces (pause at 4%)" in home.text and "Complaints (pause at 0.08%)" in home.text
    assert ">3.0%" in home.text and "over the limit" not in home.text
