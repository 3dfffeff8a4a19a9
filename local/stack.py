"""The parts of the local stack: its clock, its outbox, the pump that plays EventBridge and the
SQS event source mappings, and the HTTP front door that plays API Gateway.

Every handler invocation holds one lock. Lambda runs one event at a time per execution
environment, and the handler modules here share one process and its module-level state, so
running them one at a time is both faithful and simple. A pass of the schedule and the queues
(a tick, or the pump's) holds a second lock, so that two passes never drain at once and a tick
answers only when its pass is done, while API requests still run between the pass's
invocations, as they would beside a long send on AWS.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import json
import re
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from local import demo_receiver, demo_site, iam, invoke, template
from local.simulator import MailboxSimulator
from optout.core.clock import iso, parse_iso

STOP_POLL_SECONDS = 0.2  # how soon the stack notices SIGINT or SIGTERM
# How often, in real seconds, the pump looks at the queues and the clock.
PUMP_INTERVAL_SECONDS = 2.0
# API Gateway refuses larger payloads before any function sees them.
MAX_BODY_BYTES = 10 * 1024 * 1024

# status, headers, body
Response = tuple[int, dict[str, str], bytes]


class LocalError(Exception):
    """A request to the stack itself (not to a handler) that cannot be served."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class StackClock:
    """Real time shifted by an offset: it keeps ticking between jumps, like a real clock.

    It stays within `RANGE`: found by schemathesis, a clock set to 9999-12-31 ran past the
    last date Python has a few seconds later, and every request answered 500 from then on."""

    RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def set(self, moment: datetime) -> None:
        earliest, latest = self.RANGE
        if not earliest <= moment < latest:
            raise ValueError(f"the stack's clock stays in {earliest.year} to {latest.year - 1}")
        self._offset = moment - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        try:
            moment = self.now() + delta
        except OverflowError:
            moment = self.RANGE[0] if delta < timedelta(0) else self.RANGE[1]
        self.set(moment)


_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<weeks>[0-9]+)W)?(?:(?P<days>[0-9]+)D)?"
    r"(?:T(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?(?:(?P<seconds>[0-9]+(?:\.[0-9]+)?)S)?)?"
)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration in weeks, days, hours, minutes and seconds: `P7D`, `PT90M`, `-P1D`.

    Years and months are refused rather than guessed: they have no fixed length.
    """
    found = _DURATION.fullmatch(text)
    parts = {
        unit: float(amount)
        for unit, amount in (found.groupdict() if found else {}).items()
        if amount and unit != "sign"
    }
    if not found or not parts:
        raise ValueError(
            f"{text!r} is not a duration; use ISO 8601 weeks, days, hours, minutes or seconds, "
            "like P7D, PT30M or P1DT12H (years and months have no fixed length)"
        )
    try:
        delta = timedelta(**parts)
    except OverflowError:  # found by schemathesis: {"advance": "P17744909322D"} was a 500
        raise ValueError(f"{text!r} is further than the stack's clock goes") from None
    return -delta if found["sign"] else delta


class Outbox:
    """Every message moto's SES and SNS accepted, oldest first.

    moto records no send time, so each message is stamped with the stack's clock when the stack
    first sees it; `collect` runs after every handler invocation, which makes that the time of
    the invocation that sent it. moto keeps emails and texts apart, so of the messages one
    invocation sent, the emails come first.
    """

    def __init__(self, region: str) -> None:
        self._region = region
        self._messages: list[dict[str, Any]] = []
        self._emails_seen = 0
        self._texts_seen = 0

    def collect(self, now: datetime) -> list[Any]:
        """Take in the messages sent since the last call; moto's emails among them."""
        # Looked up on every call: moto replaces its backends when it is reset.
        emails = ses_backends[DEFAULT_ACCOUNT_ID][self._region].sent_messages[self._emails_seen :]
        texts = list(sns_backends[DEFAULT_ACCOUNT_ID][self._region].sms_messages.values())
        texts = texts[self._texts_seen :]
        self._emails_seen += len(emails)
        self._texts_seen += len(texts)
        sent_at = iso(now)
        self._messages += [{**_email_entry(message), "sent_at": sent_at} for message in emails]
        self._messages += [{**_sms_entry(to, text), "sent_at": sent_at} for to, text in texts]
        return list(emails)

    def messages(self) -> list[dict[str, Any]]:
        return list(self._messages)


