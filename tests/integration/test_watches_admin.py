"""Organisers declare policy watches and look after them, through the admin API and the dashboard:
bodies written as an organiser writes them, answers read as an organiser reads them. The watcher
itself is tests/integration/test_watcher.py's; here it runs only to leave versions and a status
to look at, against a page served on 127.0.0.1 by a server this module starts."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from local import invoke
from optout.core import settings
from tests.integration.conftest import Organiser, Stack

ORIGIN = {"Origin": "http://127.0.0.1:3000"}  # the dashboard's own, as a browser sends it
FORM = {"Content-Type": "application/x-www-form-urlencoded", **ORIGIN}

PAGE_WATCH = {
    "platform": "linkedin",
    "title": "LinkedIn: Data for Generative AI Improvement",
    "source": {
        "kind": "page",
        "url": "https://www.linkedin.com/help/linkedin/answer/a5538339",
    },
    "about": "setting",
    "setting_url": "https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
    "allies": ["https://hooks.digital-rights.example/optout", "https://allies.example.net/in"],
}
OTA_WATCH = {
    "platform": "linkedin",
    "title": "LinkedIn's privacy policy",
    "source": {
        "kind": "ota",
        "api_url": "https://api.opentermsarchive.org/v1",
        "service_id": "LinkedIn",
        "terms_type": "Privacy Policy",
    },
}

BEFORE = """<html><body><h1>Data for Generative AI Improvement</h1>
<p>We use your profile to recommend jobs.</p></body></html>"""
AFTER = BEFORE.replace(
    "</p></body>",
    "</p><p>From 3 November we use your posts to train AI models by default.</p></body>",
)


class Site(ThreadingHTTPServer):
    """Serves `page` at every path with `status`."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Page)
        self.page, self.status = BEFORE, 200

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/help/generative-ai"


class _Page(BaseHTTPRequestHandler):
    server: Site

    def do_GET(self) -> None:
        body = self.server.page.encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _create(organiser: Organiser, document: dict[str, Any]) -> Any:
    return organiser.call("POST", "/admin/watches", body=json.dumps(document))


def _watcher_runs(test_clock: Any) -> dict[str, int]:
    result: dict[str, int] = invoke.invoke(
        "WatcherFunction", invoke.scheduled_event(test_clock.now)
    )
    return result


def _stored(stack: Stack) -> list[dict[str, Any]]:
    return stack.items("WATCHES_TABLE")


# -- creating ---------------------------------------------------------------------------------


def test_an_organiser_declares_a_page_watch_and_sees_it_listed_as_new(
    stack: Stack, organiser: Organiser
) -> None:
    created = _create(organiser, PAGE_WATCH)
    assert created.status == 201, created.text
    watch = created.json()
    # The id is made from the platform and the page's last path part
    assert watch["watch_id"] == "linkedin-a5538339"
    assert watch["about"] == "setting"
    assert [ally["url"] for ally in watch["allies"]] == PAGE_WATCH["allies"]
    assert all(ally["secret"].startswith("whsec_") for ally in watch["allies"])
    assert "once" in watch["note"]

    [listed] = organiser.call("GET", "/admin/watches").json()["watches"]
    assert listed["watch_id"] == "linkedin-a5538339"
    assert listed["title"] == "LinkedIn: Data for Generative AI Improvement"
    assert listed["source"] == PAGE_WATCH["source"]
    assert listed["status"] == {
        "state": "new",
        "checked_at": "",
        "ok_at": "",
        "failures": 0,
        "reason": "",
        "next_check_at": "",
    }


def test_an_open_terms_archive_watch_is_named_after_its_terms_type_and_uses_the_default_terms(
    stack: Stack, organiser: Organiser
) -> None:
    created = _create(organiser, OTA_WATCH)
    assert created.status == 201, created.text
    assert created.json()["watch_id"] == "linkedin-privacy-policy"
    assert created.json()["allies"] == []

    shown = organiser.call("GET", "/admin/watches/linkedin-privacy-policy").json()
    assert shown["source"] == OTA_WATCH["source"]
    assert shown["default_terms"] is True
    assert {"AI", "opt out", "künstliche Intelligenz", "人工智能"} <= set(shown["terms"])
    assert shown["versions"] == []


