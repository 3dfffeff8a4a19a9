"""The local stack end to end: subscribe, receive the confirmation, confirm, all over HTTP,
with the real handlers behind it and the messages read from its outbox (DESIGN.md 1.4)."""

from __future__ import annotations

import json
import re
import signal
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import requests

from .conftest import STOP_SECONDS

if TYPE_CHECKING:
    from .conftest import DemoStack, StackClient

pytestmark = pytest.mark.slow

CONFIRM_LINK = re.compile(r"https?://[^\s/]+/confirm/[\w.-]+")
# One of the active subscribers local/demo.py seeds.
DEMO_SUBSCRIBER = "lena.schmidt@example.org"
EVENTS = Path(__file__).resolve().parents[2] / "events"


def new_email(name: str) -> str:
    """An address no other test uses: tests share one stack."""
    return f"{name}-{uuid.uuid4().hex[:8]}@example.org"


def subscribe(stack: StackClient, contact: str, region: str, **fields: Any) -> requests.Response:
    return stack.post("/subscribe", json={"contact": contact, "region": region, **fields})


def messages_to(stack: StackClient, address: str) -> list[dict[str, Any]]:
    return [message for message in stack.outbox() if message["to"] == address]


def confirm_path(stack: StackClient, message: dict[str, Any]) -> str:
    """The path of the confirmation link in `message`, which must point back at the stack."""
    found = CONFIRM_LINK.search(message["text"])
    assert found, f"no confirmation link in {message['text']!r}"
    assert found.group(0).startswith(stack.base_url + "/confirm/")
    return urlsplit(found.group(0)).path


def subscribed_and_sent(stack: StackClient, address: str, region: str = "DE") -> str:
    """Subscribe `address`, let the stack send the confirmation; its link's path."""
    subscribe(stack, address, region).raise_for_status()
    stack.tick()
    (message,) = messages_to(stack, address)
    return confirm_path(stack, message)


def wait_for(probe: Callable[[], list[Any]], seconds: float) -> list[Any]:
    """Ask `probe` until it finds something or `seconds` have passed; what it found last."""
    deadline = time.monotonic() + seconds
    found = probe()
    while not found and time.monotonic() < deadline:
        time.sleep(0.2)
        found = probe()
    return found


def is_html(response: requests.Response) -> bool:
    return response.headers["Content-Type"].startswith("text/html")


# ---------------------------------------------------------------- subscribing by email


def test_subscribing_by_email_sends_one_confirmation_link(stack: StackClient) -> None:
    # Given an address nobody subscribed yet
    address = new_email("ada")

    # When it is subscribed over the JSON API and the stack's queues are drained
    response = subscribe(stack, address, "DE", locale="de")
    stack.tick()

    # Then the request is accepted and exactly one email with a confirmation link went out
    assert response.status_code == 202
    (message,) = messages_to(stack, address)
    assert message["channel"] == "email"
    assert message["subject"]
    assert message["sent_at"].endswith("Z")
    confirm_path(stack, message)


def test_the_confirmation_arrives_without_anyone_ticking(stack: StackClient) -> None:
    # Given a subscribe request
    address = new_email("grace")
    subscribe(stack, address, "FR", locale="fr").raise_for_status()

    # When nobody drives the stack
    messages = wait_for(lambda: messages_to(stack, address), seconds=10)

    # Then its own pump delivers the confirmation within seconds
    assert len(messages) == 1


def test_subscribing_again_within_ten_minutes_sends_nothing_more(stack: StackClient) -> None:
    # Given an address that was just sent a confirmation
    address = new_email("alan")
    subscribed_and_sent(stack, address)

    # When it is subscribed again at once
    response = subscribe(stack, address, "DE")
    stack.tick()

    # Then the answer is the same, and no second message goes out
    assert response.status_code == 202
    assert len(messages_to(stack, address)) == 1


def test_opening_the_link_shows_a_button_and_subscribes_nobody(clock: StackClient) -> None:
    # Given a confirmation link
    address = new_email("edsger")
    path = subscribed_and_sent(clock, address)

    # When it is opened, as a person or a mail scanner following links would
    page = clock.get(path)

    # Then it shows a form with a button
    assert page.status_code == 200
    assert is_html(page)
    assert "<form" in page.text
    assert "<button" in page.text
    # and the subscription is still pending: once the resend window has passed, subscribing
    # again sends a fresh confirmation, which an active subscriber would not get
    clock.move_clock(advance="PT11M").raise_for_status()
    subscribe(clock, address, "DE").raise_for_status()
    clock.tick()
    assert len(messages_to(clock, address)) == 2