def _email_entry(message: Any) -> dict[str, Any]:
    """An outbox entry for one of moto's `RawMessage`s (the layer sends raw MIME only, through
    SESv2, to set its own headers)."""
    parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    return {
        "channel": "email",
        "to": str(parsed["To"]),
        "subject": str(parsed["Subject"]),
        "text": _content(text),
        "html": _content(html),
        "headers": {name: str(value) for name, value in parsed.items()},
    }


def _content(part: email.message.MIMEPart | None) -> str:
    # The layer writes CRLF line ends, as SMTP wants; show the text as a mail client would.
    return part.get_content().replace("\r\n", "\n") if part else ""


def _sms_entry(to: str, text: str) -> dict[str, Any]:
    return {"channel": "sms", "to": to, "subject": "", "text": text, "html": "", "headers": {}}


@dataclass(frozen=True)
class Queue:
    """A queue of template.yaml that feeds a function through an SQS event."""

    logical_id: str
    url: str
    arn: str
    consumer: str  # logical id of the function


def consumed_queues(prefix: str) -> list[Queue]:
    """The queues `local.provision.provision(prefix)` created that some function consumes."""
    sqs = iam.enforcer().operator_session().client("sqs")
    queues = []
    for logical_id, consumer in template.queue_consumers().items():
        url = sqs.get_queue_url(QueueName=f"{prefix}-{logical_id}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        queues.append(Queue(logical_id, url, attributes["Attributes"]["QueueArn"], consumer))
    return queues


class Timetable:
    """When each scheduled function of template.yaml runs on the stack's clock, each at its own
    rate, and when each last ran.

    The pump plays EventBridge: a function runs when its rate has passed since its last run, or
    the clock was moved back before that run (a timeline replayed from an earlier point). A
    rule's first run comes a rate after it is made, so the stack's start counts as a run.

    A tick is a person or a test saying "the schedule's next beat is now": it always runs the
    functions on the shortest rate (the scheduler's five minutes, the beat the stack's timeline
    moves in), and each other function when the pump would run it, or when it has not run yet
    since the stack started (so the first tick runs an hourly function, and the next one only
    once its hour has passed on the stack's clock or the clock was moved back).

    A function counts as run when it is started, failing or not: as with EventBridge, the next
    run comes a rate later.
    """

    def __init__(self, schedules: Mapping[str, template.Schedule], started: datetime) -> None:
        self._schedules = dict(schedules)
        self._started = started
        self._last_run: dict[str, datetime] = {}
        shortest = min((item.period for item in self._schedules.values()), default=None)
        self._every_tick = {
            name for name, item in self._schedules.items() if item.period == shortest
        }

    def pump(self, now: datetime) -> list[str]:
        """The functions EventBridge would run at `now`; from here on they count as run then."""
        return self._run(
            [
                name
                for name, schedule in self._schedules.items()
                if schedule.due(now, self._last_run.get(name, self._started))
            ],
            now,
        )

    def tick(self, now: datetime) -> list[str]:
        """The functions a tick runs at `now`; from here on they count as run then."""
        return self._run(
            [
                name
                for name, schedule in self._schedules.items()
                if name in self._every_tick or schedule.due(now, self._last_run.get(name))
            ],
            now,
        )

    def _run(self, names: list[str], now: datetime) -> list[str]:
        self._last_run.update(dict.fromkeys(names, now))
        return names


class StopSignals:
    """SIGINT and SIGTERM, noted from the moment this is made; `wait()` returns once one came.

    The handlers only note the signal. Setting a `threading.Event` inside a handler deadlocked:
    Python runs every handler on the main thread, so a second signal arriving while the first
    handler held the Event's lock (Ctrl-C twice, or `timeout` and then `kill`) waited for it
    forever.
    """

    def __init__(self) -> None:
        self._received: list[int] = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda number, _frame: self._received.append(number))

    def wait(self) -> None:
        while not self._received:
            time.sleep(STOP_POLL_SECONDS)