def test_an_organiser_s_own_terms_replace_the_default_list(
    stack: Stack, organiser: Organiser
) -> None:
    document = {**OTA_WATCH, "watch_id": "li-privacy", "terms": ["AI", "  train ", "ai"]}
    assert _create(organiser, document).status == 201
    shown = organiser.call("GET", "/admin/watches/li-privacy").json()
    assert shown["terms"] == ["AI", "train"]  # trimmed, and each once whatever its case
    assert shown["default_terms"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source": {"kind": "page", "url": "https://www.linkedin.com:8443/help"}}, "source.url"),
        ({"allies": ["https://hooks.example.org:8080/in"]}, "allies[0]"),
        ({"allies": ["https://10.0.0.7/in"]}, "allies[0]"),
        ({"allies": ["https://169.254.169.254/latest/meta-data"]}, "allies[0]"),
        ({"source": {"kind": "page", "url": "ftp://www.linkedin.com/help"}}, "source.url"),
        ({"source": {"kind": "page"}}, "source.url"),
        ({"source": {"kind": "rss", "url": "https://www.linkedin.com/feed"}}, "source.kind"),
        (
            {"source": {"kind": "page", "url": "https://www.linkedin.com/", "method": "POST"}},
            "source.method",
        ),
        (
            {"source": {"kind": "ota", "api_url": "https://api.example.org/v1", "service_id": ""}},
            "source.service_id",
        ),
        ({"platform": "Linked In!"}, "platform"),
        ({"platform": "   "}, "platform"),
        ({"title": "Two\nlines"}, "title"),
        ({"about": "rumours"}, "about"),
        ({"watch_id": "LinkedIn Policy"}, "watch_id"),
        ({"allies": [f"https://ally{n}.example.org/in" for n in range(11)]}, "allies"),
        ({"allies": "https://ally.example.org/in"}, "allies"),
        ({"terms": ["AI", ""]}, "terms"),
        ({"terms": ["AI", "1234"]}, "terms"),
        ({"terms": "AI"}, "terms"),
        ({"terms": ["x" * 61]}, "terms"),
        ({"frequency": "daily"}, "frequency"),
    ],
)
def test_a_watch_with_a_problem_is_refused_naming_the_field_and_nothing_is_stored(
    stack: Stack, organiser: Organiser, change: dict[str, Any], field: str
) -> None:
    refused = _create(organiser, {**PAGE_WATCH, **change})
    assert refused.status == 400, refused.text
    assert field in refused.json()["problems"], refused.json()
    assert _stored(stack) == []


def test_every_problem_is_named_at_once(stack: Stack, organiser: Organiser) -> None:
    document = {
        "platform": "LinkedIn",
        "title": "",
        "source": {"kind": "page", "url": "https://www.linkedin.com:444/"},
        "terms": [""],
        "allies": ["http://hooks.example.org/in"],
    }
    refused = _create(organiser, document)
    assert refused.status == 400
    assert {"platform", "title", "source.url", "terms", "allies[0]"} <= set(
        refused.json()["problems"]
    )


@pytest.mark.parametrize("body", ["", "not json", "[]", '{"platform": "a", "platform": "b"}'])
def test_a_body_that_is_not_a_json_object_is_refused(
    stack: Stack, organiser: Organiser, body: str
) -> None:
    refused = organiser.call("POST", "/admin/watches", body=body)
    assert refused.status == 400
    assert "body" in refused.json()["problems"]


def test_a_body_too_large_is_refused(stack: Stack, organiser: Organiser) -> None:
    document = {**PAGE_WATCH, "title": "x" * 70_000}
    assert _create(organiser, document).status == 413
    assert _stored(stack) == []


