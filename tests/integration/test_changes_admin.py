"""The changes the policy watch found, from the organiser's side: a page served on 127.0.0.1
changes, the watcher records it, and the organiser sees it (JSON and the dashboard's page,
added and removed told apart without colour, terms marked, every sentence escaped), drafts a
campaign from it in one click (prefilled, sending nothing), completes the draft with regions,
deadlines and steps, checks, previews and launches it, and its reminders go out when due."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest

from local import invoke
from optout.core import settings
from optout.domain.watches import PAGE, Source, Watch
from optout.store import WatchStore
from tests.helpers import active, at, to
from tests.integration.conftest import Organiser, Stack

BEFORE = """<html><head><title>Privacy</title></head><body>
<nav><a href="/">Home</a></nav>
<h1>Data for Generative AI Improvement</h1>
<p>We use your profile to recommend jobs.</p>
<p>You can download your data at any time.</p>
</body></html>"""

TRAIN = (
    "From 3 November 2025 we use your posts to train generative AI models by default; "
    "you may opt out in your settings."
)
# A sentence of the page that holds markup as text (escaped in the page's source): the
# dashboard must show it as text, never as markup.
MARKUP = 'Our partners\' <script>alert("x")</script> <b>tools</b> may train on it too.'
AFTER = BEFORE.replace(
    "<p>You can download your data at any time.</p>",
    f"<p>{TRAIN}</p>\n"
    '<p>Our partners\' &lt;script&gt;alert("x")&lt;/script&gt; &lt;b&gt;tools&lt;/b&gt; may '
    "train on it too.</p>",
)
SETTING = "https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement"
WATCH = "linkedin-generative-ai"
STEPS = [
    "Open LinkedIn and go to Settings & Privacy.",
    "Choose Data privacy, then Data for Generative AI Improvement.",
    "Switch it off.",
]


class Site(ThreadingHTTPServer):
    """Serves `page` at every path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Page)
        self.page = BEFORE

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/help/generative-ai"


class _Page(BaseHTTPRequestHandler):
    server: Site

    def do_GET(self) -> None:
        body = self.server.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def change_id(stack: Stack, organiser: Organiser, test_clock: Any, site: Site) -> str:
    """A real change: the watch's page read on 13 October 2025, then read again an hour later
    with a sentence gone and two added."""
    test_clock.now = test_clock.now.replace(month=10, day=13, hour=9)
    watch = Watch(
        watch_id=WATCH,
        platform="linkedin",
        title="LinkedIn: Data for Generative AI Improvement",
        source=Source(PAGE, url=site.url()),
        setting_url=SETTING,
    )
    assert WatchStore(settings.get()).create(watch)
    assert _watcher(test_clock) == {"first": 1}
    site.page = AFTER
    test_clock.advance(hours=1)
    assert _watcher(test_clock) == {"changed": 1}
    [change] = organiser.call("GET", "/admin/changes").json()["changes"]
    return str(change["change_id"])


def _watcher(test_clock: Any) -> dict[str, int]:
    result: dict[str, int] = invoke.invoke(
        "WatcherFunction", invoke.scheduled_event(test_clock.now)
    )
    return result


def _draft(organiser: Organiser, change_id: str) -> str:
    reply = organiser.call("POST", f"/admin/changes/{change_id}/draft")
    assert reply.status == 201, reply.text
    return str(reply.json()["campaign_id"])


def _page(organiser: Organiser, path: str) -> str:
    reply = organiser.browse("GET", path, cookie=organiser.sign_in())
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"].startswith("text/html")
    return reply.text


# -- seeing the changes ------------------------------------------------------------------------


