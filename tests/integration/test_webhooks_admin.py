"""Organisers register the endpoints of their own tools and look after them, through the admin API
(`/admin/webhooks`) and the dashboard: bodies written as an organiser writes them, answers read
as an organiser reads them. Delivery itself is test_events_out.py's; here the events function
runs only to leave attempts and dead letters to look at, and to show that a replay arrives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from standardwebhooks.webhooks import Webhook

from optout.core import clock, events, settings
from optout.core.events import EventType
from tests.integration.conftest import Organiser, Reply, Stack

ORIGIN = {"Origin": "http://127.0.0.1:3000"}  # the dashboard's own, as a browser sends it
FORM = {"Content-Type": "application/x-www-form-urlencoded", **ORIGIN}
CRM = {"url": "https://crm.example.org/hooks/optout", "own_crm": True, "description": "Our CRM"}


class Inbox(ThreadingHTTPServer):
    """An endpoint on 127.0.0.1 answering `status`, keeping each event its secret verifies."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.secret = ""
        self.status = 204
        self.events: list[dict[str, Any]] = []

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/in"


class _Receive(BaseHTTPRequestHandler):
    server: Inbox

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        verified = Webhook(self.server.secret).verify(body, dict(self.headers))
        self.server.events.append({"id": self.headers["webhook-id"], **verified})
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    server = Inbox()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _create(organiser: Organiser, document: dict[str, Any]) -> Reply:
    return organiser.call("POST", "/admin/webhooks", body=json.dumps(document))


def _stored(stack: Stack) -> list[dict[str, Any]]:
    return stack.items("EVENTS_TABLE")


def _emit(type: EventType = EventType.CAMPAIGN_LAUNCHED) -> str:
    return events.emit(settings.get(), type, {"campaign_id": "c"}, clock.now())


# ---------------------------------------------------------------- registered


def test_an_organiser_registers_an_endpoint_and_sees_its_secret_once(
    stack: Stack, organiser: Organiser
) -> None:
    # When an organiser registers their CRM
    created = _create(organiser, {**CRM, "events": ["subscriber.confirmed"]})

    # Then the answer holds its secret, this once
    assert created.status == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert "shown here once" in body["note"]
    assert (body["own_crm"], body["events"], body["every_event"]) == (
        True,
        ["subscriber.confirmed"],
        False,
    )
    # And afterwards only its last characters
    shown = organiser.call("GET", f"/admin/webhooks/{body['endpoint_id']}").json()
    assert shown["secret_hint"] == "whsec_…" + body["secret"].rstrip("=")[-4:]
    assert body["secret"] not in json.dumps(shown)
    listed = organiser.call("GET", "/admin/webhooks").json()["endpoints"]
    assert [endpoint["url"] for endpoint in listed] == [CRM["url"]]
    assert body["secret"] not in json.dumps(listed)


def test_an_endpoint_takes_every_event_unless_told(stack: Stack, organiser: Organiser) -> None:
    body = _create(organiser, {"url": "https://tools.example.org/in"}).json()

    assert body["every_event"] is True and body["own_crm"] is False
    assert "policy.change_detected" in body["events"]


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ({"url": "http://tools.example.org/in"}, "url", "https"),
        ({"url": "https://tools.example.org:8443/in"}, "url", "443"),
        ({"url": "https://10.0.0.7/in"}, "url", "private"),
        ({"url": "https://169.254.169.254/latest"}, "url", "private"),
        ({"url": "https://user:pw@tools.example.org/in"}, "url", "user name"),
        ({}, "url", "required"),
        (
            {"url": "https://tools.example.org/in", "events": ["campaign.exploded"]},
            "events",
            "unknown",
        ),
        ({"url": "https://tools.example.org/in", "events": "all"}, "events", "list"),
        ({"url": "https://tools.example.org/in", "own_crm": "yes"}, "own_crm", "true or false"),
        ({"url": "https://tools.example.org/in", "secret": "whsec_x"}, "secret", "not a field"),
    ],
)
def test_a_bad_endpoint_is_refused_naming_the_field_and_nothing_is_stored(
    stack: Stack, organiser: Organiser, document: dict[str, Any], field: str, words: str
) -> None:
    refused = _create(organiser, document)

    assert refused.status == 400
    assert field in refused.json()["problems"]
    assert words in refused.json()["problems"][field]
    assert _stored(stack) == []


