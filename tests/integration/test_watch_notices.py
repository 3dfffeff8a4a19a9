"""A change told, seen from who is told: the organisers' inbox, and an ally's endpoint (a server
started here on 127.0.0.1 that checks each event's signature with the Standard Webhooks
reference library)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import standardwebhooks

from local import invoke
from optout.core import settings
from optout.core.jobs import ForwardJob
from optout.domain.watches import PAGE, Ally, Source, Watch
from optout.store import WatchStore
from optout.watching import notices
from tests.helpers import AFTER, WatchedSite, sample_event
from tests.integration.conftest import Stack

ALLY_SECRET = "whsec_" + "YWxseS1zZWNyZXQtZm9yLXRlc3RzLTAxMjM0NTY3"


class AllyEndpoint(ThreadingHTTPServer):
    """An ally's endpoint: answers `status`, keeps what it verified."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.status = 204
        self.events: list[dict[str, Any]] = []
        self.refused: list[str] = []

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/optout-events"


class _Receive(BaseHTTPRequestHandler):
    server: AllyEndpoint

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            verified = standardwebhooks.Webhook(ALLY_SECRET).verify(raw, dict(self.headers))
        except standardwebhooks.WebhookVerificationError as error:
            self.server.refused.append(str(error))
            self.send_response(401)
        else:
            self.server.events.append({"id": self.headers["webhook-id"], **verified})
            self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def ally() -> Iterator[AllyEndpoint]:
    server = AllyEndpoint()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def organisers(monkeypatch: pytest.MonkeyPatch, stack: Stack) -> str:
    monkeypatch.setenv("ORGANISERS_ADDRESS", "organisers@example.org")
    settings.get.cache_clear()
    return "organisers@example.org"


def _change(stack: Stack, test_clock: Any, site: WatchedSite, ally: AllyEndpoint) -> str:
    WatchStore(settings.get()).create(
        Watch(
            watch_id="linkedin-generative-ai",
            platform="linkedin",
            title="LinkedIn: Data for Generative AI Improvement",
            source=Source(PAGE, url=site.url()),
            allies=(Ally(ally.url(), ALLY_SECRET),),
        )
    )
    invoke.invoke("WatcherFunction", invoke.scheduled_event(test_clock.now))
    site.page = AFTER
    test_clock.advance(hours=1)
    assert invoke.invoke("WatcherFunction", invoke.scheduled_event(test_clock.now)) == {
        "changed": 1
    }
    [change] = WatchStore(settings.get()).changes()
    return change.change_id


def test_the_organisers_are_emailed_and_the_ally_gets_a_signed_event(
    stack: Stack,
    test_clock: Any,
    site: WatchedSite,
    ally: AllyEndpoint,
    organisers: str,
) -> None:
    change_id = _change(stack, test_clock, site, ally)
    stack.drain("NOTICE_QUEUE_URL", "NotifierFunction")

    [mail] = [sent for sent in stack.outbox() if sent.to == organisers]
    assert "LinkedIn" in mail.subject
    assert "train generative AI models by default" in mail.text
    assert f"/admin/changes/{change_id}" in mail.text

    [event] = ally.events
    assert ally.refused == []
    assert event["id"] == change_id
    assert event["type"] == "policy.change_detected"
    assert event["data"]["platform"] == "linkedin"
    assert any("train generative AI" in sentence for sentence in event["data"]["added"])

    # Told once: the jobs run again (SQS delivers at least once) send nothing more.
    for kind in ("change-notice", "change-forward"):
        job = {"kind": kind, "change_id": change_id, "ally": 0}
        invoke.invoke("NotifierFunction", invoke.sqs_event(_notice_arn(stack), [_message(job)]))
    assert len([sent for sent in stack.outbox() if sent.to == organisers]) == 1
    assert len(ally.events) == 1