def test_the_changes_are_listed_newest_first_with_their_sentences_terms_and_versions(
    organiser: Organiser, change_id: str, site: Site, test_clock: Any
) -> None:
    # Given a second change an hour after the first
    site.page = AFTER.replace("We use your profile to recommend jobs.", "We sell nothing.")
    test_clock.advance(hours=1)
    assert _watcher(test_clock) == {"changed": 1}

    # When the organiser lists the changes
    reply = organiser.call("GET", "/admin/changes")

    # Then both are there, the newest first, each with its sentences, terms and versions
    assert reply.status == 200
    newest, first = reply.json()["changes"]
    assert first["change_id"] == change_id and newest["change_id"] > change_id
    assert newest["added"] == ["We sell nothing."]
    assert first["added"] == [TRAIN, MARKUP]
    assert first["removed"] == ["You can download your data at any time."]
    assert {"AI", "train", "default", "opt out"} <= set(first["terms"])
    assert first["platform"] == "linkedin" and first["watch_id"] == WATCH
    assert first["title"] == "LinkedIn: Data for Generative AI Improvement"
    assert first["score"] >= 0.3 and first["notify"] is True
    assert first["source_url"] == site.url() and first["setting_url"] == SETTING
    assert first["draft_campaign_id"] == "" and first["follow_ups"] == {}
    assert first["links"] == {
        "before": f"/admin/watches/{WATCH}/versions/{first['before']}",
        "after": f"/admin/watches/{WATCH}/versions/{first['after']}",
    }
    # And one change alone answers the same
    shown = organiser.call("GET", f"/admin/changes/{change_id}")
    assert shown.status == 200 and shown.json() == first


def test_the_changes_page_tells_added_from_removed_by_sign_and_colour_and_marks_the_terms(
    organiser: Organiser, change_id: str
) -> None:
    page = _page(organiser, "/admin/changes")

    assert re.search(
        r'<a href="/admin/changes" aria-current="page">Changes</a>', page
    )  # the navigation
    added = re.findall(r'<li class="added"><ins>(.*?)</ins></li>', page)
    removed = re.findall(r'<li class="removed"><del>(.*?)</del></li>', page)
    assert len(added) == 2 and len(removed) == 1
    # A sign and a label, not colour alone
    assert all('<span class="sign" aria-hidden="true">+</span>' in item for item in added)
    assert all('<span class="hidden-label">Added: </span>' in item for item in added)
    assert '<span class="sign" aria-hidden="true">\N{MINUS SIGN}</span>' in removed[0]
    assert '<span class="hidden-label">Removed: </span>' in removed[0]
    # The terms found are marked where they stand
    assert (
        "to <mark>train</mark> <mark>generative</mark> <mark>AI</mark> <mark>models</mark>"
        in (added[0])
    )
    assert "by <mark>default</mark>; you may <mark>opt out</mark>" in added[0]
    # The time (the dashboard's zone), the score and the draft button
    assert "13 Oct 2025, 10:00 UTC" in page
    assert "Score <strong>" in page
    assert f'action="/admin/changes/{change_id}/draft"' in page
    assert ">Draft a campaign</button>" in page


def test_a_sentence_holding_markup_is_shown_as_text(organiser: Organiser, change_id: str) -> None:
    for path in ("/admin/changes", f"/admin/changes/{change_id}"):
        page = _page(organiser, path)
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &lt;b&gt;tools&lt;/b&gt;" in page
        assert "<script>alert" not in page and "<b>tools" not in page


def test_a_change_has_a_page_of_its_own_with_every_sentence_and_both_versions(
    organiser: Organiser, change_id: str, site: Site
) -> None:
    page = _page(organiser, f"/admin/changes/{change_id}")

    assert "<h1" in page and "LinkedIn: Data for Generative AI Improvement" in page
    assert page.count('<li class="added">') == 2 and page.count('<li class="removed">') == 1
    assert f'href="{site.url()}"' in page and f'href="{SETTING}"' in page
    assert f'href="/admin/watches/{WATCH}/versions/' in page


def test_an_unknown_change_is_a_404(organiser: Organiser, stack: Stack) -> None:
    for method, path in (
        ("GET", "/admin/changes/20251013090000-nothing"),
        ("POST", "/admin/changes/20251013090000-nothing/draft"),
    ):
        reply = organiser.call(method, path)
        assert reply.status == 404, (method, path, reply.text)
        assert reply.json()["error"] == "NotFound"
    assert organiser.call("GET", "/admin/changes").json() == {"changes": []}