def test_on_aws_an_http_address_is_refused_even_on_loopback(
    stack: Stack, organiser: Organiser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGE", "prod")
    settings.get.cache_clear()
    for source, ally in (
        ("http://www.linkedin.com/help", "https://hooks.example.org/in"),
        ("https://www.linkedin.com/help", "http://127.0.0.1:8080/in"),
    ):
        refused = _create(
            organiser, {**PAGE_WATCH, "source": {"kind": "page", "url": source}, "allies": [ally]}
        )
        assert refused.status == 400
        assert set(refused.json()["problems"]) == {
            "source.url" if source.startswith("http:") else "allies[0]"
        }
        assert "https" in refused.text
    assert _stored(stack) == []


def test_the_same_id_twice_is_a_409_and_the_first_watch_is_kept(
    stack: Stack, organiser: Organiser
) -> None:
    first = _create(organiser, PAGE_WATCH).json()
    again = _create(organiser, {**PAGE_WATCH, "title": "Another", "allies": []})
    assert again.status == 409
    assert "linkedin-a5538339" in again.json()["message"]
    [kept] = organiser.call("GET", "/admin/watches").json()["watches"]
    assert kept["title"] == first["title"] and len(kept["allies"]) == 2


def test_an_ally_s_secret_is_shown_once_then_only_its_last_characters(
    stack: Stack, organiser: Organiser
) -> None:
    created = _create(organiser, PAGE_WATCH).json()
    secrets = [ally["secret"] for ally in created["allies"]]
    assert len(set(secrets)) == 2  # one each

    listed = organiser.call("GET", "/admin/watches")
    shown = organiser.call("GET", f"/admin/watches/{created['watch_id']}")
    for reply in (listed, shown):
        for secret in secrets:
            assert secret not in reply.text
            assert secret.removeprefix("whsec_")[:12] not in reply.text
        assert '"secret"' not in reply.text
    hints = [ally["secret_hint"] for ally in shown.json()["allies"]]
    assert hints == ["whsec_…" + secret.rstrip("=")[-4:] for secret in secrets]


# -- looking after a watch --------------------------------------------------------------------


def test_a_paused_watch_is_not_read_until_it_is_resumed(
    stack: Stack, organiser: Organiser, test_clock: Any, site: Site
) -> None:
    watch_id = _create(organiser, {**PAGE_WATCH, "source": {"kind": "page", "url": site.url()}})
    watch_id = watch_id.json()["watch_id"]
    paused = organiser.call("POST", f"/admin/watches/{watch_id}/pause")
    assert paused.status == 200 and paused.json() == {"watch_id": watch_id, "paused": True}
    [listed] = organiser.call("GET", "/admin/watches").json()["watches"]
    assert listed["status"]["state"] == "paused" and listed["paused"] is True
    assert _watcher_runs(test_clock) == {"paused": 1}

    resumed = organiser.call("POST", f"/admin/watches/{watch_id}/resume")
    assert resumed.json() == {"watch_id": watch_id, "paused": False}
    assert _watcher_runs(test_clock) == {"first": 1}
    [listed] = organiser.call("GET", "/admin/watches").json()["watches"]
    assert listed["status"]["state"] == "ok"


def test_a_deleted_watch_is_gone(stack: Stack, organiser: Organiser) -> None:
    watch_id = _create(organiser, OTA_WATCH).json()["watch_id"]
    deleted = organiser.call("DELETE", f"/admin/watches/{watch_id}")
    assert deleted.status == 200 and deleted.json() == {"watch_id": watch_id, "deleted": True}
    assert organiser.call("GET", "/admin/watches").json() == {"watches": []}
    assert organiser.call("GET", f"/admin/watches/{watch_id}").status == 404
    assert organiser.call("DELETE", f"/admin/watches/{watch_id}").status == 404
    # and its id is free again
    assert _create(organiser, OTA_WATCH).status == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/watches/nobody-watches-this"),
        ("POST", "/admin/watches/nobody-watches-this/pause"),
        ("POST", "/admin/watches/nobody-watches-this/resume"),
        ("POST", "/admin/watches/nobody-watches-this/delete"),
        ("DELETE", "/admin/watches/nobody-watches-this"),
        ("GET", "/admin/watches/nobody-watches-this/versions/2025-10-13T09:00:00Z"),
    ],
)
def test_an_unknown_watch_is_a_404_and_nothing_is_made(
    stack: Stack, organiser: Organiser, method: str, path: str
) -> None:
    reply = organiser.call(method, path)
    assert reply.status == 404, reply.text
    assert "nobody-watches-this" in reply.json()["message"]
    assert _stored(stack) == []


