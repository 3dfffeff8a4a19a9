"""A change told to an ally, seen from the ally's side: a real HTTP receiver on 127.0.0.1, started
here, checks each delivery with the Standard Webhooks reference library (`standardwebhooks`), as
an ally's own receiver would, and answers as each test asks. Nothing here reaches beyond
127.0.0.1.

The deliveries are stamped with the real time, not a test clock: the reference library checks
the timestamp against its own clock, as a real receiver does."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from optout.watching.forward import deliver, event_body, new_secret
from optout.watching.sources import SourceFailed

Route = Callable[["_Handler"], None]
CHANGE: dict[str, Any] = {
    "change_id": "20251103090000-linkedin-privacy",
    "watch_id": "linkedin-privacy",
    "platform": "LinkedIn",
    "title": "Privacy Policy",
    "about": "policy",
    "detected_at": "2025-11-03T09:00:00Z",
    "added": ("We may use your posts to train AI models.",),
    "removed": ("You can opt out at any time.",),
    "terms": ("AI", "train", "opt out"),
    "score": 0.8,
    "source_url": "https://www.linkedin.com/legal/privacy-policy",
    "setting_url": "https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    event: Any  # the event as the reference library read it; None if it refused the delivery


class Receiver(ThreadingHTTPServer):
    """An ally's receiver: checks each POST's signature with its secret, then answers with the
    route the test gave its path, or by default 204 when the signature holds and 401 when not."""

    daemon_threads = True

    def __init__(self, secret: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.webhook = Webhook(secret)
        self.routes: dict[str, Route] = {}
        self.received: list[Received] = []
        self.stopping = threading.Event()  # wakes slow routes when the test ends

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def paths(self) -> list[str]:
        return [received.path for received in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = dict(self.headers.items())
        try:
            event = self.server.webhook.verify(body, headers)
        except WebhookVerificationError:
            event = None
        self.server.received.append(Received(self.path, headers, body, event))
        route = self.server.routes.get(self.path) or answer(204 if event is not None else 401)
        with suppress(BrokenPipeError, ConnectionResetError):  # the sender hung up, as meant
            route(self)

    def log_message(self, *_: object) -> None:
        pass


def answer(status: int, **headers: str) -> Route:
    def route(handler: _Handler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


SECRET = new_secret()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


def send(url: str, secret: str = SECRET, **options: Any) -> None:
    options.setdefault("allow_loopback", True)
    deliver(url, secret, CHANGE["change_id"], event_body(CHANGE), datetime.now(UTC), **options)


def failure(call: Callable[[], object]) -> SourceFailed:
    with pytest.raises(SourceFailed) as raised:
        call()
    return raised.value


# ---------------------------------------------------------------- delivered


def test_the_ally_verifies_the_event_with_the_reference_library(receiver: Receiver) -> None:
    # Given an ally's receiver holding the secret we made for it
    # When a change is delivered to it
    send(receiver.url("/hooks/optout"))

    # Then its Standard Webhooks library accepts the delivery and reads the event
    [received] = receiver.received
    assert received.event == json.loads(event_body(CHANGE))
    assert received.event["type"] == "policy.change_detected"
    assert received.event["data"]["added"] == ["We may use your posts to train AI models."]
    assert received.headers["webhook-id"] == CHANGE["change_id"]
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["User-Agent"].startswith("optout-bot")


def test_while_the_secret_rotates_each_secret_signs_and_the_allys_old_one_still_verifies(
    receiver: Receiver,
) -> None:
    # Given the watch holding the receiver's secret and a new one beside it
    send(receiver.url("/hooks/optout"), secret=f"{new_secret()} {SECRET}")

    # Then the receiver, still on the old secret, accepts the delivery: two signatures sent
    [received] = receiver.received
    assert received.event is not None
    assert len(received.headers["webhook-signature"].split()) == 2


def test_a_delivery_signed_with_another_secret_is_refused_by_the_ally(receiver: Receiver) -> None:
    # Given a receiver whose secret is not the one the watch signs with
    # When the change is delivered
    failed = failure(lambda: send(receiver.url("/hooks/optout"), secret=new_secret()))

    # Then the reference library refuses it, the receiver answers 401, and trying again with the
    # same secret would not help
    assert [received.event for received in receiver.received] == [None]
    assert (failed.reason, failed.retryable) == ("the ally answered 401", False)


# ---------------------------------------------------------------- answers that are not 2xx


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_a_busy_or_broken_receiver_is_worth_trying_again(receiver: Receiver, status: int) -> None:
    receiver.routes["/hooks/optout"] = answer(status)

    failed = failure(lambda: send(receiver.url("/hooks/optout")))

    assert (failed.reason, failed.retryable) == (f"the ally answered {status}", True)


def test_a_receivers_retry_after_is_kept_for_the_next_attempt(receiver: Receiver) -> None:
    receiver.routes["/hooks/optout"] = answer(503, Retry_After="120")

    failed = failure(lambda: send(receiver.url("/hooks/optout")))

    assert (failed.retryable, failed.retry_after) == (True, 120.0)


@pytest.mark.parametrize("status", [404, 400, 410])
def test_a_receiver_that_refuses_the_event_is_not_tried_again(
    receiver: Receiver, status: int
) -> None:
    receiver.routes["/hooks/optout"] = answer(status)

    failed = failure(lambda: send(receiver.url("/hooks/optout")))

    assert (failed.reason, failed.retryable) == (f"the ally answered {status}", False)
    assert len(receiver.received) == 1


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_not_tried_again(receiver: Receiver, status: int) -> None:
    # Given a receiver that redirects to another path of its own
    receiver.routes["/hooks/optout"] = answer(status, Location=receiver.url("/elsewhere"))

    # When the change is delivered
    failed = failure(lambda: send(receiver.url("/hooks/optout")))

    # Then the event went to the address given and nowhere else
    assert receiver.paths() == ["/hooks/optout"]
    assert failed.retryable is False
    assert failed.reason == (
        f"the ally answered {status}, a redirect, which is never followed: "
        "give the address it points to instead"
    )


# ---------------------------------------------------------------- no answer


def test_a_receiver_that_does_not_answer_in_time_is_worth_trying_again(receiver: Receiver) -> None:
    def slow(handler: _Handler) -> None:
        if not handler.server.stopping.wait(5):
            answer(204)(handler)

    receiver.routes["/hooks/optout"] = slow

    failed = failure(lambda: send(receiver.url("/hooks/optout"), timeout=(1.0, 0.2)))

    assert (failed.reason, failed.retryable) == ("the ally did not answer within 0.2 seconds", True)


def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_total_deadline(
    receiver: Receiver,
) -> None:
    def drip(handler: _Handler) -> None:  # a header line every 50 ms, each within the read timeout
        handler.wfile.write(b"HTTP/1.1 204 No Content\r\n")
        for _ in range(200):
            handler.wfile.flush()
            if handler.server.stopping.wait(0.05):
                return
            handler.wfile.write(b"X-Slow: y\r\n")

    receiver.routes["/hooks/optout"] = drip

    failed = failure(
        lambda: send(receiver.url("/hooks/optout"), timeout=(1.0, 1.0), total_timeout=0.5)
    )

    assert (failed.reason, failed.retryable) == (
        "the ally took longer than 0.5 seconds to answer",
        True,
    )


def test_a_receiver_that_is_not_there_is_worth_trying_again() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()

    failed = failure(lambda: send(f"http://127.0.0.1:{port}/hooks/optout"))

    assert (failed.reason, failed.retryable) == ("the ally could not be reached", True)


# ---------------------------------------------------------------- where an event may go


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every address a socket tried to connect to; none gets through."""
    tried: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        tried.append(address)
        raise ConnectionRefusedError("no connection in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return tried


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("https://127.0.0.1/hooks", "127.0.0.1"),
        ("https://10.0.0.7/hooks", "10.0.0.7"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("https://[::1]/hooks", "::1"),
    ],
)
def test_on_aws_an_internal_address_is_refused_before_any_connection(
    connections: list[object], url: str, where: str
) -> None:
    # Given an ally's address inside a private range, and loopback not allowed (on AWS)
    failed = failure(lambda: send(url, allow_loopback=False))

    # Then nothing is sent, and trying again would not help
    assert (failed.reason, failed.retryable) == (
        f"the ally is at a private, internal or reserved address ({where}), "
        "which the watch never sends to",
        False,
    )
    assert connections == []


def test_a_name_that_resolves_to_a_private_address_is_refused_before_any_connection(
    monkeypatch: pytest.MonkeyPatch, connections: list[object]
) -> None:
    # Given an ally's host name that DNS answers with an address inside the network
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.ally.example":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    failed = failure(lambda: send("https://hooks.ally.example/optout", allow_loopback=False))

    assert (failed.reason, failed.retryable) == (
        "the ally is at a private, internal or reserved address (hooks.ally.example is "
        "10.0.0.7), which the watch never sends to",
        False,
    )
    assert connections == []


def test_on_aws_the_local_receiver_is_not_reached(receiver: Receiver) -> None:
    failed = failure(lambda: send(receiver.url("/hooks/optout"), allow_loopback=False))

    assert failed.retryable is False
    assert receiver.received == []


def test_a_secret_that_is_not_one_sends_nothing(receiver: Receiver) -> None:
    failed = failure(lambda: send(receiver.url("/hooks/optout"), secret="not a secret!"))

    assert (failed.reason, failed.retryable) == (
        "the ally's secret is not a whsec_ secret, so nothing was sent",
        False,
    )
    assert receiver.received == []
