"""Coalition mode through the admin API: the coalition owner (the admin token) adds
organisations and gives their organisers tokens; an organiser with one sees only their
organisation's campaigns and endpoints, reads a campaign their organisation only joined without
changing it, and may leave it. Bodies as an organiser writes them, answers as they read them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from standardwebhooks.webhooks import Webhook

from local import iam
from optout.core import clock, events, settings
from optout.core.events import EventType
from tests.helpers import CAMPAIGN, LINKEDIN, linkedin
from tests.integration.conftest import Organiser, Reply, Stack

FRIENDS = {
    "id": "friends-de",
    "name": "Friends of the Net DE",
    "sender_address": "hallo@friends.example.org",
    "postal_address": "Hauptstraße 1, 10115 Berlin",
}
GREENS = {
    "id": "greens-fr",
    "name": "Les Verts du Net",
    "sender_address": "bonjour@greens.example.org",
    "postal_address": "1 rue de la Paix, 75002 Paris",
}
ORIGIN = {"Origin": "http://127.0.0.1:3000"}  # the dashboard's own, as a browser sends it
FORM = {"Content-Type": "application/x-www-form-urlencoded", **ORIGIN}


def _add(organiser: Organiser, document: dict[str, Any]) -> Reply:
    return organiser.call("POST", "/admin/organisations", body=json.dumps(document))


def _token(organiser: Organiser, organisation: str, name: str = "Ana") -> str:
    added = organiser.call(
        "POST", f"/admin/organisations/{organisation}/tokens", body=json.dumps({"name": name})
    )
    assert added.status == 201, added.text
    token: str = added.json()["token"]
    return token


@pytest.fixture
def friends(stack: Stack, organiser: Organiser) -> str:
    """An organiser's token of Friends DE, an organisation the owner added."""
    assert _add(organiser, FRIENDS).status == 201
    return _token(organiser, FRIENDS["id"])


def _their_campaign(organiser: Organiser, token: str, campaign_id: str) -> Reply:
    """A campaign made by an organiser with `token`, from a policy-change document."""
    document = linkedin(policy={**LINKEDIN["policy"], "id": campaign_id})
    return organiser.call("POST", "/admin/campaigns", body=json.dumps(document), token=token)


# -- organisations, the owner's ------------------------------------------------------------


def test_the_owner_adds_an_organisation_listed_after_the_default_one(
    stack: Stack, organiser: Organiser
) -> None:
    # When the owner adds one
    added = _add(organiser, {**FRIENDS, "privacy_notice_url": "https://friends.example.org/p"})

    # Then it is listed after the deployment's own, which is marked as the default
    assert added.status == 201
    listed = organiser.call("GET", "/admin/organisations").json()["organisations"]
    assert [(org["id"], org["default"]) for org in listed] == [
        ("default", True),
        ("friends-de", False),
    ]
    assert listed[0]["name"] == settings.get().organisation_name
    shown = organiser.call("GET", "/admin/organisations/friends-de").json()
    assert shown["name"] == FRIENDS["name"]
    assert shown["privacy_notice_url"] == "https://friends.example.org/p"
    assert shown["tokens"] == []


def test_the_owner_is_told_when_ses_would_refuse_an_organisation_s_from_address(
    stack: Stack, organiser: Organiser
) -> None:
    # When the owner adds an organisation whose From address SES has not verified
    added = _add(organiser, FRIENDS).json()

    # Then the answer says so, and what to do
    assert added["sender"]["verified"] is False
    assert "hallo@friends.example.org is not verified in SES" in added["sender"]["problem"]
    # And a campaign it joined fails its launch check, naming it
    assert stack.post_webhook(LINKEDIN).status == 200
    shared = organiser.call(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/organisations",
        body=json.dumps({"members": [FRIENDS["id"]]}),
    )
    assert shared.status == 200, shared.text
    checked = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/launch-check").json()
    assert checked["ok"] is False
    assert any(p.startswith("Friends of the Net DE: hallo@") for p in checked["problems"])

    page = organiser.browse(
        "GET", f"/admin/organisations/{FRIENDS['id']}", cookie=organiser.sign_in()
    )
    assert "It cannot send yet." in page.text  # the owner's dashboard says so too

    # When its domain is verified in SES
    ses = iam.enforcer().operator_session().client("sesv2")
    ses.create_email_identity(EmailIdentity="friends.example.org")

    # Then its page says it may send, and the launch check no longer names it
    shown = organiser.call("GET", f"/admin/organisations/{FRIENDS['id']}").json()
    assert shown["sender"] == {"verified": True, "problem": ""}
    checked = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/launch-check").json()
    assert not any("Friends of the Net DE" in p for p in checked["problems"])


