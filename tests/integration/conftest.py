"""Integration fixtures: moto in this process, resources made from template.yaml, the real
handlers invoked with the sample events of events/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import invoke, provision
from local.stack import Outbox
from optout import clock, settings

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample_event(name: str) -> dict[str, Any]:
    """A copy of events/<name>.json."""
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


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


class Stack:
    """The deployed application, in moto: call routes, drain queues, read what was sent."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.sqs = boto3.client("sqs")
        self._outbox = Outbox("eu-west-1")

    def call(
        self,
        name: str,
        *,
        path: str | None = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Invoke the handler of a route with events/<name>.json, optionally changed."""
        event = sample_event(name)
        if path is not None:
            _route, params = invoke.find_route(event["httpMethod"], path)  # type: ignore[misc]
            event["path"] = path
            event["requestContext"]["path"] = "/dev" + path
            event["pathParameters"] = params or None
        if body is not None:
            event["body"] = body
        if headers is not None:
            event["headers"].update(headers)
        route_found = invoke.find_route(event["httpMethod"], event["path"])
        assert route_found, f"no route for {event['httpMethod']} {event['path']}"
        status, reply_headers, data = invoke.decode_response(
            invoke.invoke(route_found[0].function, event)
        )
        return Reply(status, reply_headers, data.decode("utf-8"))

    def notice_jobs(self) -> list[dict[str, Any]]:
        """The messages waiting on the notice queue (left there)."""
        return self._peek(self.env["NOTICE_QUEUE_URL"])

    def drain_notices(self) -> dict[str, Any]:
        """Run the notifier over everything on the notice queue, as Lambda's SQS poller would."""
        url = self.env["NOTICE_QUEUE_URL"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        messages = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return {"batchItemFailures": []}
        result = invoke.invoke("NotifierFunction", invoke.sqs_event(arn, messages))
        failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                # As if its visibility timeout had passed: the next drain is the retry.
                self.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return result

    def outbox(self) -> list[Sent]:
        """Every email and SMS the providers accepted, read as the local stack's outbox does."""
        self._outbox.collect(clock.now())
        return [
            Sent(**{field: entry[field] for field in Sent.__annotations__})
            for entry in self._outbox.messages()
        ]

    def items(self, table_env: str) -> list[dict[str, Any]]:
        return boto3.resource("dynamodb").Table(self.env[table_env]).scan()["Items"]

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
        env = provision.provision(prefix="optout-test")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings.get.cache_clear()
        yield Stack(env)
