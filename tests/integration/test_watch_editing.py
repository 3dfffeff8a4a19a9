"""Organisers edit a policy watch (POST /admin/watches/{id}/edit) through the admin API and the
dashboard: its title, terms and allies change; its source, the version it compares against and
its other allies' secrets stay. The watcher reads a page served on 127.0.0.1 (conftest's
`site`) to show the new terms at work."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest

from local import invoke
from optout.core import settings
from optout.store import WatchStore
from tests.helpers import AFTER, WatchedSite
from tests.integration.conftest import Organiser, Stack

ORIGIN = {"Origin": "http://127.0.0.1:3000"}  # the dashboard's own, as a browser sends it
FORM = {"Content-Type": "application/x-www-form-urlencoded", **ORIGIN}
KEPT = "https://hooks.digital-rights.example/optout"
DROPPED = "https://allies.example.net/in"
WATCH = {
    "watch_id": "li-ai",
    "platform": "linkedin",
    "title": "LinkedIn: Data for Generative AI Improvement",
    "source": {"kind": "page", "url": "https://www.linkedin.com/help/linkedin/answer/a5538339"},
    "about": "setting",
    "setting_url": "https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
    "allies": [KEPT, DROPPED],
}


def _create(organiser: Organiser, **fields: Any) -> dict[str, Any]:
    created = organiser.call("POST", "/admin/watches", body=json.dumps({**WATCH, **fields}))
    assert created.status == 201, created.text
    return dict(created.json())


def _edit(organiser: Organiser, document: Any, watch_id: str = "li-ai") -> Any:
    return organiser.call("POST", f"/admin/watches/{watch_id}/edit", body=json.dumps(document))


def _show(organiser: Organiser, watch_id: str = "li-ai") -> dict[str, Any]:
    return dict(organiser.call("GET", f"/admin/watches/{watch_id}").json())


def _secrets(stack: Stack) -> dict[str, str]:
    """Each ally's secret as stored (no answer shows them after the first)."""
    [watch] = [item for item in stack.items("WATCHES_TABLE") if item["pk"] == "WATCHES"]
    return {ally["url"]: ally["secret"] for ally in watch["allies"]}


def _watcher_runs(test_clock: Any) -> dict[str, int]:
    result: dict[str, int] = invoke.invoke(
        "WatcherFunction", invoke.scheduled_event(test_clock.now)
    )
    return result


# -- terms --------------------------------------------------------------------------------------


def test_a_change_after_the_terms_were_edited_is_scored_by_the_new_list(
    stack: Stack, organiser: Organiser, test_clock: Any, site: WatchedSite
) -> None:
    # Given a watch with the default terms, read once
    _create(organiser, source={"kind": "page", "url": site.url()}, allies=[])
    assert _watcher_runs(test_clock) == {"first": 1}
    # When the organiser replaces its terms
    edited = _edit(organiser, {"terms": ["posts", "settings"]})
    assert edited.status == 200, edited.text
    assert edited.json()["terms"] == ["posts", "settings"]
    assert edited.json()["default_terms"] is False
    # and the page changes
    site.page = AFTER
    test_clock.advance(hours=1)
    # Then the watcher compares with the version it kept, and matches the new terms only
    assert _watcher_runs(test_clock) == {"changed": 1}
    [change] = organiser.call("GET", "/admin/changes").json()["changes"]
    assert change["terms"] == ["posts", "settings"]
    shown = _show(organiser)
    assert len(shown["versions"]) == 2 and shown["status"]["state"] == "ok"


def test_no_terms_go_back_to_the_default_list(stack: Stack, organiser: Organiser) -> None:
    _create(organiser, terms=["posts"])
    for empty in ([], None):
        _edit(organiser, {"terms": ["posts"]})
        edited = _edit(organiser, {"terms": empty})
        assert edited.status == 200, edited.text
        shown = _show(organiser)
        assert shown["default_terms"] is True and "opt out" in shown["terms"]