def test_the_versions_the_watcher_kept_are_listed_with_their_text(
    stack: Stack, organiser: Organiser, test_clock: Any, site: Site
) -> None:
    document = {**PAGE_WATCH, "source": {"kind": "page", "url": site.url()}, "allies": []}
    watch_id = _create(organiser, document).json()["watch_id"]
    assert watch_id == "linkedin-generative-ai"
    assert _watcher_runs(test_clock) == {"first": 1}
    site.page = AFTER
    test_clock.advance(hours=1)
    assert _watcher_runs(test_clock) == {"changed": 1}

    shown = organiser.call("GET", f"/admin/watches/{watch_id}").json()
    assert shown["status"]["state"] == "ok" and shown["status"]["checked_at"]
    newest, first = shown["versions"]  # newest first
    assert newest["fetched_at"] > first["fetched_at"]
    assert shown["last_version"] == newest["fetched_at"]
    assert newest["url"] == site.url() and len(newest["digest"]) == 64
    # The version compared against is kept for as long as it is; the one it replaced for
    # VersionRetentionDays from then.
    assert newest["kept_until"] == ""
    assert first["kept_until"] > newest["fetched_at"]

    path = urlsplit(newest["text_url"]).path
    assert path == f"/admin/watches/{watch_id}/versions/{newest['fetched_at']}"
    version = organiser.call("GET", path).json()
    assert "train AI models by default" in version["text"]
    assert version["digest"] == newest["digest"]
    old = organiser.call("GET", urlsplit(first["text_url"]).path).json()
    assert "train" not in old["text"]

    # The changes found link to both versions: they stay readable after the watch is deleted.
    assert organiser.call("DELETE", f"/admin/watches/{watch_id}").status == 200
    assert organiser.call("GET", path).json()["text"] == version["text"]


def test_a_failing_source_shows_on_the_watch_with_its_reason(
    stack: Stack, organiser: Organiser, test_clock: Any, site: Site
) -> None:
    document = {**PAGE_WATCH, "source": {"kind": "page", "url": site.url()}, "allies": []}
    _create(organiser, document)
    site.status = 503
    assert _watcher_runs(test_clock) == {"failed": 1}
    [listed] = organiser.call("GET", "/admin/watches").json()["watches"]
    assert listed["status"]["state"] == "failing"
    assert listed["status"]["failures"] == 1 and "503" in listed["status"]["reason"]
    assert listed["status"]["next_check_at"] > listed["status"]["checked_at"]


def test_without_the_admin_token_every_watch_route_is_a_401_and_nothing_is_made(
    stack: Stack, organiser: Organiser
) -> None:
    routes = [
        ("GET", "/admin/watches"),
        ("POST", "/admin/watches"),
        ("GET", "/admin/watches/linkedin-a5538339"),
        ("POST", "/admin/watches/linkedin-a5538339/pause"),
        ("POST", "/admin/watches/linkedin-a5538339/resume"),
        ("POST", "/admin/watches/linkedin-a5538339/delete"),
        ("DELETE", "/admin/watches/linkedin-a5538339"),
        ("GET", "/admin/watches/linkedin-a5538339/versions/2025-10-13T09:00:00Z"),
    ]
    for token in (None, "wrong-token"):
        for method, path in routes:
            reply = organiser.call(method, path, token=token, body=json.dumps(PAGE_WATCH))
            assert reply.status == 401, (method, path, reply.text)
            assert reply.json()["error"] == "Unauthorized"
    assert _stored(stack) == []


# -- the dashboard ----------------------------------------------------------------------------


def test_the_dashboard_lists_the_watches_failing_ones_marked_with_their_reason(
    stack: Stack, organiser: Organiser, test_clock: Any, site: Site
) -> None:
    cookie = organiser.sign_in()
    empty = organiser.browse("GET", "/admin/watches", cookie=cookie)
    assert empty.status == 200 and "Nothing is watched yet" in empty.text
    assert 'href="/admin/watches" aria-current="page"' in empty.text  # in the header's nav

    _create(organiser, {**PAGE_WATCH, "source": {"kind": "page", "url": site.url()}})
    site.status = 503
    assert _watcher_runs(test_clock) == {"failed": 1}
    _create(organiser, {**OTA_WATCH, "platform": "bluesky"})  # new: not read yet

    page = organiser.browse("GET", "/admin/watches", cookie=cookie).text
    assert "1 watch is failing" in page
    assert page.count('<tr class="failing">') == 1 and "503" in page
    # listed first, before a platform that sorts before it
    assert page.index("linkedin-generative-ai") < page.index("bluesky-privacy-policy")