class LocalStack:
    """The functions of template.yaml, the queues between them and their schedule, run one
    event at a time on the stack's clock."""

    def __init__(self, clock: StackClock, queues: list[Queue], region: str) -> None:
        self.clock = clock
        self._queues = queues
        self._outbox = Outbox(region)
        # Made before any function's first call: a client keeps the hooks its session had.
        session = boto3.DEFAULT_SESSION
        assert session is not None, "provision the stack first (local.provision.provision)"
        self._simulator = MailboxSimulator(session.events, DEFAULT_ACCOUNT_ID, region)
        self._feedback_topic = f"arn:aws:sns:{region}:{DEFAULT_ACCOUNT_ID}:FeedbackTopic"
        self._invocation = threading.Lock()  # one handler at a time
        self._pass = threading.Lock()  # one pass of the schedule and the queues at a time
        self._timetable = Timetable(template.scheduled_functions(), clock.now())
        # What Lambda's event source mappings do is the stack's own doing: the operator's,
        # never taken for the function running meanwhile on another thread.
        self._sqs = iam.enforcer().operator_session().client("sqs")

    def call_api(self, function: str, event: dict[str, Any]) -> Response:
        """Run an API Gateway event through `function`; its status, headers and body."""
        return invoke.decode_response(self._invoke(function, event))

    def tick(self) -> dict[str, Any]:
        """Run the scheduled functions now (those `Timetable.tick` names: the scheduler always,
        the others when their rate has passed), then drain every queue; what each function run
        returned, and the messages processed and failed per queue."""
        with self._pass:
            now = self.clock.now()
            return {
                "scheduled": self._run_scheduled(self._timetable.tick(now), now),
                **self._drain(),
            }

    def pump(self) -> None:
        """What AWS does on its own: drain the queues, and run each scheduled function when its
        rate has passed (`Timetable.pump`)."""
        with self._pass:
            now = self.clock.now()
            self._run_scheduled(self._timetable.pump(now), now)
            self._drain()

    def pump_until(self, stop: threading.Event, interval: float = PUMP_INTERVAL_SECONDS) -> None:
        """Pump every `interval` real seconds until `stop` is set; 0 never pumps (the stack
        then moves only when told to, by POST /_local/tick)."""
        if interval <= 0:
            stop.wait()
            return
        while not stop.wait(interval):
            try:
                self.pump()
            except Exception:
                # Keep pumping, as AWS keeps polling; the next pass may succeed.
                traceback.print_exc()

    def outbox(self) -> list[dict[str, Any]]:
        with self._invocation:
            return self._outbox.messages()

    def set_clock(self, moment: datetime) -> datetime:
        with self._invocation:
            self.clock.set(moment)
            return self.clock.now()

    def advance_clock(self, delta: timedelta) -> datetime:
        with self._invocation:
            self.clock.advance(delta)
            return self.clock.now()

    def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Run one handler, then stamp what it sent with the time it ran; then what SES's
        mailbox simulator answers to it reaches FeedbackFunction, as through FeedbackTopic."""
        answers: list[str] = []
        try:
            with self._invocation:
                try:
                    return invoke.invoke(function, event)
                finally:
                    sent = self._outbox.collect(self.clock.now())
                    answers = self._simulator.answers(sent, self.clock.now())
        finally:
            for answer in answers:
                self._invoke("FeedbackFunction", invoke.sns_event(self._feedback_topic, answer))

    def _run_scheduled(self, functions: list[str], now: datetime) -> dict[str, Any]:
        """Run each of `functions` once with an EventBridge event of `now`; what each returned."""
        return {
            function: self._invoke(function, invoke.scheduled_event(now)) for function in functions
        }

    def _drain(self) -> dict[str, dict[str, int]]:
        """Feed every queue to its consumer until a whole pass processes nothing (a consumer
        may fill another queue); messages processed and failed, per queue."""
        processed: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        while True:
            before = processed.total()
            for queue in self._queues:
                done, refused = self._drain_queue(queue)
                processed[queue.logical_id] += done
                failed[queue.logical_id] += refused
            if processed.total() == before:
                return {"processed": dict(processed), "failed": dict(failed)}

    def _drain_queue(self, queue: Queue) -> tuple[int, int]:
        """Receive and deliver batches until the queue is empty or a batch wholly fails.

        A failed message is not deleted: it comes back after the queue's visibility timeout and
        goes to the dead-letter queue after the template's maxReceiveCount, as in AWS.
        """
        sqs = self._sqs
        processed = failed = 0
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue.url, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return processed, failed
            refused = self._deliver(queue, messages)
            done = [message for message in messages if message["MessageId"] not in refused]
            _delete(sqs, queue, done)
            processed += len(done)
            failed += len(refused)
            if not done:
                return processed, failed

    def _deliver(self, queue: Queue, messages: Sequence[Mapping[str, Any]]) -> set[str]:
        """Run the consumer on a batch; the ids of the messages it did not process.

        A function error fails the whole batch, as it does under Lambda's event source mapping.
        """
        try:
            response = self._invoke(queue.consumer, invoke.sqs_event(queue.arn, messages))
        except Exception:
            traceback.print_exc()
            return {message["MessageId"] for message in messages}
        return {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}


def _delete(sqs: Any, queue: Queue, messages: Sequence[Mapping[str, Any]]) -> None:
    if not messages:
        return
    entries = [
        {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
        for index, message in enumerate(messages)
    ]
    response = sqs.delete_message_batch(QueueUrl=queue.url, Entries=entries)
    if response.get("Failed"):
        raise RuntimeError(
            f"SQS kept processed messages of {queue.logical_id}: {response['Failed']}"
        )


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: str
    headers: dict[str, str]
    body: bytes


class Frontend:
    """What the HTTP server answers: template.yaml's API routes, through their functions, and
    the `/_local/` routes with which a person or a test drives the stack."""

    # The stack's own routes (path -> method -> the method of this class that answers), which
    # openapi.json describes as local-only.
    LOCAL_ROUTES: ClassVar[dict[str, dict[str, str]]] = {
        "/_local/outbox": {"GET": "_outbox"},
        "/_local/tick": {"POST": "_tick"},
        "/_local/clock": {"GET": "_clock", "POST": "_move_clock"},
        demo_site.PATH: {"GET": "_demo_page"},
        demo_receiver.PATH: {"GET": "_demo_events", "POST": "_demo_event_received"},
    }

    def __init__(self, stack: LocalStack, public_host: str) -> None:
        self._stack = stack
        self._public_host = public_host  # what API Gateway would call its domain name
        self.demo_receiver = demo_receiver.DemoReceiver()  # registered by the demo, if any

    def respond(self, request: Request) -> Response:
        local = self.LOCAL_ROUTES.get(request.path)
        if local is not None:
            if request.method not in local:
                return _method_not_allowed(request, list(local))
            handler: Callable[[Request], Response] = getattr(self, local[request.method])
            return handler(request)
        found = invoke.find_route(request.method, request.path)
        if found is not None:
            route, parameters = found
            return self._stack.call_api(route.function, self._api_event(request, route, parameters))
        allowed = [
            route.method
            for route in template.routes()
            if route.match(route.method, request.path) is not None
        ]
        if allowed:
            return _method_not_allowed(request, allowed)
        return error_response(HTTPStatus.NOT_FOUND, f"no route {request.path}")

    def _api_event(
        self, request: Request, route: template.Route, parameters: dict[str, str]
    ) -> dict[str, Any]:
        return invoke.api_event(
            request.method,
            request.path,
            route=route,
            path_parameters=parameters,
            headers=request.headers,
            query=request.query,
            body=request.body,
            host=self._public_host,
        )

    def _outbox(self, _request: Request) -> Response:
        return json_response(HTTPStatus.OK, self._stack.outbox())

    def _tick(self, _request: Request) -> Response:
        return json_response(HTTPStatus.OK, self._stack.tick())

    def _demo_page(self, _request: Request) -> Response:
        """The demo watch's page, as it reads on the stack's clock."""
        page = demo_site.help_page(self._stack.clock.now()).encode()
        return HTTPStatus.OK, {"Content-Type": "text/html; charset=utf-8"}, page

    def _demo_events(self, _request: Request) -> Response:
        """What the demo's endpoint was sent, each verified, oldest first."""
        return json_response(HTTPStatus.OK, self.demo_receiver.received())

    def _demo_event_received(self, request: Request) -> Response:
        status, why = self.demo_receiver.receive(request.headers, request.body)
        if why:
            return error_response(HTTPStatus(status), why)
        return HTTPStatus(status), {}, b""

    def _clock(self, _request: Request) -> Response:
        return json_response(HTTPStatus.OK, {"now": iso(self._stack.clock.now())})

    def _move_clock(self, request: Request) -> Response:
        change = _json_object(request.body)
        try:
            if change.keys() == {"set"} and isinstance(change["set"], str):
                now = self._stack.set_clock(parse_iso(change["set"]))
            elif change.keys() == {"advance"} and isinstance(change["advance"], str):
                now = self._stack.advance_clock(parse_duration(change["advance"]))
            else:
                raise ValueError(
                    'send {"set": "2025-10-27T09:00:00Z"} or {"advance": "P7D"}, one of the two'
                )
        except ValueError as error:
            raise LocalError(HTTPStatus.BAD_REQUEST, str(error)) from None
        return json_response(HTTPStatus.OK, {"now": iso(now)})


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"null")
    except ValueError as error:
        raise LocalError(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise LocalError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    return value


def _method_not_allowed(request: Request, allowed: list[str]) -> Response:
    message = f"{request.method} is not served on {request.path}; use {', '.join(allowed)}"
    return error_response(HTTPStatus.METHOD_NOT_ALLOWED, message, {"Allow": ", ".join(allowed)})


def json_response(status: HTTPStatus, data: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    return (
        status,
        {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})},
        body,
    )