def test_fields_left_out_stay_as_they_were(stack: Stack, organiser: Organiser) -> None:
    _create(organiser, terms=["posts"])
    organiser.call("POST", "/admin/watches/li-ai/pause")
    before = _show(organiser)
    edited = _edit(organiser, {"title": "LinkedIn's AI setting"})
    assert edited.status == 200
    after = _show(organiser)
    assert after["title"] == "LinkedIn's AI setting"
    assert {**after, "title": before["title"]} == before and after["paused"] is True


def test_the_setting_url_and_about_change_and_the_setting_url_can_be_cleared(
    stack: Stack, organiser: Organiser
) -> None:
    _create(organiser)
    assert _edit(organiser, {"about": "policy", "setting_url": ""}).status == 200
    shown = _show(organiser)
    assert shown["about"] == "policy" and shown["setting_url"] == ""
    assert _edit(organiser, {"setting_url": "https://www.linkedin.com/settings"}).status == 200
    assert _show(organiser)["setting_url"] == "https://www.linkedin.com/settings"


# -- allies -------------------------------------------------------------------------------------


def test_an_added_ally_s_secret_is_shown_once_and_the_kept_ally_keeps_its_own(
    stack: Stack, organiser: Organiser
) -> None:
    created = _create(organiser)
    first = {ally["url"]: ally["secret"] for ally in created["allies"]}
    added_url = "https://watchers.example.org/hook"

    edited = _edit(organiser, {"add_allies": [added_url], "remove_allies": [DROPPED]})
    assert edited.status == 200, edited.text
    [new] = edited.json()["new_allies"]
    assert new["url"] == added_url and new["secret"].startswith("whsec_")
    assert new["secret"] not in first.values() and "once" in edited.json()["note"]
    assert [ally["url"] for ally in edited.json()["allies"]] == [KEPT, added_url]

    assert _secrets(stack) == {KEPT: first[KEPT], added_url: new["secret"]}
    shown = organiser.call("GET", "/admin/watches/li-ai")
    assert new["secret"] not in shown.text and '"secret"' not in shown.text


def test_an_ally_removed_and_added_again_gets_a_new_secret(
    stack: Stack, organiser: Organiser
) -> None:
    first = {ally["url"]: ally["secret"] for ally in _create(organiser)["allies"]}
    edited = _edit(organiser, {"remove_allies": [DROPPED], "add_allies": [DROPPED]})
    assert edited.status == 200, edited.text
    [new] = edited.json()["new_allies"]
    assert new["url"] == DROPPED and new["secret"] != first[DROPPED]
    assert _secrets(stack) == {KEPT: first[KEPT], DROPPED: new["secret"]}


def test_an_edit_without_new_allies_shows_no_secret(stack: Stack, organiser: Organiser) -> None:
    _create(organiser)
    edited = _edit(organiser, {"remove_allies": [DROPPED]})
    assert edited.json()["new_allies"] == [] and edited.json()["note"] == ""
    assert '"secret"' not in edited.text