def test_without_the_admin_token_the_changes_routes_are_a_401(
    organiser: Organiser, change_id: str
) -> None:
    for method, path in (
        ("GET", "/admin/changes"),
        ("GET", f"/admin/changes/{change_id}"),
        ("POST", f"/admin/changes/{change_id}/draft"),
        ("POST", "/admin/campaigns/anything/draft"),
    ):
        reply = organiser.call(method, path, token="wrong-token")
        assert reply.status == 401, (method, path)
        assert "linkedin" not in reply.text.lower()
    assert organiser.call("GET", f"/admin/changes/{change_id}").json()["draft_campaign_id"] == ""


# -- the draft ---------------------------------------------------------------------------------


def test_a_draft_is_prefilled_from_the_change_and_sends_nothing(
    stack: Stack, organiser: Organiser, change_id: str, site: Site, test_clock: Any
) -> None:
    # Given someone in the EU who follows LinkedIn
    active("eva.draft@example.org", "DE", "de")

    # When the organiser drafts a campaign from the change
    campaign_id = _draft(organiser, change_id)

    # Then a draft exists with the platform, the title, the summary, the links, and nothing else
    campaign = organiser.call("GET", f"/admin/campaigns/{campaign_id}").json()
    assert campaign_id == f"{WATCH}-20251013-100000"
    assert campaign["status"] == "draft" and campaign["platform"] == "linkedin"
    assert campaign["title"] == "LinkedIn: Data for Generative AI Improvement"
    assert campaign["policy"]["summary"] == f"{TRAIN} {MARKUP}"
    assert campaign["policy"]["source_url"] == site.url()
    assert campaign["policy"]["setting_url"] == SETTING
    assert campaign["policy"]["steps"] == [] and campaign["regions"] == {}
    assert campaign["plan"] == {}
    assert "add regions and deadlines first" in campaign["to_complete"]
    # And the change names it
    change = organiser.call("GET", f"/admin/changes/{change_id}").json()
    assert change["draft_campaign_id"] == campaign_id
    assert change["links"]["campaign"] == f"/admin/campaigns/{campaign_id}"
    # And the scheduler, the fan-out and the sender, days later, send nobody anything
    at(stack, test_clock, "2025-10-20T07:00:00Z")
    at(stack, test_clock, "2025-11-02T07:00:00Z")
    assert stack.outbox() == []


def test_a_second_draft_answers_the_same_campaign(organiser: Organiser, change_id: str) -> None:
    campaign_id = _draft(organiser, change_id)

    again = organiser.call("POST", f"/admin/changes/{change_id}/draft")

    assert again.status == 200
    assert again.json() == {"change_id": change_id, "campaign_id": campaign_id, "created": False}
    listed = organiser.call("GET", "/admin/campaigns").json()["campaigns"]
    assert [c["campaign_id"] for c in listed] == [campaign_id]


def test_the_dashboards_button_drafts_and_opens_the_draft_then_shows_it_drafted(
    organiser: Organiser, change_id: str
) -> None:
    cookie = organiser.sign_in()
    reply = organiser.browse(
        "POST",
        f"/admin/changes/{change_id}/draft",
        cookie=cookie,
        headers={"Origin": "http://127.0.0.1:3000"},
    )
    assert reply.status == 303
    campaign_id = f"{WATCH}-20251013-100000"
    assert reply.headers["Location"] == f"/admin/campaigns/{campaign_id}"

    draft_page = organiser.browse("GET", f"/admin/campaigns/{campaign_id}", cookie=cookie).text
    assert "Complete the draft" in draft_page and 'name="regions"' in draft_page
    assert "The draft is not complete: add regions and deadlines first" in draft_page
    assert "Launch: start sending" not in draft_page
    changes_page = organiser.browse("GET", "/admin/changes", cookie=cookie).text
    assert f'Drafted: <a href="/admin/campaigns/{campaign_id}">{campaign_id}</a>' in changes_page
    assert ">Draft a campaign</button>" not in changes_page


