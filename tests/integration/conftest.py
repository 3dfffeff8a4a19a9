"""Integration fixtures: moto in this process, resources made from template.yaml, the real
handlers invoked with the sample events of events/."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from local import environments, iam, invoke, provision
from local.stack import Outbox
from optout.core import aws, clock, jobs, settings
from tests.helpers import LINKEDIN, WatchedSite, sample_event

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"integration-test-key-0123").decode()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Sent:
    channel: str
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)  # an email's (From ...)


@dataclass
class Emitted:
    """An event queued for the organisers' own tools (`optout.core.events`), as every endpoint
    is sent it: its id (the ``webhook-id``), the payload's parts, and the payload itself."""

    event_id: str
    type: str
    timestamp: str
    data: dict[str, Any]
    body: str


class Stack:
    """The deployed application, in moto: call routes, drain queues, read what was sent."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        # The harness's own calls are the operator's, even from inside a handler (a race).
        self._aws = iam.enforcer().operator_session()
        self.sqs = self._aws.client("sqs")
        self._outbox = Outbox("eu-west-1")
        self._events: list[Emitted] = []

    def put_secret(self, name: str, value: str) -> None:
        """Store a new value of one of template.yaml's secrets (a logical id), as an operator
        rotating it does; the functions read it at once (on AWS: within their five minutes of
        cache)."""
        self._aws.client("secretsmanager").put_secret_value(
            SecretId=f"optout-test-{name}", SecretString=value
        )
        aws.secrets().clear_cache()

    def call(
        self,
        name: str,
        *,
        path: str | None = None,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Invoke the handler of a route with events/<name>.json, optionally changed; a `body`
        in bytes arrives base64-encoded, as API Gateway passes a body that is not text."""
        event = sample_event(name)
        if path is not None:
            _route, params = invoke.find_route(event["httpMethod"], path)  # type: ignore[misc]
            event["path"] = path
            event["requestContext"]["path"] = "/dev" + path
            event["pathParameters"] = params or None
        if isinstance(body, bytes):
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        elif body is not None:
            event["body"] = body
        if headers is not None:
            event["headers"].update(headers)
        route_found = invoke.find_route(event["httpMethod"], event["path"])
        assert route_found, f"no route for {event['httpMethod']} {event['path']}"
        status, reply_headers, data = invoke.decode_response(
            invoke.invoke(route_found[0].function, event)
        )
        return Reply(status, reply_headers, data.decode("utf-8"))

    def post_webhook(
        self,
        payload: dict[str, Any] | bytes,
        *,
        webhook_id: str = "msg_1",
        timestamp: datetime | None = None,
        secret: str | None = None,
        signature: str | None = None,
    ) -> Reply:
        """POST a policy-change delivery, signed by the reference Standard Webhooks library."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent_at = timestamp or datetime.now(UTC)  # real time, as the sender's clock
        signer = standardwebhooks.Webhook(secret or WEBHOOK_SECRET)
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signer.sign(webhook_id, sent_at, body.decode())
            if signature is None
            else signature,
        }
        return self.call("webhook-policy-changed", body=body.decode(), headers=headers)

    def run_fanout(self) -> dict[str, int]:
        """Run the fan-out worker over every job on the fan-out queue (continuations too)."""
        return self.drain("FANOUT_QUEUE_URL", "FanoutFunction")

    def run_sender(self) -> dict[str, int]:
        """Run the sender over every batch on the send queue."""
        return self.drain("SEND_QUEUE_URL", "SenderFunction")

    def fanout_jobs(self) -> list[dict[str, Any]]:
        """Take every job off the fan-out queue."""
        return self._take(self.env["FANOUT_QUEUE_URL"])

    def send_batches(self) -> list[dict[str, Any]]:
        """Take every packed batch off the send queue (there is no sender yet to consume it)."""
        return self._take(self.env["SEND_QUEUE_URL"])

    def notice_jobs(self) -> list[dict[str, Any]]:
        """The messages waiting on the notice queue (left there)."""
        return self._peek(self.env["NOTICE_QUEUE_URL"])

    def events(self, type: str | None = None) -> list[Emitted]:
        """The events queued for the organisers' tools so far (of one `type`, if given), in the
        order queued: taken off the events queue and kept here, so that each call gives them
        all again, with those queued since."""
        for message in self._take(self.env["EVENTS_QUEUE_URL"]):
            job = jobs.read(jobs.EventJob, message)
            payload = json.loads(job.body)
            assert payload["type"] == job.type and set(payload) == {"type", "timestamp", "data"}
            self._events.append(
                Emitted(job.event_id, job.type, payload["timestamp"], payload["data"], job.body)
            )
        return [event for event in self._events if type in (None, event.type)]

    def drain_notices(self) -> dict[str, Any]:
        """Run the notifier over one batch of the notice queue, as Lambda's SQS poller would."""
        return self._deliver_batch(self.env["NOTICE_QUEUE_URL"], "NotifierFunction")

    def drain(self, queue_env: str, function: str) -> dict[str, int]:
        """Deliver a queue to its function until it is empty; messages processed and failed."""
        totals = {"processed": 0, "failed": 0}
        while True:
            result = self._deliver_batch(self.env[queue_env], function)
            if result.get("received", 0) == 0:
                return totals
            failed = len(result["batchItemFailures"])
            totals["failed"] += failed
            totals["processed"] += result["received"] - failed
            if failed == result["received"]:
                return totals

    def _deliver_batch(self, url: str, function: str) -> dict[str, Any]:
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        messages = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return {"batchItemFailures": [], "received": 0}
        result = invoke.invoke(function, invoke.sqs_event(arn, messages))
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                # As if its visibility timeout had passed: the next drain is the retry.
                self.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return {**result, "received": len(messages)}

    def release_delayed(self, queue_env: str) -> int:
        """Make the messages SQS holds back (DelaySeconds) visible now, as if their delay had
        passed; how many there were. Tests move the clock instead of waiting."""
        name = self.env[queue_env].rsplit("/", 1)[-1]
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].queues[name]
        delayed = [message for message in queue._messages if message.delayed]
        for message in delayed:
            message.delayed_until = 0
        return len(delayed)

    def outbox(self) -> list[Sent]:
        """Every email and SMS the providers accepted, read as the local stack's outbox does."""
        self._outbox.collect(clock.now())
        return [
            Sent(**{field: entry[field] for field in Sent.__annotations__})
            for entry in self._outbox.messages()
        ]

    def items(self, table_env: str) -> list[dict[str, Any]]:
        return self._aws.resource("dynamodb").Table(self.env[table_env]).scan()["Items"]

    def _take(self, url: str) -> list[dict[str, Any]]:
        taken = []
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                taken.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return taken

    def _peek(self, url: str) -> list[dict[str, Any]]:
        jobs = []
        messages = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        for message in messages:
            jobs.append(json.loads(message["Body"]))
        return jobs


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, test_clock: Any) -> Iterator[Stack]:
    with mock_aws():
        env = provision.provision("optout-test", secrets={"WebhookSigningSecret": WEBHOOK_SECRET})
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings.get.cache_clear()
        environments.forget_missing_variables()
        yield Stack(env)
        refused = iam.enforcer().denials()
        assert not refused, "AWS would refuse:\n" + "\n".join(map(str, refused))
        missing = environments.missing_variables()
        assert not missing, "On AWS:\n" + "\n".join(missing)