def test_an_edit_made_on_allies_that_changed_meanwhile_is_refused_and_loses_nothing(
    stack: Stack, organiser: Organiser
) -> None:
    # Given an edit read the watch, then the notifier recorded a problem on an ally
    _create(organiser)
    store = WatchStore(settings.get())
    read = store.get("li-ai")
    assert read is not None
    assert store.set_ally_problem("li-ai", 1, DROPPED, "503 after 8 attempts")
    # When the edit is saved on what it read
    edited = replace(read, title="Stale", allies=read.allies[:1])
    # Then it is refused, and the problem and both allies stay
    assert store.edit(read, edited) is False
    shown = _show(organiser)
    assert shown["title"] == WATCH["title"]
    assert [ally["problem"] for ally in shown["allies"]] == ["", "503 after 8 attempts"]


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ({"source": {"kind": "page", "url": "https://www.linkedin.com/other"}}, "source", "new"),
        ({"platform": "meta"}, "platform", "new watch"),
        ({"watch_id": "another"}, "watch_id", "cannot be changed"),
        ({"allies": [KEPT]}, "allies", "add_allies"),
        ({"frequency": "daily"}, "frequency", "not a field"),
        ({"title": ""}, "title", "required"),
        ({"title": "Two\nlines"}, "title", "one line"),
        ({"about": "rumours"}, "about", "policy"),
        ({"setting_url": "ftp://www.linkedin.com/settings"}, "setting_url", "https"),
        ({"terms": ["AI", ""]}, "terms", ""),
        ({"terms": "AI"}, "terms", ""),
        ({"terms": ["x" * 61]}, "terms", ""),
        ({"add_allies": ["https://10.0.0.7/in"]}, "add_allies[0]", "private"),
        ({"add_allies": ["https://hooks.example.org:8080/in"]}, "add_allies[0]", "port"),
        ({"add_allies": [KEPT]}, "add_allies[0]", "already"),
        ({"add_allies": "https://ally.example.org/in"}, "add_allies", "list"),
        (
            {"add_allies": [f"https://ally{n}.example.org/in" for n in range(9)]},
            "add_allies",
            "at most 10",
        ),
        ({"remove_allies": ["https://stranger.example.org/in"]}, "remove_allies[0]", "not an"),
    ],
)
def test_a_bad_edit_is_a_400_naming_the_field_and_nothing_changes(
    stack: Stack, organiser: Organiser, document: dict[str, Any], field: str, words: str
) -> None:
    _create(organiser)
    stored = stack.items("WATCHES_TABLE")
    refused = _edit(organiser, {"title": "A new title", "add_allies": [], **document})
    assert refused.status == 400, refused.text
    assert field in refused.json()["problems"], refused.json()
    assert words in refused.json()["problems"][field]
    assert stack.items("WATCHES_TABLE") == stored


def test_every_problem_of_an_edit_is_named_at_once(stack: Stack, organiser: Organiser) -> None:
    _create(organiser)
    stored = stack.items("WATCHES_TABLE")
    refused = _edit(
        organiser,
        {
            "source": {"kind": "page", "url": "https://x.example.org/"},
            "title": "",
            "terms": [""],
            "add_allies": ["http://hooks.example.org/in"],
            "remove_allies": ["https://nobody.example.org/"],
        },
    )
    assert refused.status == 400
    assert set(refused.json()["problems"]) == {
        "source",
        "title",
        "terms",
        "add_allies[0]",
        "remove_allies[0]",
    }
    assert stack.items("WATCHES_TABLE") == stored


@pytest.mark.parametrize("body", ["", "not json", "[]"])
def test_an_edit_that_is_not_a_json_object_is_refused(
    stack: Stack, organiser: Organiser, body: str
) -> None:
    _create(organiser)
    refused = organiser.call("POST", "/admin/watches/li-ai/edit", body=body)
    assert refused.status == 400 and "body" in refused.json()["problems"]


def test_an_unknown_watch_is_a_404_and_nothing_is_made(stack: Stack, organiser: Organiser) -> None:
    reply = _edit(organiser, {"title": "Anything"}, watch_id="nobody-watches-this")
    assert reply.status == 404, reply.text
    assert "nobody-watches-this" in reply.json()["message"]
    assert stack.items("WATCHES_TABLE") == []


def test_without_the_admin_token_an_edit_is_a_401_and_nothing_changes(
    stack: Stack, organiser: Organiser
) -> None:
    _create(organiser)
    stored = stack.items("WATCHES_TABLE")
    for token in (None, "wrong-token"):
        reply = organiser.call(
            "POST", "/admin/watches/li-ai/edit", token=token, body=json.dumps({"title": "Mine"})
        )
        assert reply.status == 401 and reply.json()["error"] == "Unauthorized"
    assert stack.items("WATCHES_TABLE") == stored


# -- the dashboard ------------------------------------------------------------------------------


