"""What subscribers do with a reminder's links: open the setting, say "I've switched it off",
unsubscribe with one click. Through the real links handler, from a reminder really sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from optout.core import settings
from optout.store import CampaignStore
from tests.helpers import BASE, CAMPAIGN, LINKEDIN, active, at, link, to
from tests.integration.conftest import Organiser, Stack


@pytest.fixture
def reminded(stack: Stack, test_clock) -> dict[str, str]:
    """Lena in Germany got "one week left"; the links of her email, by kind."""
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    active("lena@example.org", "DE", "de")
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    (email,) = to(stack, "lena@example.org")
    return {kind: link(email.text, kind) for kind in ("r", "done", "unsubscribe", "privacy")}


def stats() -> dict[str, int]:
    return CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]


def test_a_click_is_counted_once_and_redirected_to_the_stored_setting(
    stack: Stack, test_clock, reminded
) -> None:
    test_clock.now = test_clock.now + timedelta(minutes=5)  # she reads it a while later
    for _ in range(2):
        reply = stack.call("link-click", path=reminded["r"])
        assert reply.status == 302
        assert reply.headers["Location"] == LINKEDIN["policy"]["setting_url"]
    assert stats()["clicked"] == 1
    assert "confirmed" not in stats()  # a click is never a conversion by itself


def test_nothing_appended_to_a_link_changes_where_it_leads(stack: Stack, reminded) -> None:
    reply = stack.call("link-click", path=reminded["r"] + "https%3A%2F%2Fevil.example")
    assert reply.status == 404 and "This link does not work" in reply.text


def test_done_shows_the_steps_and_only_a_post_converts(stack: Stack, test_clock, reminded) -> None:
    page = stack.call("done-page", path=reminded["done"])
    assert (
        page.status == 200 and "Einstellungen" in page.text and '<form method="post"' in page.text
    )
    assert "confirmed" not in stats()
    for _ in range(2):  # idempotent
        assert stack.call("done", path=reminded["done"]).status == 200
    assert stats()["confirmed"] == 1
    # and no later reminder of this campaign reaches her
    at(stack, test_clock, "2025-11-02T08:00:00Z")
    at(stack, test_clock, "2025-11-03T08:00:00Z")
    assert len(to(stack, "lena@example.org")) == 1
    assert stats()["skipped_already_done"] == 2


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"),
        (
            "multipart/form-data; boundary=b",
            '--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b--\r\n',
        ),
    ],
)
def test_one_click_unsubscribe_answers_200_and_nothing_more_is_sent(
    stack: Stack, test_clock, reminded, content_type, body
) -> None:  # type: ignore[no-untyped-def]
    reply = stack.call(
        "unsubscribe-one-click",
        path=reminded["unsubscribe"],
        body=body,
        headers={"Content-Type": content_type},
    )
    assert reply.status == 200 and "Location" not in reply.headers
    assert "Sie sind abgemeldet" in reply.text  # Lena reads German
    again = stack.call("unsubscribe-one-click", path=reminded["unsubscribe"])
    assert again.status == 200
    assert stats()["unsubscribed"] == 1
    (record,) = [
        item for item in stack.items("SUBSCRIBERS_TABLE") if item["contact"] == "lena@example.org"
    ]
    assert record["status"] == "unsubscribed" and "audience_pk" not in record
    at(stack, test_clock, "2025-11-02T08:00:00Z")
    assert len(to(stack, "lena@example.org")) == 1


def test_the_unsubscribe_page_asks_before_it_acts(stack: Stack, reminded) -> None:
    page = stack.call("unsubscribe-page", path=reminded["unsubscribe"])
    assert page.status == 200 and '<form method="post"' in page.text
    (record,) = [
        item for item in stack.items("SUBSCRIBERS_TABLE") if item["contact"] == "lena@example.org"
    ]
    assert record["status"] == "active"


@pytest.mark.parametrize(
    "event", ["link-click", "done-page", "done", "unsubscribe-page", "unsubscribe-one-click"]
)
def test_forged_or_wrong_purpose_links_change_nothing(stack: Stack, reminded, event: str) -> None:
    kind = {"link-click": "r", "done-page": "done", "done": "done"}.get(event, "unsubscribe")
    other = "done" if kind != "done" else "unsubscribe"
    forged = reminded[kind][:-3] + ("AAA" if not reminded[kind].endswith("AAA") else "BBB")
    wrong_purpose = f"/{kind}/" + reminded[other].split("/", 2)[2]
    for path in (forged, wrong_purpose):
        reply = stack.call(event, path=path)
        assert reply.status == 404 and "This link does not work" in reply.text
        assert path.split("/")[-1] not in reply.text
    assert {k: v for k, v in stats().items() if k in ("clicked", "confirmed", "unsubscribed")} == {}


def test_an_expired_link_says_so(stack: Stack, test_clock, reminded) -> None:
    test_clock.advance(days=91)
    reply = stack.call("done", path=reminded["done"])
    assert reply.status == 410 and "This link has expired" in reply.text


def test_a_text_s_short_link_leads_to_the_person_s_done_page(stack: Stack, test_clock) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    active("+85251234567", "HK", "zh-HK")
    at(stack, test_clock, "2025-10-27T01:00:00Z")
    (text,) = to(stack, "+85251234567")
    short = link(text.text, "s")
    reply = stack.call("short-link", path=short)
    assert reply.status == 302
    done_path = reply.headers["Location"].removeprefix(BASE)
    assert done_path.startswith("/done/k1.done.")
    assert stack.call("done", path=done_path).status == 200
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["HK"]["confirmed"] == 1


@pytest.mark.parametrize("code", ["abcdefghijklmnop", "not-a-code", "a" * 200])
def test_an_unknown_short_code_leads_nowhere(stack: Stack, code: str) -> None:
    assert stack.call("short-link", path=f"/s/{code}").status == 404


def test_a_reminder_links_the_person_s_own_data_beside_unsubscribe(
    stack: Stack, test_clock, reminded
) -> None:
    # Given Lena's reminder email
    (email,) = to(stack, "lena@example.org")
    # Then its text and HTML footers both carry her privacy link, next to unsubscribe
    assert link(email.html, "privacy") == reminded["privacy"]
    footer = email.html[email.html.index(reminded["unsubscribe"]) :]
    assert reminded["privacy"] in footer and "Ansehen oder löschen" in footer
    # And the link opens her own data, in German, without changing anything
    page = stack.call("privacy-page", path=reminded["privacy"])
    assert page.status == 200 and '<html lang="de"' in page.text
    assert "lena@example.org" in page.text and "Meine Daten löschen" in page.text


def test_the_link_pages_speak_the_subscriber_s_language(stack: Stack, reminded) -> None:
    # Given Lena, who subscribed in German, opens the pages her reminder links to
    pages = {
        "done-page": ("done", "Ich habe es ausgeschaltet"),
        "unsubscribe-page": ("unsubscribe", "Von allen Erinnerungen abmelden?"),
    }
    for event, (kind, words) in pages.items():
        page = stack.call(event, path=reminded[kind])
        # Then each is in German, whatever her browser says
        assert page.status == 200 and '<html lang="de" dir="ltr">' in page.text, event
        assert words in page.text and page.headers["Content-Language"] == "de", event


BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
        "Mozilla/5.0 (compatible; BingPreview/1.0b)",
        "python-requests/2.32.3",
        "Mozilla/5.0 (Windows NT 10.0) HeadlessChrome/120.0 Safari/537.36",
    ],
)
def test_a_link_scanner_s_visit_is_counted_apart_from_the_person_s_click(
    stack: Stack, test_clock, reminded, agent: str
) -> None:
    # Given a scanner that says what it is follows the link a while after the delivery
    test_clock.now = test_clock.now + timedelta(minutes=5)
    reply = stack.call("link-click", path=reminded["r"], headers={"User-Agent": agent})
    # Then it is sent on like anyone, but counted as a scanner, not as a person's click
    assert reply.status == 302
    assert reply.headers["Location"] == LINKEDIN["policy"]["setting_url"]
    assert stats().get("scanner_clicks") == 1 and "clicked" not in stats()
    # and when Lena clicks herself, that is her click, counted once
    for _ in range(2):
        stack.call("link-click", path=reminded["r"], headers={"User-Agent": BROWSER})
    assert (stats()["clicked"], stats()["scanner_clicks"]) == (1, 1)


def test_a_click_within_seconds_of_the_delivery_is_a_scanner_s_whatever_it_says(
    stack: Stack, test_clock, reminded, organiser: Organiser
) -> None:
    # Given a mail server's scanner that looks like a browser, three seconds after the send
    test_clock.now = test_clock.now + timedelta(seconds=3)
    assert (
        stack.call("link-click", path=reminded["r"], headers={"User-Agent": BROWSER}).status == 302
    )
    assert stats().get("scanner_clicks") == 1 and "clicked" not in stats()
    # Then the organiser's numbers keep it apart: people's clicks are 0, scanners' 1
    test_clock.now = test_clock.now + timedelta(minutes=10)
    stack.call("link-click", path=reminded["r"], headers={"User-Agent": BROWSER})
    numbers = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats").json()
    eu = next(row for row in numbers["regions"] if row["region"] == "EU")
    assert (eu["clicked"], eu["scanner_clicks"]) == (1, 1)
    assert numbers["total"]["scanner_clicks"] == 1
