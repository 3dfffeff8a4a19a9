"""Events out, seen from the organisers' own tools: a real HTTP receiver on 127.0.0.1, started
here, verifies each delivery with the Standard Webhooks reference library (`standardwebhooks`),
as an endpoint's own code would, and answers as each test asks (an error, a slow answer). The
events are emitted with `optout.core.events.emit`, and the events function runs on moto.

Deliveries are stamped with the real time, not the test clock: the reference library checks the
timestamp against its own clock. Retries and pauses follow the test clock, which the tests move;
SQS's delays are released by hand (`Stack.release_delayed`) instead of waited for."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from local import invoke
from optout.channels import email
from optout.core import clock, events, queues, settings
from optout.core.events import EventType
from optout.core.jobs import DeliveryJob
from optout.domain.endpoints import KeptEvent
from optout.domain.models import Membership, MembershipStatus
from optout.events import delivery, endpoints
from optout.store import EventStore, SubscriberStore
from tests.helpers import active, at, confirm_path, link, sample_event, to
from tests.integration.conftest import Organiser, Stack

Route = Callable[["_Handler"], None]
ORGANISERS = "organisers@example.org"


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    event: Any  # as the reference library read it; None if it refused the signature


class Receiver(ThreadingHTTPServer):
    """An endpoint of the organisers' tools: verifies each POST with its secret, then answers
    with the next of `answers` (the last one repeats), by default 204."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.secret = ""
        self.answers: list[Route] = [answer(204)]
        self.received: list[Received] = []
        self.stopping = threading.Event()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/optout-events"

    def verified(self) -> list[Any]:
        return [received.event for received in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = dict(self.headers.items())
        try:
            event = Webhook(self.server.secret).verify(body, headers)
        except WebhookVerificationError:
            event = None
        self.server.received.append(Received(headers, body, event))
        answers = self.server.answers
        route = answers.pop(0) if len(answers) > 1 else answers[0]
        if event is None:
            route = answer(401)
        with suppress(BrokenPipeError, ConnectionResetError):
            route(self)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    thread = threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        receiver.shutdown()
        receiver.server_close()


def answer(status: int, text: str = "") -> Route:
    def route(handler: _Handler) -> None:
        body = text.encode()
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def slow(handler: _Handler) -> None:
    if not handler.server.stopping.wait(5):
        answer(204)(handler)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as server:
        yield server


@pytest.fixture
def organisers(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> str:
    monkeypatch.setenv("ORGANISERS_ADDRESS", ORGANISERS)
    settings.get.cache_clear()
    return ORGANISERS


def register(receiver: Receiver, **fields: Any) -> str:
    """Register the receiver as an endpoint, as an organiser does; its id."""
    created = endpoints.create(settings.get(), {"url": receiver.url(), **fields}, clock.now())
    receiver.secret = created["secret"]
    return str(created["endpoint_id"])


def emit(type: EventType = EventType.CAMPAIGN_LAUNCHED, key: str | None = None, **data: Any) -> str:
    data = data or {"campaign_id": "linkedin-genai-2025", "platform": "linkedin"}
    return events.emit(settings.get(), type, data, clock.now(), key=key)


def run(stack: Stack) -> dict[str, int]:
    return stack.drain("EVENTS_QUEUE_URL", "EventsFunction")


def later(stack: Stack, test_clock: Any, **delta: float) -> None:
    """Time passes: the clock moves, and what SQS held back is let through; the function runs."""
    test_clock.advance(**delta)
    stack.release_delayed("EVENTS_QUEUE_URL")
    run(stack)


def shown(endpoint_id: str) -> dict[str, Any]:
    return endpoints.show(settings.get(), endpoint_id)


def emails_to(stack: Stack, address: str) -> list[Any]:
    return [sent for sent in stack.outbox() if sent.to == address]


# ---------------------------------------------------------------- delivered


def test_an_event_arrives_signed_and_the_reference_library_verifies_it(
    stack: Stack, receiver: Receiver
) -> None:
    # Given an endpoint registered for every event
    endpoint_id = register(receiver, description="our dashboard")

    # When a campaign is launched
    event_id = emit()
    run(stack)

    # Then the endpoint's Standard Webhooks library accepts it, with the event's id
    [received] = receiver.received
    assert received.event is not None
    assert received.event["type"] == "campaign.launched"
    assert received.event["data"]["campaign_id"] == "linkedin-genai-2025"
    assert received.headers["webhook-id"] == event_id
    # And the organisers read the attempt and its answer on the endpoint
    [attempt] = shown(endpoint_id)["attempts"]
    assert (attempt["event_id"], attempt["status"], attempt["outcome"]) == (
        event_id,
        204,
        "delivered",
    )


def test_an_endpoint_gets_only_the_types_it_asked_for(stack: Stack, receiver: Receiver) -> None:
    register(receiver, events=["reminder.sent"])

    emit(EventType.CAMPAIGN_LAUNCHED)
    emit(EventType.REMINDER_SENT, campaign_id="c", reminder="EU-07", counts={"sent": 3})
    run(stack)

    assert [event["type"] for event in receiver.verified()] == ["reminder.sent"]


def test_the_same_event_emitted_twice_is_delivered_once(stack: Stack, receiver: Receiver) -> None:
    # Given a conversion whose function ran twice, emitting its event twice
    register(receiver)
    data = {"campaign_id": "c", "subscriber_id": "s1", "region": "EU"}
    first = emit(EventType.CONVERSION_RECORDED, key="c#s1", **data)
    second = emit(EventType.CONVERSION_RECORDED, key="c#s1", **data)

    # When the events function runs
    run(stack)

    # Then the endpoint got it once
    assert first == second
    assert [received.headers["webhook-id"] for received in receiver.received] == [first]


def test_a_sample_event_of_events_is_fanned_out(stack: Stack, receiver: Receiver) -> None:
    register(receiver)

    invoke.invoke("EventsFunction", sample_event("events-fan-out"))
    run(stack)

    [event] = receiver.verified()
    assert event["type"] == "subscriber.confirmed"
    assert "contact" not in event["data"]


# ---------------------------------------------------------------- failures


def test_a_500_is_retried_later_and_then_arrives(
    stack: Stack, receiver: Receiver, test_clock: Any
) -> None:
    # Given an endpoint that fails once, then works
    endpoint_id = register(receiver)
    receiver.answers = [answer(500, "database is down"), answer(204)]

    # When an event is sent, and a minute passes
    event_id = emit()
    run(stack)
    assert len(receiver.received) == 1
    later(stack, test_clock, minutes=1)

    # Then it arrived on the second attempt, with the same id, and the log shows both answers
    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id, event_id]
    assert receiver.verified()[1] is not None
    attempts = shown(endpoint_id)["attempts"]
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 204, "delivered"),
        (0, 500, "retried"),
    ]
    assert attempts[1]["answer"] == "the endpoint answered 500: database is down"
    assert shown(endpoint_id)["dead_letters"] == []