def test_a_watch_created_with_the_dashboard_s_form_shows_its_allies_secrets_once(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()
    form = {
        "platform": "linkedin",
        "title": "LinkedIn privacy policy",
        "kind": "ota",
        "url": "",
        "api_url": "https://api.opentermsarchive.org/v1",
        "service_id": "LinkedIn",
        "terms_type": "Privacy Policy",
        "about": "policy",
        "setting_url": "",
        "allies": "https://hooks.digital-rights.example/optout\r\n\r\nhttps://allies.example.net/in\r\n",
        "terms": "",
        "watch_id": "",
    }
    created = organiser.browse(
        "POST", "/admin/watches", cookie=cookie, headers=FORM, body=urlencode(form)
    )
    assert created.status == 201, created.text
    assert "Watch created: LinkedIn privacy policy" in created.text
    assert created.text.count("whsec_") == 2
    assert "shown here once" in created.text

    shown = organiser.call("GET", "/admin/watches/linkedin-privacy-policy").json()
    assert shown["source"]["kind"] == "ota" and shown["default_terms"] is True
    assert [ally["url"] for ally in shown["allies"]] == [
        "https://hooks.digital-rights.example/optout",
        "https://allies.example.net/in",
    ]
    page = organiser.browse("GET", "/admin/watches/linkedin-privacy-policy", cookie=cookie)
    assert page.status == 200 and "whsec_…" in page.text
    assert created.text.split('<code class="url">')[1].split("</code>")[0] not in page.text


def test_the_dashboard_s_form_with_a_problem_says_which_field(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()
    form = {"platform": "linkedin", "title": "A page", "kind": "page", "url": "http://x.org/"}
    refused = organiser.browse(
        "POST", "/admin/watches", cookie=cookie, headers=FORM, body=urlencode(form)
    )
    assert refused.status == 400
    assert "source.url" in refused.text and "https" in refused.text
    assert _stored(stack) == []


def test_the_dashboard_s_buttons_pause_resume_and_delete_then_go_back_to_the_list(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()
    watch_id = _create(organiser, OTA_WATCH).json()["watch_id"]
    for action, paused in (("pause", True), ("resume", False)):
        pressed = organiser.browse(
            "POST", f"/admin/watches/{watch_id}/{action}", cookie=cookie, headers=ORIGIN
        )
        assert pressed.status == 303 and pressed.headers["Location"] == "/admin/watches"
        shown = organiser.call("GET", f"/admin/watches/{watch_id}").json()
        assert shown["paused"] is paused
    # A form posted from another site is refused
    forged = organiser.browse(
        "POST",
        f"/admin/watches/{watch_id}/delete",
        cookie=cookie,
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status == 403
    deleted = organiser.browse(
        "POST", f"/admin/watches/{watch_id}/delete", cookie=cookie, headers=ORIGIN
    )
    assert deleted.status == 303
    assert organiser.call("GET", "/admin/watches").json() == {"watches": []}


def test_a_kept_version_reads_as_a_page(
    stack: Stack, organiser: Organiser, test_clock: Any, site: Site
) -> None:
    cookie = organiser.sign_in()
    document = {**PAGE_WATCH, "source": {"kind": "page", "url": site.url()}, "allies": []}
    watch_id = _create(organiser, document).json()["watch_id"]
    _watcher_runs(test_clock)
    watch = organiser.browse("GET", f"/admin/watches/{watch_id}", cookie=cookie).text
    assert "Versions kept" in watch
    [fetched_at] = [
        v["fetched_at"]
        for v in organiser.call("GET", f"/admin/watches/{watch_id}").json()["versions"]
    ]
    assert f"/admin/watches/{watch_id}/versions/{fetched_at}" in watch
    version = organiser.browse(
        "GET", f"/admin/watches/{watch_id}/versions/{fetched_at}", cookie=cookie
    )
    assert version.status == 200 and version.headers["Content-Type"].startswith("text/html")
    assert '<p class="url">We use your profile to recommend jobs.</p>' in version.text