def test_a_bad_organisation_is_refused_naming_each_field_and_nothing_is_kept(
    stack: Stack, organiser: Organiser
) -> None:
    bad = {
        "id": "Friends DE",
        "name": "",
        "sender_address": "not an address",
        "privacy_notice_url": "http://friends.example.org/p",
        "colour": "green",
    }

    refused = _add(organiser, bad)

    assert refused.status == 400
    assert set(refused.json()["problems"]) == {
        "id",
        "name",
        "sender_address",
        "postal_address",
        "privacy_notice_url",
        "colour",
    }
    assert "https" in refused.json()["problems"]["privacy_notice_url"]
    assert [
        org["id"] for org in organiser.call("GET", "/admin/organisations").json()["organisations"]
    ] == ["default"]


@pytest.mark.parametrize("organisation_id", ["default", "friends-de"])
def test_the_default_id_and_one_in_use_are_refused_with_409(
    stack: Stack, organiser: Organiser, organisation_id: str
) -> None:
    assert _add(organiser, FRIENDS).status == 201

    again = _add(organiser, {**GREENS, "id": organisation_id})

    assert again.status == 409
    shown = organiser.call("GET", f"/admin/organisations/{organisation_id}").json()
    assert shown["name"] != GREENS["name"]


def test_an_organisation_is_edited_but_the_default_one_only_by_the_deployment_s_parameters(
    stack: Stack, organiser: Organiser
) -> None:
    assert _add(organiser, FRIENDS).status == 201

    edited = organiser.call(
        "POST", "/admin/organisations/friends-de/edit", body=json.dumps({"name": "Friends"})
    )
    default = organiser.call(
        "POST", "/admin/organisations/default/edit", body=json.dumps({"name": "Someone"})
    )

    assert edited.status == 200 and edited.json()["name"] == "Friends"
    assert edited.json()["sender_address"] == FRIENDS["sender_address"]  # the rest stays
    assert default.status == 409 and "parameters" in default.json()["message"]


# -- organisers' tokens --------------------------------------------------------------------


def test_a_token_is_shown_once_and_only_its_keyed_hash_is_kept(
    stack: Stack, organiser: Organiser
) -> None:
    assert _add(organiser, FRIENDS).status == 201

    token = _token(organiser, "friends-de", name="Ana")

    assert token.startswith("oot_") and len(token) > 40
    listed = organiser.call("GET", "/admin/organisations/friends-de/tokens").json()["tokens"]
    assert [(t["name"], t["organisation"]) for t in listed] == [("Ana", "friends-de")]
    assert token not in json.dumps(listed)
    assert token not in json.dumps(stack.items("CAMPAIGNS_TABLE"), default=str)
    # And the token works: it lets its organiser in
    assert organiser.call("GET", "/admin/campaigns", token=token).status == 200


def test_a_revoked_token_is_refused_and_so_are_its_sessions(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    # Given a dashboard session signed in with the organiser's token
    signed_in = organiser.browse(
        "POST", "/admin/sign-in", body=urlencode({"token": friends}), headers=FORM
    )
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]
    assert organiser.browse("GET", "/admin", cookie=cookie).status == 200
    [kept] = organiser.call("GET", "/admin/organisations/friends-de/tokens").json()["tokens"]

    # When the owner revokes the token
    revoked = organiser.call("DELETE", f"/admin/organisations/friends-de/tokens/{kept['token_id']}")

    # Then neither the token nor its session lets anyone in
    assert revoked.status == 200 and revoked.json()["revoked"] is True
    assert organiser.call("GET", "/admin/campaigns", token=friends).status == 401
    assert organiser.browse("GET", "/admin", cookie=cookie).status == 401
    # And the owner's own session is untouched
    assert organiser.browse("GET", "/admin", cookie=organiser.sign_in()).status == 200