def test_pressing_the_button_subscribes(stack: StackClient) -> None:
    # Given a confirmation link
    path = subscribed_and_sent(stack, new_email("barbara"))

    # When its button is pressed
    page = stack.post(path)

    # Then the page says the subscription is active
    assert page.status_code == 200
    assert is_html(page)
    assert "You are subscribed" in page.text


# ---------------------------------------------------------------- subscribing by text message


def test_an_sms_subscriber_confirms_through_the_texted_link(clock: StackClient) -> None:
    # Given a Canadian mobile number, written as people write it, in Toronto's afternoon
    clock.move_clock(set="2025-10-27T19:00:00Z").raise_for_status()
    response = subscribe(clock, "+1 416 555 0123", "CA")

    # When the stack sends the confirmation
    clock.tick()

    # Then one text message with the link goes to the number in E.164
    assert response.status_code == 202
    (message,) = messages_to(clock, "+14165550123")
    assert message["channel"] == "sms"
    # and pressing the button on the linked page subscribes
    page = clock.post(confirm_path(clock, message))
    assert page.status_code == 200
    assert "You are subscribed" in page.text


def test_a_confirmation_text_asked_for_at_night_comes_at_eight(clock: StackClient) -> None:
    # Given a number in Vancouver subscribes at 23:00 there
    clock.move_clock(set="2025-10-28T06:00:00Z").raise_for_status()
    subscribe(clock, "+1 604 555 0147", "CA", timezone="America/Vancouver").raise_for_status()

    # When the stack runs through the night
    clock.tick()

    # Then nothing is texted before 08:00 there, and the confirmation comes at 08:00
    assert messages_to(clock, "+16045550147") == []
    clock.move_clock(set="2025-10-28T14:55:00Z").raise_for_status()
    clock.tick()
    assert messages_to(clock, "+16045550147") == []
    clock.move_clock(set="2025-10-28T15:00:00Z").raise_for_status()
    clock.tick()
    (message,) = messages_to(clock, "+16045550147")
    assert message["channel"] == "sms"


# ---------------------------------------------------------------- the subscribe form


def test_the_subscribe_form_is_a_page(stack: StackClient) -> None:
    # When a person opens the subscription form
    page = stack.get("/subscribe")

    # Then they see an HTML form
    assert page.status_code == 200
    assert is_html(page)
    assert "<form" in page.text


def test_a_bad_email_in_the_form_is_named_and_the_form_kept(stack: StackClient) -> None:
    # When the form is sent with an address that is not one
    page = stack.post("/subscribe", data={"contact": "ada@", "region": "DE"})

    # Then the page says what is wrong, and shows the form again with what was typed
    assert page.status_code == 400
    assert is_html(page)
    assert "not a valid email address" in page.text
    assert "<form" in page.text
    assert 'value="ada@"' in page.text


# ---------------------------------------------------------------- bad requests


def test_malformed_json_is_refused_with_its_problems(stack: StackClient) -> None:
    # When the body claims to be JSON but is not
    response = stack.post(
        "/subscribe", data=b'{"contact": ', headers={"Content-Type": "application/json"}
    )

    # Then the answer is a 400 that lists the problem
    assert response.status_code == 400
    assert "body" in response.json()["problems"]


def test_an_unknown_region_is_refused_by_name(stack: StackClient) -> None:
    # When someone subscribes from a region the bot does not know
    response = subscribe(stack, new_email("kurt"), "XX")

    # Then the answer names the region field
    assert response.status_code == 400
    assert "region" in response.json()["problems"]


def test_an_oversized_body_is_refused(stack: StackClient) -> None:
    # When a subscribe request carries more than 16 KiB
    response = subscribe(stack, new_email("big"), "DE", padding="x" * 17 * 1024)

    # Then it is refused as too large
    assert response.status_code == 413


def test_a_forged_confirmation_link_shows_an_error_and_sends_nothing(stack: StackClient) -> None:
    # Given the outbox as it is
    stack.tick()
    before = stack.outbox()

    # When someone presses the button behind a made-up link
    page = stack.post("/confirm/k1.confirm.forged.notarealsubscriber.AAAAAAAAAAAAAAAAAAAAAA")
    stack.tick()

    # Then a page explains the link does not work, and no message went out
    assert 400 <= page.status_code < 500
    assert is_html(page)
    assert stack.outbox() == before


def test_an_unknown_path_is_not_found(stack: StackClient) -> None:
    response = stack.get("/no-such-page")

    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"