def test_the_watch_page_s_form_is_filled_in_with_the_watch(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()
    _create(organiser, terms=["posts", "train"])
    page = organiser.browse("GET", "/admin/watches/li-ai", cookie=cookie).text
    assert 'action="/admin/watches/li-ai/edit"' in page
    assert 'value="LinkedIn: Data for Generative AI Improvement"' in page
    assert 'value="setting" selected' in page
    assert f'value="{WATCH["setting_url"]}"' in page
    assert ">posts\ntrain</textarea>" in page
    assert f'name="remove_allies" type="checkbox" value="{KEPT}"' in page
    assert "a new source is a new watch" in page
    # The default list is not written into the form: saved as it is, it stays the default.
    _edit(organiser, {"terms": []})
    page = organiser.browse("GET", "/admin/watches/li-ai", cookie=cookie).text
    assert 'aria-describedby="e-terms-hint"></textarea>' in page


def test_the_dashboard_s_form_saves_and_shows_the_new_ally_s_secret_once(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()
    first = {ally["url"]: ally["secret"] for ally in _create(organiser)["allies"]}
    form = [
        ("title", "LinkedIn's AI setting"),
        ("about", "setting"),
        ("setting_url", ""),
        ("terms", "posts\r\n\r\n settings \r\n"),
        ("add_allies", "https://watchers.example.org/hook\r\n"),
        ("remove_allies", DROPPED),
    ]
    saved = organiser.browse(
        "POST", "/admin/watches/li-ai/edit", cookie=cookie, headers=FORM, body=urlencode(form)
    )
    assert saved.status == 200, saved.text
    assert "Watch saved" in saved.text and "<h1>LinkedIn&#39;s AI setting" in saved.text
    secret = saved.text.split('<code class="url">')[1].split("</code>")[0]
    assert secret.startswith("whsec_") and "shown here once" in saved.text

    shown = _show(organiser)
    assert shown["terms"] == ["posts", "settings"] and shown["setting_url"] == ""
    assert _secrets(stack) == {KEPT: first[KEPT], "https://watchers.example.org/hook": secret}
    again = organiser.browse("GET", "/admin/watches/li-ai", cookie=cookie).text
    assert secret not in again and "Watch saved" not in again


def test_the_dashboard_s_form_removes_several_allies_and_empty_terms_mean_the_default(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()
    _create(organiser, terms=["posts"])
    form = [
        ("title", WATCH["title"]),
        ("about", "setting"),
        ("setting_url", WATCH["setting_url"]),
        ("terms", ""),
        ("add_allies", ""),
        ("remove_allies", KEPT),
        ("remove_allies", DROPPED),
    ]
    saved = organiser.browse(
        "POST", "/admin/watches/li-ai/edit", cookie=cookie, headers=FORM, body=urlencode(form)
    )
    assert saved.status == 200, saved.text
    assert "No ally is told of its changes" in saved.text
    shown = _show(organiser)
    assert shown["allies"] == [] and shown["default_terms"] is True


def test_the_dashboard_s_form_with_a_problem_says_which_field_and_changes_nothing(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()
    _create(organiser)
    stored = stack.items("WATCHES_TABLE")
    form = {"title": "", "about": "setting", "add_allies": "http://hooks.example.org/in"}
    refused = organiser.browse(
        "POST", "/admin/watches/li-ai/edit", cookie=cookie, headers=FORM, body=urlencode(form)
    )
    assert refused.status == 400
    assert "title" in refused.text and "add_allies[0]" in refused.text
    assert stack.items("WATCHES_TABLE") == stored


def test_an_edit_form_sent_from_another_site_is_refused(stack: Stack, organiser: Organiser) -> None:
    cookie = organiser.sign_in()
    _create(organiser)
    stored = stack.items("WATCHES_TABLE")
    forged = organiser.browse(
        "POST",
        "/admin/watches/li-ai/edit",
        cookie=cookie,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://x.test"},
        body=urlencode({"title": "Forged", "remove_allies": KEPT}),
    )
    assert forged.status == 403
    assert stack.items("WATCHES_TABLE") == stored