@pytest.fixture
def campaign(stack: Stack, test_clock: Any) -> None:
    """The LinkedIn campaign, created on 13 October 2025."""
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200


ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef"


@pytest.fixture
def organiser(stack: Stack) -> Organiser:
    """An organiser with the admin token, on the stack."""
    stack.put_secret("AdminTokenSecret", ADMIN_TOKEN)
    return Organiser()


class Organiser:
    """Calls /admin routes as API Gateway would deliver them."""

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str = b"",
        token: str | None = ADMIN_TOKEN,
        headers: dict[str, str] | None = None,
        query: str = "",
    ) -> Reply:
        found = invoke.find_route(method, path)
        assert found, f"no route for {method} {path}"
        route, parameters = found
        sent = {"Accept": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        event = invoke.api_event(
            method,
            path,
            route=route,
            path_parameters=parameters,
            headers=sent,
            query=query,
            body=body.encode() if isinstance(body, str) else body,
        )
        status, reply_headers, data = invoke.decode_response(invoke.invoke(route.function, event))
        return Reply(status, reply_headers, data.decode("utf-8"))

    def sign_in(self) -> str:
        """The dashboard's session cookie, as a browser signed in with the token holds it."""
        reply = self.browse("POST", "/admin/sign-in", body=f"token={ADMIN_TOKEN}")
        return reply.headers["Set-Cookie"].split(";", 1)[0]

    def browse(self, method: str, path: str, *, cookie: str = "", **kwargs: Any) -> Reply:
        """As a browser: HTML wanted, the session cookie instead of a bearer token."""
        headers = {"Accept": "text/html", **kwargs.pop("headers", {})}
        if cookie:
            headers["Cookie"] = cookie
        return self.call(method, path, token=None, headers=headers, **kwargs)


@pytest.fixture
def site() -> Iterator[WatchedSite]:
    """A page a policy watch reads, served on 127.0.0.1; the test changes what it answers."""
    server = WatchedSite()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