def test_a_wrong_method_is_refused_with_the_allowed_ones(stack: StackClient) -> None:
    response = stack.http.delete(stack.url("/subscribe"), timeout=30)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_the_sns_feedback_endpoint_refuses_what_sns_did_not_sign(stack: StackClient) -> None:
    # Given a message shaped like SNS's, but signed by nobody
    body = (EVENTS / "feedback-http-ses-bounce.json").read_text(encoding="utf-8")
    message = json.loads(body)["body"]

    # When it is posted to the endpoint that SNS subscriptions over HTTPS use
    response = stack.post("/feedback/sns", data=message, headers={"Content-Type": "text/plain"})

    # Then it is refused (the local stack accepts no topic) with a reason, and nothing else
    assert response.status_code == 403
    assert response.json()["error"] == "SnsMessageRefused"


# ---------------------------------------------------------------- the clock and the tick


def test_the_clock_can_be_set_and_advanced(clock: StackClient) -> None:
    # When the clock is set, then advanced by a week
    set_to = clock.move_clock(set="2025-10-27T09:00:00Z")
    advanced = clock.move_clock(advance="P7D")

    # Then each answer and the clock itself tell the new time
    assert set_to.json()["now"].startswith("2025-10-27T09:0")
    assert advanced.json()["now"].startswith("2025-11-03T09:0")
    assert clock.now().startswith("2025-11-03T09:0")


def test_a_link_past_its_lifetime_has_expired(clock: StackClient) -> None:
    # Given a confirmation link, valid for seven days
    path = subscribed_and_sent(clock, new_email("margaret"))

    # When its button is pressed eight days later
    clock.move_clock(advance="P8D").raise_for_status()
    page = clock.post(path)

    # Then the page says the link has expired
    assert page.status_code == 410
    assert is_html(page)
    assert "expired" in page.text


@pytest.mark.parametrize(
    "change",
    [
        {"advance": "P1M"},  # months have no fixed length
        {"advance": "soon"},
        {"set": "2025-10-27T09:00:00"},  # no time zone
        {"set": "tomorrow"},
        {"set": "2025-10-27T09:00:00Z", "advance": "P1D"},
        {},
        # found by schemathesis: these broke the clock, and every request after them
        {"set": "9999-12-31T23:59:59Z"},
        {"advance": "P17744909322D"},
        {"advance": "P999999D"},
    ],
)
def test_the_clock_refuses_what_it_cannot_read(stack: StackClient, change: dict[str, str]) -> None:
    response = stack.move_clock(**change)

    assert response.status_code == 400
    assert response.json()["message"]
    assert stack.get("/_local/clock").status_code == 200  # and the clock goes on


def test_a_tick_drains_the_queues_before_answering(stack: StackClient) -> None:
    # Given a subscribe request whose confirmation is queued
    address = new_email("tony")
    subscribe(stack, address, "NL", locale="nl").raise_for_status()

    # When the stack is ticked
    response = stack.post("/_local/tick")

    # Then it says what ran, and the confirmation is already in the outbox
    assert response.status_code == 200
    assert set(response.json()) >= {"scheduled", "processed"}
    assert len(messages_to(stack, address)) == 1


# ---------------------------------------------------------------- starting and stopping


def test_demo_subscribers_are_already_active(demo_stack: DemoStack) -> None:
    stack = demo_stack.client

    # When a demo subscriber's address is subscribed again
    response = subscribe(stack, DEMO_SUBSCRIBER, "DE")
    stack.tick()

    # Then no confirmation goes out: they are active already
    assert response.status_code == 202
    assert messages_to(stack, DEMO_SUBSCRIBER) == []


def test_the_demo_watch_finds_the_help_pages_change_and_tells_the_organisers(
    demo_stack: DemoStack,
) -> None:
    # Given the demo stack, whose watch read its help page at start (13 October): a tick makes
    # sure of it, when this test runs before the stack's own first tick did
    stack = demo_stack.client
    stack.tick()
    before = stack.now()
    try:
        # When the clock passes 14 October, when the page changes, and the stack ticks
        stack.move_clock(advance="P1D").raise_for_status()
        ran = stack.tick()["scheduled"]

        # Then the watcher found one change, and the organisers' email says what it added
        assert ran["WatcherFunction"] == {"changed": 1}
        [email] = [m for m in stack.outbox() if m["to"] == "organisers@example.org"]
        assert email["subject"].startswith("Policy watch: LinkedIn changed a settings page")
        assert "on by default; to opt out" in email["text"]
        assert f"{stack.base_url}/admin/changes/" in email["text"]
    finally:
        stack.move_clock(set=before).raise_for_status()