def test_a_guessed_organiser_token_is_throttled_like_a_wrong_admin_token(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    for attempt in range(10):
        assert organiser.call("GET", "/admin/campaigns", token=f"oot_guess{attempt}").status == 401

    assert organiser.call("GET", "/admin/campaigns", token=friends).status == 429


def test_rotating_the_admin_token_ends_organisers_sessions_too(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    signed_in = organiser.browse(
        "POST", "/admin/sign-in", body=urlencode({"token": friends}), headers=FORM
    )
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]

    stack.put_secret("AdminTokenSecret", "a-new-admin-token-0123456789abcdef")

    assert organiser.browse("GET", "/admin", cookie=cookie).status == 401
    # The organiser's token itself is not the admin token: it still works
    assert organiser.call("GET", "/admin/campaigns", token=friends).status == 200


def test_an_organiser_cannot_manage_organisations(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    calls = [
        ("GET", "/admin/organisations", ""),
        ("POST", "/admin/organisations", json.dumps(GREENS)),
        ("GET", "/admin/organisations/friends-de", ""),
        ("POST", "/admin/organisations/friends-de/tokens", json.dumps({"name": "me"})),
    ]
    for method, path, body in calls:
        refused = organiser.call(method, path, body=body, token=friends)

        assert refused.status == 403, (method, path)
        assert refused.json()["message"] == "only the coalition owner manages organisations"
    assert (
        len(organiser.call("GET", "/admin/organisations/friends-de/tokens").json()["tokens"]) == 1
    )


# -- campaigns, each organiser their own -----------------------------------------------------


def test_an_organiser_sees_their_campaign_and_not_another_s(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    # Given the owner's campaign (the policy webhook's) and one the organiser made
    stack.post_webhook(LINKEDIN)
    made = _their_campaign(organiser, friends, "friends-linkedin")
    assert made.status == 201

    # When the organiser lists campaigns, and asks for the owner's
    listed = organiser.call("GET", "/admin/campaigns", token=friends).json()["campaigns"]
    hidden = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}", token=friends)
    unknown = organiser.call("GET", "/admin/campaigns/no-such-campaign", token=friends)

    # Then they see only theirs, and the other is answered as one that does not exist
    assert [(c["campaign_id"], c["organisation"]) for c in listed] == [
        ("friends-linkedin", "friends-de")
    ]
    assert hidden.status == unknown.status == 404
    assert hidden.json()["message"] == f"no campaign {CAMPAIGN!r}"
    stats = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats", token=friends)
    assert stats.status == 404
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/pause", token=friends).status == 404
    # And the owner sees both
    owner_sees = organiser.call("GET", "/admin/campaigns").json()["campaigns"]
    assert {c["campaign_id"] for c in owner_sees} == {CAMPAIGN, "friends-linkedin"}


def test_an_organiser_cannot_change_a_shared_campaign_they_only_joined_but_can_leave_it(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    # Given the owner's campaign, which Friends DE joined
    stack.post_webhook(LINKEDIN)
    shared = organiser.call(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/organisations",
        body=json.dumps({"members": ["friends-de"], "attribution": ["friends-de"]}),
    )
    assert shared.status == 200
    assert shared.json()["members"] == ["friends-de"]

    # Then its organiser reads it, with who runs and joined it
    read = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}", token=friends)
    assert read.status == 200
    assert (read.json()["organisation"], read.json()["members"]) == ("default", ["friends-de"])
    # But may not change it
    paused = organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/pause", token=friends)
    assert paused.status == 403
    assert paused.json()["message"] == (
        "only default's organisers or the coalition owner change this campaign"
    )
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()["status"] == "active"
    # Nor say who else joins it
    members = organiser.call(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/organisations",
        body=json.dumps({"members": []}),
        token=friends,
    )
    assert members.status == 403

    # When they leave it
    left = organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/leave", token=friends)

    # Then it is no longer theirs to see, and the owner sees nobody joined it
    assert left.status == 200 and left.json()["members"] == []
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}", token=friends).status == 404
    after = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()
    assert (after["members"], after["attribution"]) == ([], [])


def test_a_campaign_made_by_an_organiser_is_run_by_their_organisation_and_stays_so_when_replanned(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    assert _their_campaign(organiser, friends, "friends-linkedin").status == 201

    # When the policy monitor's webhook re-plans it
    replanned = stack.post_webhook(
        linkedin(policy={**LINKEDIN["policy"], "id": "friends-linkedin", "title": "New title"})
    )

    # Then it is still Friends DE's, and they change it
    assert replanned.status == 200
    shown = organiser.call("GET", "/admin/campaigns/friends-linkedin", token=friends).json()
    assert (shown["organisation"], shown["title"]) == ("friends-de", "New title")
    paused = organiser.call("POST", "/admin/campaigns/friends-linkedin/pause", token=friends)
    assert paused.status == 200


def test_unknown_organisations_and_the_runner_as_a_member_are_refused_naming_them(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    stack.post_webhook(LINKEDIN)
    path = f"/admin/campaigns/{CAMPAIGN}/organisations"

    unknown = organiser.call(
        "POST", path, body=json.dumps({"members": ["friends-de", "nobody", "ghosts"]})
    )
    runner = organiser.call("POST", path, body=json.dumps({"members": ["default"]}))
    outside = organiser.call(
        "POST", path, body=json.dumps({"members": ["friends-de"], "attribution": ["greens-fr"]})
    )

    assert unknown.status == 400
    assert unknown.json()["problems"]["members"] == "no such organisations: nobody, ghosts"
    assert runner.status == 400 and "runs the campaign" in runner.json()["problems"]["members"]
    assert outside.status == 400 and "greens-fr" in outside.json()["problems"]["attribution"]
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()["members"] == []


# -- the owner's areas --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/admin/watches"), ("GET", "/admin/changes"), ("POST", "/admin/watches")],
)
def test_watches_and_changes_are_the_coalition_owner_s_only(
    stack: Stack, organiser: Organiser, friends: str, method: str, path: str
) -> None:
    refused = organiser.call(method, path, body="{}", token=friends)

    assert refused.status == 403
    assert refused.json()["message"].startswith("only the coalition owner")
    assert organiser.call("GET", path if method == "GET" else "/admin/watches").status == 200


def test_the_dashboard_names_the_organiser_s_organisation_and_hides_the_owner_s_pages(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    signed_in = organiser.browse(
        "POST", "/admin/sign-in", body=urlencode({"token": friends}), headers=FORM
    )
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]

    page = organiser.browse("GET", "/admin", cookie=cookie)
    owner = organiser.browse("GET", "/admin", cookie=organiser.sign_in())

    assert page.status == 200
    assert "Organisation: <strong>Friends of the Net DE</strong>" in page.text
    assert "/admin/watches" not in page.text and "/admin/organisations" not in page.text
    assert "/admin/watches" in owner.text and "/admin/organisations" in owner.text
    # The whole list's numbers are the owner's to see, not one organisation's
    assert "List health" not in page.text and "List health" in owner.text


def test_the_owner_adds_an_organisation_and_a_token_on_the_dashboard(
    stack: Stack, organiser: Organiser
) -> None:
    cookie = organiser.sign_in()

    added = organiser.browse(
        "POST", "/admin/organisations", cookie=cookie, body=urlencode(FRIENDS), headers=FORM
    )
    token = organiser.browse(
        "POST",
        "/admin/organisations/friends-de/tokens",
        cookie=cookie,
        body=urlencode({"name": "Ana"}),
        headers=FORM,
    )
    again = organiser.browse("GET", "/admin/organisations/friends-de", cookie=cookie)

    assert added.status == 201 and FRIENDS["name"] in added.text
    # The token is on the page that added it, and on no page after
    assert token.status == 201 and "shown here once" in token.text and "oot_" in token.text
    assert "Ana" in again.text and "oot_" not in again.text


# -- endpoints, each organisation its own ----------------------------------------------------


class Inbox(ThreadingHTTPServer):
    """An endpoint on 127.0.0.1 keeping each event its secret verifies."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.secret = ""
        self.events: list[dict[str, Any]] = []

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/in"


class _Receive(BaseHTTPRequestHandler):
    server: Inbox

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.events.append(Webhook(self.server.secret).verify(body, dict(self.headers)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def inboxes() -> Iterator[tuple[Inbox, Inbox]]:
    servers = (Inbox(), Inbox())
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def _register(organiser: Organiser, inbox: Inbox, token: str | None = None) -> dict[str, Any]:
    body = json.dumps({"url": inbox.url()})
    created = organiser.call(
        "POST", "/admin/webhooks", body=body, **({"token": token} if token else {})
    )
    assert created.status == 201, created.text
    inbox.secret = created.json()["secret"]
    document: dict[str, Any] = created.json()
    return document


def _emit(campaign_id: str, organisations: list[str] | None) -> str:
    data: dict[str, Any] = {"campaign_id": campaign_id}
    if organisations is not None:
        data["organisations"] = organisations
    return events.emit(settings.get(), EventType.CAMPAIGN_LAUNCHED, data, clock.now())


def test_an_organisation_s_endpoint_gets_the_events_naming_it_and_the_owner_s_gets_all(
    stack: Stack, organiser: Organiser, friends: str, inboxes: tuple[Inbox, Inbox]
) -> None:
    owners, theirs = inboxes
    _register(organiser, owners)
    _register(organiser, theirs, token=friends)

    # When events name Friends DE, another organisation, or none (the default's)
    _emit("shared", ["default", "friends-de"])
    _emit("greens-only", ["greens-fr"])
    _emit("before-coalitions", None)
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")

    # Then Friends DE's endpoint gets only the one naming it, the owner's every one
    assert [event["data"]["campaign_id"] for event in theirs.events] == ["shared"]
    assert sorted(event["data"]["campaign_id"] for event in owners.events) == [
        "before-coalitions",
        "greens-only",
        "shared",
    ]


def test_an_organiser_sees_and_manages_only_their_organisation_s_endpoints(
    stack: Stack, organiser: Organiser, friends: str, inboxes: tuple[Inbox, Inbox]
) -> None:
    owners, theirs = inboxes
    the_owners = _register(organiser, owners)
    mine = _register(organiser, theirs, token=friends)

    listed = organiser.call("GET", "/admin/webhooks", token=friends).json()["endpoints"]
    hidden = organiser.call("GET", f"/admin/webhooks/{the_owners['endpoint_id']}", token=friends)
    deleted = organiser.call(
        "DELETE", f"/admin/webhooks/{the_owners['endpoint_id']}", token=friends
    )

    assert [(e["endpoint_id"], e["organisation"]) for e in listed] == [
        (mine["endpoint_id"], "friends-de")
    ]
    assert hidden.status == deleted.status == 404
    assert len(organiser.call("GET", "/admin/webhooks").json()["endpoints"]) == 2


def test_a_replay_to_an_organisation_s_endpoint_refuses_another_organisation_s_event(
    stack: Stack, organiser: Organiser, friends: str, inboxes: tuple[Inbox, Inbox]
) -> None:
    _, theirs = inboxes
    mine = _register(organiser, theirs, token=friends)
    greens = _emit("greens-only", ["greens-fr"])
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")

    replayed = organiser.call(
        "POST",
        f"/admin/webhooks/{mine['endpoint_id']}/replay",
        body=json.dumps({"event_id": greens}),
        token=friends,
    )

    assert replayed.status == 404
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")
    assert theirs.events == []


# -- a deployment that never adds an organisation ---------------------------------------------


def test_without_organisations_the_owner_s_endpoints_and_campaigns_are_stored_as_before(
    stack: Stack, organiser: Organiser, inboxes: tuple[Inbox, Inbox]
) -> None:
    owners, _ = inboxes
    stack.post_webhook(LINKEDIN)

    registered = _register(organiser, owners)
    listed = organiser.call("GET", "/admin/campaigns").json()["campaigns"]

    assert [c["campaign_id"] for c in listed] == [CAMPAIGN]
    assert registered["organisation"] == "default"
    [stored] = [item for item in stack.items("EVENTS_TABLE") if item.get("url") == owners.url()]
    assert "organisation" not in stored
    assert organiser.call("GET", "/admin/organisations").json()["organisations"][0]["default"]


def test_the_owner_opens_a_campaign_to_an_organisation_on_its_dashboard_page(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    stack.post_webhook(LINKEDIN)
    cookie = organiser.sign_in()
    page = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=cookie)
    assert 'name="members" type="checkbox" value="friends-de"' in page.text

    saved = organiser.browse(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/organisations",
        cookie=cookie,
        body=urlencode({"members": "friends-de", "attribution": "friends-de"}),
        headers=FORM,
    )

    assert saved.status == 303
    theirs = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}", token=friends).json()
    assert (theirs["members"], theirs["attribution"]) == (["friends-de"], ["friends-de"])


def test_a_member_s_organiser_reads_a_shared_campaign_s_page_without_its_buttons(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    stack.post_webhook(LINKEDIN)
    body = json.dumps({"members": ["friends-de"]})
    assert (
        organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/organisations", body=body).status
        == 200
    )
    signed_in = organiser.browse(
        "POST", "/admin/sign-in", body=urlencode({"token": friends}), headers=FORM
    )
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]

    page = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=cookie)
    owner = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=organiser.sign_in())

    assert page.status == 200 and "Leave this campaign" in page.text
    assert "Pause sending" not in page.text and "Cancel the campaign" not in page.text
    assert "Pause sending" in owner.text and "Leave this campaign" not in owner.text


# -- an organisation's campaign, previewed and test-sent -----------------------------------


def _their_verified_campaign(stack: Stack, organiser: Organiser, token: str) -> None:
    """A campaign of Friends DE, whose From domain SES has verified."""
    ses = iam.enforcer().operator_session().client("sesv2")
    ses.create_email_identity(EmailIdentity="friends.example.org")
    assert _their_campaign(organiser, token, CAMPAIGN).status == 201


def test_an_organiser_s_preview_comes_from_their_organisation(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    # Given Friends DE's organiser made a campaign
    _their_verified_campaign(stack, organiser, friends)

    # When they preview its email
    reply = organiser.call(
        "GET",
        f"/admin/campaigns/{CAMPAIGN}/preview",
        query="region=CA&reminder=one-week-left&channel=email&locale=en",
        token=friends,
    )

    # Then it is From Friends DE, with its postal address in the footer, not the deployment's
    assert reply.status == 200, reply.text
    shown = reply.json()
    assert shown["from"] == f"{FRIENDS['name']} <{FRIENDS['sender_address']}>"
    assert FRIENDS["postal_address"] in shown["text"]
    assert FRIENDS["postal_address"] in shown["html"]
    deployment = settings.get()
    assert deployment.organisation_address not in shown["text"]


def test_an_organiser_s_test_send_goes_out_from_their_organisation(
    stack: Stack, organiser: Organiser, friends: str
) -> None:
    # Given Friends DE's organiser made a campaign
    _their_verified_campaign(stack, organiser, friends)

    # When they send themselves a test of its email
    reply = organiser.call(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/test",
        body=json.dumps({"to": "ana@example.org", "region": "CA", "reminder": "one-week-left"}),
        headers={"Content-Type": "application/json"},
        token=friends,
    )

    # Then the email they get is From Friends DE, with its postal address, not the deployment's
    assert reply.status == 200, reply.text
    [sent] = stack.outbox()
    assert sent.to == "ana@example.org"
    assert FRIENDS["sender_address"] in sent.headers["From"]
    assert settings.get().sender_address not in sent.headers["From"]
    assert FRIENDS["postal_address"] in sent.text


def test_the_owner_s_preview_still_comes_from_the_deployment(
    stack: Stack, organiser: Organiser
) -> None:
    # Given the owner's own campaign (the default organisation's)
    assert organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN)).status == 201

    # When the owner previews it
    shown = organiser.call(
        "GET",
        f"/admin/campaigns/{CAMPAIGN}/preview",
        query="region=CA&reminder=one-week-left&channel=email&locale=en",
    ).json()

    # Then it is From the deployment's own name and address, with its postal address
    deployment = settings.get()
    assert deployment.sender_address in shown["from"]
    assert deployment.organisation_address in shown["text"]