def test_an_ally_that_fails_is_retried_later_then_reported_on_the_watch(
    stack: Stack,
    test_clock: Any,
    site: WatchedSite,
    ally: AllyEndpoint,
) -> None:
    change_id = _change(stack, test_clock, site, ally)
    ally.status = 503
    stack.drain("NOTICE_QUEUE_URL", "NotifierFunction")
    # Not lost: queued again, delayed, with its attempt counted.
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=stack.env["NOTICE_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    watch = WatchStore(settings.get()).get("linkedin-generative-ai")
    assert watch is not None and watch.allies[0].problem == ""

    # An answer that will not change (the ally's endpoint is gone) is reported at once.
    ally.status = 410
    job = {"kind": "change-forward", "change_id": change_id, "ally": 0, "attempt": 1}
    invoke.invoke("NotifierFunction", invoke.sqs_event(_notice_arn(stack), [_message(job)]))
    watch = WatchStore(settings.get()).get("linkedin-generative-ai")
    assert watch is not None and "410" in watch.allies[0].problem

    # Once it answers again, the problem is cleared.
    ally.status = 200
    job["attempt"] = 2
    invoke.invoke("NotifierFunction", invoke.sqs_event(_notice_arn(stack), [_message(job)]))
    watch = WatchStore(settings.get()).get("linkedin-generative-ai")
    assert watch is not None and watch.allies[0].problem == ""
    assert len(ally.events) == 3  # the 503 and the 410 were received too, and refused by status


def _notice_arn(stack: Stack) -> str:
    return str(
        stack.sqs.get_queue_attributes(
            QueueUrl=stack.env["NOTICE_QUEUE_URL"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
    )


def _message(job: dict[str, Any]) -> dict[str, Any]:
    """The notifier's SQS message of events/notice-change-forward.json, carrying `job`."""
    record = sample_event("notice-change-forward")["Records"][0]
    return {
        "MessageId": f"m-{job['kind']}-{job.get('attempt', 0)}",
        "ReceiptHandle": record["receiptHandle"],
        "Body": json.dumps(job),
        "Attributes": record["attributes"],
    }


def test_the_sample_events_read_and_a_change_no_longer_kept_sends_nothing(
    stack: Stack, organisers: str
) -> None:
    for name in ("notice-change", "notice-change-forward"):
        result = invoke.invoke("NotifierFunction", sample_event(name))
        assert result == {"batchItemFailures": []}
    assert stack.outbox() == []


def test_with_too_little_time_left_an_event_goes_back_on_the_queue_untried(
    stack: Stack,
    test_clock: Any,
    site: WatchedSite,
    ally: AllyEndpoint,
) -> None:
    change_id = _change(stack, test_clock, site, ally)
    stack.notice_jobs()  # the watcher's own job, left on the queue
    job = ForwardJob(change_id=change_id, ally=0, attempt=3)

    outcome = notices.forward_change(settings.get(), job, test_clock.now, time_left=20.0)

    assert outcome.startswith("queued again")
    assert ally.events == []
    waiting = [j for j in stack.notice_jobs() if j["kind"] == "change-forward"]
    assert {
        "change_id": change_id,
        "ally": 0,
        "attempt": 3,
        "kind": "change-forward",
        "url": "",
    } in waiting


def test_an_event_queued_for_an_ally_removed_since_reaches_no_other(
    stack: Stack,
    test_clock: Any,
    site: WatchedSite,
    ally: AllyEndpoint,
) -> None:
    change_id = _change(stack, test_clock, site, ally)
    queued = [job for job in stack.notice_jobs() if job["kind"] == "change-forward"]
    assert queued == [
        {
            "kind": "change-forward",
            "change_id": change_id,
            "ally": 0,
            "attempt": 0,
            "url": ally.url(),
        }
    ]
    # The ally is removed, another added in its place, before the job runs.
    store = WatchStore(settings.get())
    watch = store.get("linkedin-generative-ai")
    assert watch is not None
    newcomer = Ally("http://127.0.0.1:9/newcomer", ALLY_SECRET)
    assert store.edit(watch, dataclasses.replace(watch, allies=(newcomer,)))

    job = ForwardJob(change_id=change_id, ally=0, url=ally.url())
    outcome = notices.forward_change(settings.get(), job, test_clock.now)

    assert outcome.startswith("skipped")
    assert ally.events == []