def test_a_refusal_that_will_not_pass_becomes_a_dead_letter_at_once(
    stack: Stack, receiver: Receiver, test_clock: Any
) -> None:
    endpoint_id = register(receiver)
    receiver.answers = [answer(422, '{"error": "unknown type"}')]

    event_id = emit()
    run(stack)
    later(stack, test_clock, hours=1)

    assert len(receiver.received) == 1
    [letter] = shown(endpoint_id)["dead_letters"]
    assert (letter["event_id"], letter["reason"]) == (event_id, "the endpoint answered 422")
    [attempt] = shown(endpoint_id)["attempts"]
    assert attempt["answer"] == 'the endpoint answered 422: {"error": "unknown type"}'


def test_a_slow_answer_is_cut_off_and_retried(
    stack: Stack, receiver: Receiver, test_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint that does not answer in time, then does
    monkeypatch.setattr(delivery, "TIMEOUT", (1.0, 0.2))
    endpoint_id = register(receiver)
    receiver.answers = [slow, answer(200)]

    emit()
    run(stack)
    later(stack, test_clock, minutes=1)

    attempts = shown(endpoint_id)["attempts"]
    assert [(a["status"], a["outcome"]) for a in attempts] == [(200, "delivered"), (0, "retried")]
    assert attempts[1]["answer"] == "the endpoint did not answer within 0.2 seconds"


def test_an_endpoint_failing_for_a_day_is_paused_its_events_kept_and_the_organisers_told_once(
    stack: Stack, receiver: Receiver, test_clock: Any, organisers: str
) -> None:
    # Given an endpoint that answers 503 to everything
    endpoint_id = register(receiver, description="CRM sync")
    receiver.answers = [answer(503)]

    # When an event is retried for three days
    event_id = emit()
    run(stack)
    for _ in range(20):
        later(stack, test_clock, hours=4)

    # Then, once every delivery had failed for 24 hours, the endpoint was paused
    endpoint = shown(endpoint_id)
    assert endpoint["status"] == "paused"
    assert "every delivery has failed since" in endpoint["paused_reason"]
    # and the event is kept as a dead letter, nothing more queued, nothing lost
    assert [letter["event_id"] for letter in endpoint["dead_letters"]] == [event_id]
    assert stack.release_delayed("EVENTS_QUEUE_URL") == 0
    # and the organisers were emailed once, with where to resume it
    [mail] = emails_to(stack, organisers)
    assert "paused" in mail.subject.lower()
    assert receiver.url() in mail.text
    assert f"/admin/webhooks/{endpoint_id}" in mail.text

    # And a new event while it is paused is not sent, but kept as a dead letter too
    sent = len(receiver.received)
    second = emit(EventType.CAMPAIGN_FINISHED)
    run(stack)
    assert len(receiver.received) == sent
    assert second in [letter["event_id"] for letter in shown(endpoint_id)["dead_letters"]]
    assert len(emails_to(stack, organisers)) == 1


def test_the_pause_email_refused_once_is_sent_when_the_job_comes_back(
    stack: Stack,
    receiver: Receiver,
    test_clock: Any,
    organisers: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an endpoint failing for three days, and SES refusing the one email of its pause
    register(receiver)
    receiver.answers = [answer(503)]
    refused: list[str] = []
    send = email.send

    def throttled_once(configured: settings.Settings, message: email.Email) -> str:
        if "paused" in message.subject.lower() and not refused:
            refused.append(message.subject)
            raise RuntimeError("Throttling: maximum sending rate exceeded")
        return send(configured, message)

    monkeypatch.setattr(email, "send", throttled_once)
    emit()
    run(stack)
    for _ in range(20):
        later(stack, test_clock, hours=4)

    # Then the endpoint was paused, and the email went once SES took it
    assert refused
    [mail] = emails_to(stack, organisers)
    assert "paused" in mail.subject.lower()


def test_after_three_days_a_failing_event_is_given_up_as_a_dead_letter(
    stack: Stack, receiver: Receiver, test_clock: Any
) -> None:
    # Given a kept event whose delivery has been tried for three days less a minute, to an
    # endpoint that answers 503
    endpoint_id = register(receiver)
    receiver.answers = [answer(503)]
    happened = events.event(EventType.CAMPAIGN_LAUNCHED, {"campaign_id": "c"}, clock.now())
    kept = KeptEvent(
        happened.event_id, "campaign.launched", clock.iso(clock.now()), happened.body()
    )
    EventStore(settings.get()).keep(kept, clock.now())
    job = DeliveryJob(
        happened.event_id, endpoint_id, clock.iso(clock.now() + timedelta(minutes=1)), attempt=12
    )
    queues.enqueue(stack.env["EVENTS_QUEUE_URL"], job)

    # When it fails once more
    run(stack)

    # Then it is not retried: it is a dead letter, saying why
    assert stack.release_delayed("EVENTS_QUEUE_URL") == 0
    [letter] = shown(endpoint_id)["dead_letters"]
    assert letter["reason"] == (
        "the endpoint answered 503; given up after 13 attempts in three days"
    )


# ---------------------------------------------------------------- replay


def test_one_event_and_a_time_range_are_replayed_to_an_endpoint(
    stack: Stack, receiver: Receiver, test_clock: Any
) -> None:
    # Given three events delivered an hour apart
    endpoint_id = register(receiver)
    sent = []
    for _ in range(3):
        sent.append(emit())
        run(stack)
        test_clock.advance(hours=1)
    assert len(receiver.received) == 3

    # When the first is replayed, and then the range of the last two
    one = endpoints.replay(settings.get(), endpoint_id, {"event_id": sent[0]}, clock.now())
    run(stack)
    ranged = endpoints.replay(
        settings.get(),
        endpoint_id,
        {"from": "2025-10-27T09:30:00Z", "to": "2025-10-27T11:00:00Z"},
        clock.now(),
    )
    run(stack)

    # Then the endpoint got them again, verified, with their own ids
    assert (one["replayed"], ranged["replayed"]) == (1, 2)
    ids = [received.headers["webhook-id"] for received in receiver.received[3:]]
    assert ids == [sent[0], sent[1], sent[2]]
    assert all(event is not None for event in receiver.verified())


# ---------------------------------------------------------------- contacts


def test_only_the_organisations_crm_gets_the_contact_and_only_in_subscriber_confirmed(
    stack: Stack, test_clock: Any
) -> None:
    # Given a CRM endpoint and another, both taking every event
    crm, other = Receiver(), Receiver()
    for server in (crm, other):
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        register(crm, own_crm=True)
        register(other)
        person = active("ada@example.org", "DE", "de")

        # When a person confirms and then unsubscribes
        emit(EventType.SUBSCRIBER_CONFIRMED, subscriber_id=person, channel="email")
        emit(EventType.SUBSCRIBER_UNSUBSCRIBED, subscriber_id=person, channel="email")
        run(stack)

        # Then the CRM's subscriber.confirmed carries the contact, verified with its signature
        by_type = {event["type"]: event for event in crm.verified()}
        contact = by_type["subscriber.confirmed"]["data"]["contact"]
        assert (contact["channel"], contact["address"]) == ("email", "ada@example.org")
        assert contact["consent"]["requested_at"] == "2025-10-01T00:00:00Z"
        # and nothing else carries it: not its other event, nor the other endpoint's
        assert "contact" not in by_type["subscriber.unsubscribed"]["data"]
        assert all(event is not None for event in other.verified())
        assert len(other.received) == 2
        assert all(b"ada@example.org" not in received.body for received in other.received)
        assert (
            b"ada@example.org" not in json.dumps(stack.items("EVENTS_TABLE"), default=str).encode()
        )
    finally:
        for server in (crm, other):
            server.shutdown()
            server.server_close()


def test_a_crm_gets_only_its_own_organisation_s_members_contacts_with_the_consent_given_it(
    stack: Stack, test_clock: Any
) -> None:
    # Given the coalition owner's CRM, South's CRM, and Ada, of North and of South, who gave
    # South her consent on its form
    owners, souths = Receiver(), Receiver()
    for server in (owners, souths):
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        register(owners, own_crm=True)
        created = endpoints.create(
            settings.get(), {"url": souths.url(), "own_crm": True}, clock.now(), "south"
        )
        souths.secret = created["secret"]
        store = SubscriberStore(settings.get())
        ada = store.get(active("ada@example.org", "DE"))
        assert ada is not None
        south_consent = replace(ada.consent, requested_at="2025-10-05T00:00:00Z", source="web-form")
        member = replace(
            ada,
            memberships=(
                Membership(
                    "north", MembershipStatus.ACTIVE, "2025-10-01T00:00:00Z", "2025-10-01T00:00:00Z"
                ),
                Membership(
                    "south",
                    MembershipStatus.ACTIVE,
                    "2025-10-05T00:00:00Z",
                    "2025-10-05T00:00:00Z",
                    consent=south_consent,
                ),
            ),
        )
        store.put_active(member)

        # When she confirms her membership of South
        event_id = emit(
            EventType.SUBSCRIBER_CONFIRMED,
            subscriber_id=ada.subscriber_id,
            channel="email",
            organisations=["south"],
        )
        run(stack)

        # Then South's CRM has her contact, with the consent she gave South; the owner's CRM
        # hears of it without her contact (she is not the owner's organisation's member)
        (to_south,) = souths.verified()
        assert to_south["data"]["contact"]["address"] == "ada@example.org"
        assert to_south["data"]["contact"]["consent"]["requested_at"] == "2025-10-05T00:00:00Z"
        (to_owner,) = owners.verified()
        assert "contact" not in to_owner["data"]

        # When she leaves South (staying in North), and the event is replayed to South's CRM
        left = replace(member.memberships[1], status=MembershipStatus.UNSUBSCRIBED)
        store.put_active(replace(member, memberships=(member.memberships[0], left)))
        endpoints.replay(
            settings.get(), created["endpoint_id"], {"event_id": event_id}, clock.now()
        )
        run(stack)

        # Then it carries no contact any more
        assert "contact" not in souths.verified()[-1]["data"]
        assert len(souths.received) == 2
    finally:
        for server in (owners, souths):
            server.shutdown()
            server.server_close()


def test_a_person_erased_before_the_delivery_is_sent_to_the_crm_without_a_contact(
    stack: Stack, receiver: Receiver, test_clock: Any
) -> None:
    register(receiver, own_crm=True)
    person = active("ada@example.org", "DE", "de")
    emit(EventType.SUBSCRIBER_CONFIRMED, subscriber_id=person, channel="email")
    SubscriberStore(settings.get()).erase(person, "asked", clock.now())

    run(stack)

    [event] = receiver.verified()
    assert event["data"]["subscriber_id"] == person
    assert "contact" not in event["data"]


def test_a_person_who_left_before_the_delivery_is_sent_to_the_crm_without_a_contact(
    stack: Stack, receiver: Receiver
) -> None:
    # Given a confirmation not yet delivered to the CRM (down, or replayed weeks later)
    register(receiver, own_crm=True)
    person = active("ada@example.org", "DE", "de")
    emit(EventType.SUBSCRIBER_CONFIRMED, subscriber_id=person, channel="email")
    # When she unsubscribes before it goes
    SubscriberStore(settings.get()).unsubscribe(person, clock.now())

    run(stack)

    # Then the CRM is told of the confirmation, but is not handed her address back
    [event] = receiver.verified()
    assert event["data"]["subscriber_id"] == person
    assert "contact" not in event["data"]


def test_a_failing_endpoint_is_tried_by_one_delivery_at_a_time(
    stack: Stack, receiver: Receiver, test_clock: Any
) -> None:
    # Given an endpoint that failed its last delivery, and is being tried by another run of the
    # events function right now (it holds the endpoint's one try)
    endpoint_id = register(receiver)
    receiver.answers = [answer(503), answer(204)]
    emit(key="first")
    run(stack)
    assert shown(endpoint_id)["failing_since"]
    store = EventStore(settings.get())
    assert store.claim_probe(endpoint_id, clock.now(), clock.now() + timedelta(seconds=40))

    # When another event is due for it
    second = emit(key="second")
    run(stack)

    # Then it is not sent: it waits its turn as a failed attempt would, and the log says why
    assert len(receiver.received) == 1
    [waiting] = [a for a in shown(endpoint_id)["attempts"] if a["event_id"] == second]
    assert (waiting["outcome"], waiting["status"]) == ("retried", 0)
    assert waiting["answer"].startswith("not tried: the endpoint is failing")

    # When that try is over, and the retries' time comes
    store.end_probe(endpoint_id)
    later(stack, test_clock, minutes=1)

    # Then each event is sent once more, the first one to go taking the try: both arrive
    assert sorted(r.headers["webhook-id"] for r in receiver.received[1:]) == sorted(
        [second, receiver.received[0].headers["webhook-id"]]
    )
    assert not shown(endpoint_id)["failing_since"]


def test_with_too_little_time_left_a_delivery_goes_back_on_the_queue_untried(
    stack: Stack, receiver: Receiver
) -> None:
    # Given a delivery job, and a run of the events function with 10 s left
    endpoint_id = register(receiver)
    event_id = emit()
    stack.drain("EVENTS_QUEUE_URL", "EventsFunction")
    receiver.received.clear()
    job = DeliveryJob(event_id, endpoint_id, clock.iso(clock.now() + timedelta(days=3)))

    # When it is handled
    outcome = delivery.deliver(settings.get(), job, clock.now(), time_left=10)

    # Then nothing was sent nor logged for it: it waits on the queue, its attempt not counted
    assert outcome.startswith("queued again")
    assert receiver.received == []
    run(stack)
    assert [received.headers["webhook-id"] for received in receiver.received] == [event_id]
    assert [a["attempt"] for a in shown(endpoint_id)["attempts"]] == [0, 0]


def test_on_aws_an_endpoint_on_the_local_network_is_never_reached(
    stack: Stack, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an endpoint on 127.0.0.1 (registered on the local stack), and the stage on AWS
    endpoint_id = register(receiver)
    monkeypatch.setenv("STAGE", "prod")
    settings.get.cache_clear()

    # When an event is sent
    emit()
    run(stack)

    # Then no request reached it, and the event is a dead letter saying why, not retried
    assert receiver.received == []
    [letter] = shown(endpoint_id)["dead_letters"]
    assert letter["reason"] == f"the address is not https ({receiver.url()})"
    assert stack.release_delayed("EVENTS_QUEUE_URL") == 0


def test_an_event_kept_by_a_run_that_stopped_before_its_fan_out_is_fanned_out_again(
    stack: Stack, receiver: Receiver
) -> None:
    # Given an event a previous run kept, and stopped before queuing its deliveries
    register(receiver)
    happened = events.event(
        EventType.CAMPAIGN_LAUNCHED, {"campaign_id": "c"}, clock.now(), key="launch-c"
    )
    kept = KeptEvent(
        happened.event_id, "campaign.launched", clock.iso(clock.now()), happened.body()
    )
    EventStore(settings.get()).keep(kept, clock.now())

    # When SQS delivers its job again
    emit(EventType.CAMPAIGN_LAUNCHED, key="launch-c", campaign_id="c")
    run(stack)

    # Then the endpoint gets it; and once fanned out, the job again sends nothing more
    assert [received.headers["webhook-id"] for received in receiver.received] == [happened.event_id]
    emit(EventType.CAMPAIGN_LAUNCHED, key="launch-c", campaign_id="c")
    run(stack)
    assert len(receiver.received) == 1


def test_the_answer_to_a_delivery_that_carried_a_contact_is_not_kept(
    stack: Stack, receiver: Receiver
) -> None:
    # Given the organisation's CRM, which echoes what it refused
    endpoint_id = register(receiver, own_crm=True)
    receiver.answers = [answer(400, "bad field in ada@example.org")]
    person = active("ada@example.org", "DE", "de")

    # When a person's confirmation is refused by it
    emit(EventType.SUBSCRIBER_CONFIRMED, subscriber_id=person, channel="email")
    run(stack)

    # Then the log says what the status was, but keeps nothing the answer said
    [attempt] = shown(endpoint_id)["attempts"]
    assert (attempt["status"], attempt["answer"]) == (400, "the endpoint answered 400")
    assert b"ada@example.org" not in json.dumps(stack.items("EVENTS_TABLE"), default=str).encode()


# ---------------------------------------------------------------- a person's whole journey


def test_a_person_s_journey_reaches_the_crm_with_her_contact_and_the_chat_without(
    stack: Stack, organiser: Organiser, test_clock: Any, campaign: None
) -> None:
    """Producers and delivery together: nothing here emits by hand."""
    # Given two endpoints an organiser registered: the organisation's CRM, for confirmations
    # only, and a chat channel, for every event
    crm, chat = Receiver(), Receiver()
    with serving(crm), serving(chat):
        crm.secret = registered(organiser, crm, own_crm=True, events=["subscriber.confirmed"])
        chat.secret = registered(organiser, chat, description="#campaigns")

        # When Lena in Germany subscribes and confirms, gets "one week left" and switches it off
        active("lena@example.org", "DE", "de")  # a subscriber from before the endpoints
        assert stack.call("subscribe-json").status == 202  # Ada, from the sample request
        stack.drain_notices()
        (confirmation,) = to(stack, "ada@example.org")
        assert stack.call("confirm", path=confirm_path(confirmation.text)).status == 200
        at(stack, test_clock, "2025-10-27T08:00:00Z")
        (reminder,) = to(stack, "lena@example.org")
        assert stack.call("done", path=link(reminder.text, "done")).status == 200
        run(stack)

    # Then the CRM got Ada's confirmation, with her address, verified with its own secret
    [confirmed] = crm.verified()
    assert confirmed["type"] == "subscriber.confirmed"
    assert confirmed["data"]["contact"]["address"] == "ada@example.org"
    # And the chat channel got each event as it happened, with no contact in any of them
    told = {event["type"] for event in chat.verified()}
    assert {"subscriber.confirmed", "reminder.sent", "conversion.recorded"} <= told
    assert "@" not in b"".join(received.body for received in chat.received).decode()
    [conversion] = [e for e in chat.verified() if e["type"] == "conversion.recorded"]
    assert conversion["data"]["reminder"] == "EU-07"


def registered(organiser: Organiser, receiver: Receiver, **fields: Any) -> str:
    """Register through the admin API, as an organiser does; the secret it shows once."""
    reply = organiser.call(
        "POST", "/admin/webhooks", body=json.dumps({"url": receiver.url(), **fields})
    )
    assert reply.status == 201, reply.text
    return str(reply.json()["secret"])