def test_the_demo_endpoint_hears_of_the_campaign_and_of_a_confirmation_signed(
    demo_stack: DemoStack,
) -> None:
    # Given the demo stack, whose demo endpoint was registered before its campaign was launched
    stack = demo_stack.client
    stack.tick()
    launched = [d["event"] for d in stack.get("/_local/demo/events").json()]
    assert {"type": "campaign.launched"}.items() <= launched[0].items()
    assert launched[0]["data"]["campaign_id"] == "linkedin-genai-2025"

    # When a person subscribes and confirms
    stack.post(subscribed_and_sent(stack, "grace@example.org", "FR")).raise_for_status()
    stack.tick()

    # Then the endpoint got the confirmation, its signature verified, with no contact in it
    received = stack.get("/_local/demo/events").json()
    [confirmed] = [d for d in received if d["event"]["type"] == "subscriber.confirmed"]
    assert confirmed["event"]["data"]["region"] == "FR"
    assert "grace@example.org" not in json.dumps(received)
    # And a delivery nobody signed is refused
    assert stack.post("/_local/demo/events", json={"type": "x"}).status_code == 401


def test_the_banner_shows_the_form_and_the_secrets_it_was_given(demo_stack: DemoStack) -> None:
    # Given a stack started with demo data and secrets in its environment
    stack = demo_stack.client

    # When a person reads what it printed
    banner = demo_stack.log.read_text(encoding="utf-8")

    # Then they find the form's address, which serves the form, and the secrets they gave
    assert f"{stack.base_url}/subscribe" in banner
    assert stack.get("/subscribe").status_code == 200
    assert all(value in banner for value in demo_stack.secrets.values())


def test_the_banner_comes_first_and_the_functions_log_in_full_to_their_file(
    demo_stack: DemoStack,
) -> None:
    # Given the stack started as `make run` starts it, its demo campaign planned before the banner
    terminal = demo_stack.log.read_text(encoding="utf-8").splitlines()
    function_log = demo_stack.log.with_name("functions.log").read_text(encoding="utf-8")

    # Then the terminal opens with the banner, and no JSON log line is mixed into it
    assert terminal[0].startswith("optout-bot local stack:")
    assert not [line for line in terminal if line.startswith("{")]
    assert "No application metrics to publish" not in "\n".join(terminal)
    # And the banner says where the functions' lines are, which holds each of them whole
    assert any(str(demo_stack.log.with_name("functions.log")) in line for line in terminal)
    planned = [json.loads(line) for line in function_log.splitlines() if "campaign planned" in line]
    assert planned and planned[0]["function_name"] == "WebhooksFunction"


def test_after_the_banner_each_log_record_is_one_short_line_or_whole_with_verbose(
    start_stack: Callable[..., AbstractContextManager[StackClient]], tmp_path: Path
) -> None:
    for verbose in (False, True):
        log = tmp_path / f"verbose-{verbose}.log"
        with start_stack(log, *(["--verbose"] if verbose else [])) as stack:
            # When the demo's first reminders fall due
            stack.move_clock(advance="P7D").raise_for_status()
            stack.post("/_local/tick").raise_for_status()
        shown = [line for line in log.read_text(encoding="utf-8").splitlines() if "fan-out" in line]
        # Then each record is on the terminal: short, or whole with --verbose
        assert shown, log.read_text(encoding="utf-8")
        if verbose:
            assert json.loads(shown[0])["function_name"] == "SchedulerFunction"
        else:
            expected = r"\d\d:\d\d:\d\d SchedulerFunction INFO reminder fan-out queued"
            assert re.fullmatch(expected, shown[0])


def test_the_stack_stops_cleanly_on_sigterm(
    start_stack: Callable[..., AbstractContextManager[StackClient]], tmp_path: Path
) -> None:
    # Given a running stack
    log = tmp_path / "stack.log"
    with start_stack(log, "--no-demo"):
        pass

    # When it was sent SIGTERM (leaving the block), then it said so and exited in time
    assert "local stack stopped" in log.read_text(encoding="utf-8")


def test_signals_in_a_burst_still_stop_the_stack(
    start_stack: Callable[..., AbstractContextManager[StackClient]], tmp_path: Path
) -> None:
    # Given a running stack
    log = tmp_path / "stack.log"
    with start_stack(log, "--no-demo") as stack:
        assert stack.process is not None
        # When Ctrl-C and SIGTERM arrive one on another (Ctrl-C pressed twice, or `timeout`
        # followed by `kill`), some while the stack is handling the first
        for number in range(2000):
            if stack.process.poll() is not None:
                break
            stack.process.send_signal(signal.SIGINT if number % 2 else signal.SIGTERM)
        # Then it still stops, and says so (it used to hang for good, its handlers deadlocked)
        stack.process.wait(STOP_SECONDS)
    assert "local stack stopped" in log.read_text(encoding="utf-8")