def test_a_body_that_is_not_json_is_refused(stack: Stack, organiser: Organiser) -> None:
    refused = organiser.call("POST", "/admin/webhooks", body="url=https://x.org")

    assert refused.status == 400 and "JSON" in refused.text
    assert _stored(stack) == []


def test_on_aws_a_loopback_address_is_refused(
    stack: Stack, organiser: Organiser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGE", "prod")
    settings.get.cache_clear()

    refused = _create(organiser, {"url": "http://127.0.0.1:8080/in"})

    assert refused.status == 400 and "https" in refused.json()["problems"]["url"]
    assert _stored(stack) == []


# ---------------------------------------------------------------- looked after


def test_an_edit_changes_only_what_it_names(stack: Stack, organiser: Organiser) -> None:
    endpoint_id = _create(organiser, CRM).json()["endpoint_id"]

    edited = organiser.call(
        "POST",
        f"/admin/webhooks/{endpoint_id}/edit",
        body=json.dumps({"events": ["reminder.sent"], "own_crm": False}),
    )

    assert edited.status == 200, edited.text
    shown = organiser.call("GET", f"/admin/webhooks/{endpoint_id}").json()
    assert (shown["url"], shown["description"]) == (CRM["url"], "Our CRM")
    assert (shown["events"], shown["own_crm"]) == (["reminder.sent"], False)
    # A bad edit changes nothing
    refused = organiser.call(
        "POST", f"/admin/webhooks/{endpoint_id}/edit", body=json.dumps({"url": "ftp://x"})
    )
    assert refused.status == 400
    assert organiser.call("GET", f"/admin/webhooks/{endpoint_id}").json() == shown


def test_a_rotated_secret_is_shown_once_and_the_old_one_signs_beside_it_for_a_day(
    stack: Stack, organiser: Organiser, inbox: Inbox
) -> None:
    created = _create(organiser, {"url": inbox.url()}).json()
    old = created["secret"]

    rotated = organiser.call("POST", f"/admin/webhooks/{created['endpoint_id']}/rotate-secret")

    assert rotated.status == 200
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    # A receiver still on the old secret verifies the next event, and one on the new does too
    for secret in (old, new):
        inbox.secret = secret
        _emit()
        stack.drain("EVENTS_QUEUE_URL", "EventsFunction")
    assert len(inbox.events) == 2


def test_a_second_rotation_within_the_day_is_refused_so_the_first_secret_keeps_its_overlap(
    stack: Stack, organiser: Organiser, inbox: Inbox
) -> None:
    created = _create(organiser, {"url": inbox.url()}).json()
    path = f"/admin/webhooks/{created['endpoint_id']}/rotate-secret"
    assert organiser.call("POST", path).status == 200

    again = organiser.call("POST", path)

    assert again.status == 409
    assert "rotated less than a day ago" in again.text
    # And the receiver still on the first secret keeps verifying
    inbox.secret = created["secret"]
    _emit()
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")
    assert len(inbox.events) == 1


def test_a_paused_endpoint_gets_nothing_until_resumed_then_its_dead_letters_are_replayed(
    stack: Stack, organiser: Organiser, inbox: Inbox
) -> None:
    created = _create(organiser, {"url": inbox.url()}).json()
    inbox.secret = created["secret"]
    endpoint_id = created["endpoint_id"]

    # Given a paused endpoint, and an event meanwhile
    assert organiser.call("POST", f"/admin/webhooks/{endpoint_id}/pause").json()["status"] == (
        "paused"
    )
    event_id = _emit()
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")
    assert inbox.events == []
    [letter] = organiser.call("GET", f"/admin/webhooks/{endpoint_id}").json()["dead_letters"]
    assert letter["event_id"] == event_id and "paused" in letter["reason"]
    # A replay while paused is refused, saying what to do
    refused = organiser.call(
        "POST", f"/admin/webhooks/{endpoint_id}/replay", body=json.dumps({"event_id": event_id})
    )
    assert refused.status == 409 and "resume" in refused.text

    # When it is resumed and the dead letter replayed
    organiser.call("POST", f"/admin/webhooks/{endpoint_id}/resume")
    replayed = organiser.call(
        "POST", f"/admin/webhooks/{endpoint_id}/replay", body=json.dumps({"event_id": event_id})
    )
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")

    # Then it arrives
    assert replayed.json()["replayed"] == 1
    assert [event["id"] for event in inbox.events] == [event_id]


@pytest.mark.parametrize(
    ("document", "status"),
    [
        ({}, 400),
        ({"event_id": "evt_a", "from": "2025-10-27T09:00:00Z"}, 400),
        ({"from": "2025-10-27T09:00:00Z"}, 400),
        ({"from": "yesterday", "to": "2025-10-27T09:00:00Z"}, 400),
        ({"from": "2025-10-28T09:00:00Z", "to": "2025-10-27T09:00:00Z"}, 400),
        ({"event_id": 7}, 400),
        ({"event_id": "evt_never"}, 404),
        ({"events": "all"}, 400),
    ],
)
def test_a_bad_replay_is_refused_and_queues_nothing(
    stack: Stack, organiser: Organiser, document: dict[str, Any], status: int
) -> None:
    endpoint_id = _create(organiser, {"url": "https://tools.example.org/in"}).json()["endpoint_id"]

    refused = organiser.call(
        "POST", f"/admin/webhooks/{endpoint_id}/replay", body=json.dumps(document)
    )

    assert refused.status == status, refused.text
    assert refused.json()["message"]
    assert stack.release_delayed("EVENTS_QUEUE_URL") == 0
    assert stack.drain("EVENTS_QUEUE_URL", "EventsFunction") == {"processed": 0, "failed": 0}


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("DELETE", ""),
        ("POST", "/edit"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/delete"),
        ("POST", "/rotate-secret"),
        ("POST", "/replay"),
    ],
)
def test_an_unknown_or_forged_endpoint_id_is_a_404_and_nothing_is_made(
    stack: Stack, organiser: Organiser, method: str, suffix: str
) -> None:
    for endpoint_id in ("ep_doesnotexist", "ENDPOINTS", "x" * 2000, "ep_" + "a" * 300):
        reply = organiser.call(
            method, f"/admin/webhooks/{endpoint_id}{suffix}", body=json.dumps({"event_id": "e"})
        )
        assert reply.status == 404, (endpoint_id, reply.text)
    assert _stored(stack) == []