def test_an_incomplete_draft_cannot_be_launched_or_previewed_and_says_what_to_add(
    organiser: Organiser, change_id: str
) -> None:
    campaign_id = _draft(organiser, change_id)

    launched = organiser.call("POST", f"/admin/campaigns/{campaign_id}/launch")
    assert launched.status == 409
    assert launched.json()["message"] == (
        "the draft is not complete: add regions and deadlines first; it also needs the "
        "opt-out steps"
    )
    checked = organiser.call("GET", f"/admin/campaigns/{campaign_id}/launch-check").json()
    assert checked["ok"] is False and checked["problems"] == [launched.json()["message"]]
    page = _page(organiser, f"/admin/campaigns/{campaign_id}/launch-check")
    assert f'<li class="problem">{launched.json()["message"]}</li>' in page
    previewed = organiser.call(
        "GET", f"/admin/campaigns/{campaign_id}/preview", query="region=EU&reminder=last-day"
    )
    assert previewed.status == 409
    assert "add regions and deadlines first" in previewed.json()["message"]
    assert organiser.call("GET", f"/admin/campaigns/{campaign_id}").json()["status"] == "draft"


def test_a_completed_draft_is_checked_previewed_launched_and_its_reminders_go_out(
    stack: Stack, organiser: Organiser, change_id: str, test_clock: Any
) -> None:
    # Given a subscriber in the EU and a draft made from the change
    active("eva.draft@example.org", "DE", "en")
    campaign_id = _draft(organiser, change_id)

    # When the organiser adds regions, deadlines and steps
    completed = organiser.call(
        "POST",
        f"/admin/campaigns/{campaign_id}/draft",
        body=json.dumps(
            {
                "regions": [{"region": "EU", "effective_at": "2025-11-03T00:00:00+01:00"}],
                "policy": {"steps": STEPS},
            }
        ),
    )

    # Then it is planned, still a draft, and nothing lacks
    assert completed.status == 200, completed.text
    assert completed.json()["status"] == "draft" and completed.json()["planned"] == 4
    shown = organiser.call("GET", f"/admin/campaigns/{campaign_id}").json()
    assert shown["to_complete"] == "" and shown["policy"]["steps"] == STEPS
    assert shown["policy"]["summary"] == f"{TRAIN} {MARKUP}"  # the rest kept
    # And the launch check passes and the preview shows the change's sentences
    assert organiser.call("GET", f"/admin/campaigns/{campaign_id}/launch-check").json()["ok"]
    preview = organiser.call(
        "GET",
        f"/admin/campaigns/{campaign_id}/preview",
        query="region=EU&reminder=two-weeks-left&channel=email&locale=en",
    )
    assert preview.status == 200, preview.text
    assert TRAIN in preview.json()["text"] and STEPS[1] in preview.json()["text"]
    assert "&lt;script&gt;" in preview.json()["html"] and "<script>" not in preview.json()["html"]
    # And nothing goes out until it is launched
    at(stack, test_clock, "2025-10-20T07:00:00Z")
    assert to(stack, "eva.draft@example.org") == []
    launched = organiser.call("POST", f"/admin/campaigns/{campaign_id}/launch")
    assert launched.status == 200 and launched.json()["status"] == "active"
    # When its reminder is due, it goes out
    at(stack, test_clock, "2025-10-27T08:00:00Z")  # one week left: 09:00 in Brussels
    [reminder] = to(stack, "eva.draft@example.org")
    assert "LinkedIn: Data for Generative AI Improvement" in reminder.subject
    assert TRAIN in reminder.text