def error_response(
    status: HTTPStatus, message: str, headers: dict[str, str] | None = None
) -> Response:
    """`{"error": "NotFound", "message": ...}`, in the shape of the handlers' JSON errors."""
    name = status.phrase.title().replace(" ", "")
    return json_response(status, {"error": name, "message": message}, headers)


class StackServer(ThreadingHTTPServer):
    """A threading HTTP server that hands every request to the stack's `Frontend`."""

    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of about 50 connections at once (a
    # load test, a browser opening a page's links) was reset. API Gateway queues far more.
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], stack: LocalStack) -> None:
        super().__init__(address, _RequestHandler)
        # What API Gateway would call its domain name: links in messages start with it.
        self.public_host = f"{address[0]}:{self.server_address[1]}"  # the port bound, if 0
        self.frontend = Frontend(stack, self.public_host)


class _RequestHandler(BaseHTTPRequestHandler):
    server: StackServer

    def __getattr__(self, name: str) -> Any:
        # http.server answers 501 to a method it has no `do_<METHOD>` for (TRACE, QUERY...):
        # every method reaches the routes instead, which answer 405 and `Allow` to the ones
        # they do not serve, as a client can act on.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        try:
            response = self.server.frontend.respond(self._request())
        except LocalError as error:
            response = error_response(error.status, error.message)
        except Exception:
            # A bug: the details go to the terminal, never to the client.
            traceback.print_exc()
            response = error_response(
                HTTPStatus.INTERNAL_SERVER_ERROR, "the stack failed; its output has the details"
            )
        self._send(*response)

    def _request(self) -> Request:
        url = urlsplit(self.path)
        return Request(
            method=self.command,
            path=unquote(url.path),
            query=url.query,
            headers=dict(self.headers.items()),
            body=self._body(),
        )

    def _body(self) -> bytes:
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.isdigit():
            raise LocalError(HTTPStatus.BAD_REQUEST, f"bad Content-Length {raw_length!r}")
        if int(raw_length) > MAX_BODY_BYTES:
            raise LocalError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body is larger than API Gateway's {MAX_BODY_BYTES // 2**20} MiB",
            )
        return self.rfile.read(int(raw_length))

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":  # the length of the body a GET would have, and no body
            self.wfile.write(body)