def test_a_deleted_endpoint_is_gone_and_gets_nothing_more(
    stack: Stack, organiser: Organiser, inbox: Inbox
) -> None:
    endpoint_id = _create(organiser, {"url": inbox.url()}).json()["endpoint_id"]

    assert organiser.call("DELETE", f"/admin/webhooks/{endpoint_id}").json()["deleted"] is True
    _emit()
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")

    assert organiser.call("GET", f"/admin/webhooks/{endpoint_id}").status == 404
    assert organiser.call("GET", "/admin/webhooks").json() == {"endpoints": []}
    assert inbox.events == []


def test_without_the_admin_token_every_webhook_route_is_a_401_and_nothing_is_made(
    stack: Stack, organiser: Organiser
) -> None:
    for method, path in (
        ("GET", "/admin/webhooks"),
        ("POST", "/admin/webhooks"),
        ("POST", "/admin/webhooks/ep_abc/replay"),
    ):
        reply = organiser.call(
            method, path, token=None, body=json.dumps({"url": "https://x.example.org/in"})
        )
        assert reply.status == 401
    assert _stored(stack) == []


# ---------------------------------------------------------------- the dashboard


def test_the_dashboard_registers_an_endpoint_shows_its_secret_once_and_its_deliveries(
    stack: Stack, organiser: Organiser, inbox: Inbox
) -> None:
    cookie = organiser.sign_in()
    form = urlencode(
        {"url": inbox.url(), "description": "<b>our tools</b>", "events": "campaign.launched"}
    )

    created = organiser.browse("POST", "/admin/webhooks", cookie=cookie, headers=FORM, body=form)

    assert created.status == 201, created.text
    assert "shown here once" in created.text
    secret = created.text.split('<code class="url">')[1].split("</code>")[0]
    assert secret.startswith("whsec_")
    assert "&lt;b&gt;our tools&lt;/b&gt;" in created.text and "<b>our tools</b>" not in created.text
    [endpoint] = organiser.call("GET", "/admin/webhooks").json()["endpoints"]
    assert endpoint["events"] == ["campaign.launched"]

    # Given an event delivered and one refused
    inbox.secret = secret
    _emit()
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")
    inbox.status = 410
    _emit()
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")

    # Then the endpoint's page shows both answers, the dead letter with a replay button,
    # and not the secret
    page = organiser.browse("GET", f"/admin/webhooks/{endpoint['endpoint_id']}", cookie=cookie)
    assert page.status == 200
    assert "Recent deliveries" in page.text and "delivered" in page.text
    assert "the endpoint answered 410" in page.text
    assert f"/admin/webhooks/{endpoint['endpoint_id']}/replay" in page.text
    assert secret not in page.text
    listing = organiser.browse("GET", "/admin/webhooks", cookie=cookie)
    assert listing.status == 200 and inbox.url() in listing.text