def test_the_form_on_the_drafts_page_completes_it(organiser: Organiser, change_id: str) -> None:
    campaign_id = _draft(organiser, change_id)
    cookie = organiser.sign_in()
    form = urlencode(
        {
            "regions": "EU 2025-11-03\r\nCA 2025-11-03 00:00",
            "steps": "\r\n".join(STEPS),
            "title": "LinkedIn trains AI on your posts",
            "summary": "",
            "setting_url": "",
        }
    )

    reply = organiser.browse(
        "POST",
        f"/admin/campaigns/{campaign_id}/draft",
        cookie=cookie,
        body=form,
        headers={"Origin": "http://127.0.0.1:3000"},
    )

    assert reply.status == 303, reply.text
    assert reply.headers["Location"] == f"/admin/campaigns/{campaign_id}"
    shown = organiser.call("GET", f"/admin/campaigns/{campaign_id}").json()
    # Midnight in each region's reference zone: Brussels, Toronto
    assert shown["regions"] == {"EU": "2025-11-02T23:00:00Z", "CA": "2025-11-03T05:00:00Z"}
    assert shown["policy"]["steps"] == STEPS
    assert shown["title"] == "LinkedIn trains AI on your posts"
    assert shown["policy"]["summary"] == f"{TRAIN} {MARKUP}"  # left empty: unchanged
    assert shown["policy"]["setting_url"] == SETTING
    assert shown["to_complete"] == ""
    page = organiser.browse("GET", f"/admin/campaigns/{campaign_id}", cookie=cookie).text
    assert "Launch: start sending" in page and "The draft is not complete" not in page


def test_a_draft_with_problems_is_refused_naming_each_and_stays_as_it_was(
    organiser: Organiser, change_id: str
) -> None:
    campaign_id = _draft(organiser, change_id)

    by_form = organiser.call(
        "POST",
        f"/admin/campaigns/{campaign_id}/draft",
        body=urlencode({"regions": "XX 2025-11-03\r\nEU soon"}),
        # A form with the token (as a script might send it): the answer is JSON all the same
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "*/*"},
    )
    as_json = organiser.call(
        "POST",
        f"/admin/campaigns/{campaign_id}/draft",
        body=json.dumps({"regions": [{"region": "EU", "effective_at": "soon"}], "policy": []}),
    )

    assert by_form.status == 400
    problem = by_form.json()["problems"]["regions"]
    assert problem.startswith("line 1: unknown region 'XX'") and "line 2: 'soon'" in problem
    assert as_json.status == 400
    assert as_json.json()["problems"] == {"policy": "must be a JSON object"}
    shown = organiser.call("GET", f"/admin/campaigns/{campaign_id}").json()
    assert shown["regions"] == {} and shown["status"] == "draft"


def test_the_text_of_a_draft_without_regions_can_be_edited_as_any_campaigns(
    organiser: Organiser, change_id: str
) -> None:
    campaign_id = _draft(organiser, change_id)

    edited = organiser.call(
        "POST",
        f"/admin/campaigns/{campaign_id}/text",
        body=json.dumps({"title": "LinkedIn trains AI on your posts", "steps": STEPS}),
    )

    assert edited.status == 200, edited.text
    shown = organiser.call("GET", f"/admin/campaigns/{campaign_id}").json()
    assert shown["title"] == "LinkedIn trains AI on your posts"
    assert shown["policy"]["steps"] == STEPS and shown["regions"] == {}
    assert shown["to_complete"] == "the draft is not complete: add regions and deadlines first"


def test_only_a_draft_is_completed_this_way(organiser: Organiser, change_id: str) -> None:
    campaign_id = _draft(organiser, change_id)
    body = json.dumps(
        {
            "regions": [{"region": "EU", "effective_at": "2025-11-03T00:00:00+01:00"}],
            "policy": {"steps": STEPS},
        }
    )
    assert organiser.call("POST", f"/admin/campaigns/{campaign_id}/draft", body=body).status == 200
    assert organiser.call("POST", f"/admin/campaigns/{campaign_id}/launch").status == 200

    again = organiser.call("POST", f"/admin/campaigns/{campaign_id}/draft", body=body)

    assert again.status == 409
    assert again.json()["message"] == "the campaign is active, not a draft: edit its text instead"