def test_the_dashboard_s_buttons_pause_resume_and_replay_then_go_back_to_the_endpoint(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()
    endpoint_id = _create(organiser, {"url": "https://tools.example.org/in"}).json()["endpoint_id"]
    back = f"/admin/webhooks/{endpoint_id}"
    for action, status in (("pause", "paused"), ("resume", "active")):
        pressed = organiser.browse("POST", f"{back}/{action}", cookie=cookie, headers=ORIGIN)
        assert pressed.status == 303 and pressed.headers["Location"] == back
        assert organiser.call("GET", back).json()["status"] == status
    forged = organiser.browse(
        "POST", f"{back}/delete", cookie=cookie, headers={"Origin": "https://evil.example"}
    )
    assert forged.status == 403
    replayed = organiser.browse(
        "POST",
        f"{back}/replay",
        cookie=cookie,
        headers=FORM,
        body=urlencode({"from": "2025-10-27T00:00:00Z", "to": "2025-10-28T00:00:00Z"}),
    )
    assert replayed.status == 303 and replayed.headers["Location"] == back


def test_a_range_reaching_before_the_events_kept_replays_those_kept(
    stack: Stack, organiser: Organiser, inbox: Inbox
) -> None:
    created = _create(organiser, {"url": inbox.url()}).json()
    inbox.secret = created["secret"]
    event_id = _emit()
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")

    replayed = organiser.call(
        "POST",
        f"/admin/webhooks/{created['endpoint_id']}/replay",
        body=json.dumps({"from": "1970-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}),
    )
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")

    assert replayed.status == 200, replayed.text
    assert replayed.json()["event_ids"] == [event_id]
    assert [event["id"] for event in inbox.events] == [event_id, event_id]


def test_the_dashboard_s_edit_form_sets_every_field_as_shown(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()
    endpoint_id = _create(organiser, {**CRM, "events": ["reminder.sent"]}).json()["endpoint_id"]
    back = f"/admin/webhooks/{endpoint_id}"

    # When the form is sent with the description emptied, no box checked and the CRM unticked
    form = urlencode({"url": "https://tools.example.org/in", "description": ""})
    saved = organiser.browse("POST", f"{back}/edit", cookie=cookie, headers=FORM, body=form)

    # Then the endpoint is as the form showed it
    assert saved.status == 303 and saved.headers["Location"] == back
    shown = organiser.call("GET", back).json()
    assert (shown["url"], shown["description"]) == ("https://tools.example.org/in", "")
    assert (shown["every_event"], shown["own_crm"]) == (True, False)
