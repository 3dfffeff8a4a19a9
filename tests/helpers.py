"""What tests of several modules share: a complete settings environment, the sample events and
the LinkedIn campaign, subscribers written straight to the table, a campaign played to the end,
the links in what was sent, a Twilio-compatible SMS provider on 127.0.0.1, and a watched page
served on 127.0.0.1.

Test modules import from here, never from one another (tests/unit/test_test_imports.py checks);
the fixtures they share live in a conftest.py.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from local import invoke
from optout.campaigns import schedule
from optout.core import clock, keys, settings
from optout.domain import plan, regions
from optout.domain.models import (
    Audience,
    Campaign,
    CampaignStatus,
    Consent,
    Policy,
    Reminder,
    ReminderState,
    Status,
    Subscriber,
)
from optout.domain.policy import policy_document, policy_from
from optout.store import SubscriberStore

if TYPE_CHECKING:
    from tests.conftest import TestClock
    from tests.integration.conftest import Sent, Stack

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"

# Every setting `optout.core.settings.from_environ` requires, with made-up values.
COMPLETE = {
    "STAGE": "dev",
    "SUBSCRIBERS_TABLE": "s",
    "CAMPAIGNS_TABLE": "c",
    "DELIVERIES_TABLE": "d",
    "NOTICE_QUEUE_URL": "n",
    "FANOUT_QUEUE_URL": "f",
    "SEND_QUEUE_URL": "q",
    "EVENTS_QUEUE_URL": "e",
    "SENDER_ADDRESS": "reminders@example.org",
    "ORGANISATION_NAME": "Org",
    "ORGANISATION_ADDRESS": "1 Street",
    "OPTOUT_TOKEN_SECRET": "t" * 32,
    "OPTOUT_CONTACT_SECRET": "c" * 32,
}


def sample_event(name: str) -> dict[str, Any]:
    """A copy of events/<name>.json."""
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


# -- the LinkedIn campaign and its subscribers ------------------------------------------------

LINKEDIN = json.loads(
    (EVENTS / "payloads/policy-changed.linkedin.json").read_text(encoding="utf-8")
)
CAMPAIGN = "linkedin-genai-2025"  # the campaign LINKEDIN makes


def linkedin(**changes: object) -> dict[str, Any]:
    """A copy of the LinkedIn webhook body with top-level fields changed."""
    payload = copy.deepcopy(LINKEDIN)
    payload.update(changes)
    return payload


def linkedin_campaign(policy: Policy | None = None) -> Campaign:
    """The LinkedIn campaign as the store reads it back (its policy through the same mapping),
    for tests that render its reminders without a table."""
    document = policy_document(policy) if policy else LINKEDIN["policy"]
    return Campaign(
        campaign_id=CAMPAIGN,
        platform="linkedin",
        policy=policy_from({**document, "id": CAMPAIGN}),
        status=CampaignStatus.ACTIVE,
        regions={entry["region"]: entry["effective_at"] for entry in LINKEDIN["regions"]},
        offsets_days=plan.DEFAULT_OFFSETS,
        local_hour=plan.DEFAULT_LOCAL_HOUR,
        base_url="https://optout.example.org",
    )


def planned_reminder(
    region: str,
    days_before: int,
    due_at: str = "2025-10-27T08:00:00Z",
    *,
    campaign_id: str = CAMPAIGN,
    deadline: str = "2025-11-02T23:00:00Z",
    state: ReminderState = ReminderState.PENDING,
) -> Reminder:
    """A reminder of the LinkedIn campaign to one region, as planned."""
    return Reminder(
        campaign_id=campaign_id,
        region=region,
        days_before=days_before,
        kind=plan.kind(days_before),
        due_at=due_at,
        deadline=deadline,
        state=state,
        platform="linkedin",
        audience=Audience(groups=(regions.resolve(region).group,)),
    )


def active(
    contact: str,
    region: str,
    locale: str = "en",
    *,
    timezone: str | None = None,
    status: Status = Status.ACTIVE,
    platforms: tuple[str, ...] = ("linkedin",),
) -> str:
    """Write a subscriber straight to the table, as if they had confirmed; their id.

    By email when `contact` has an @, else by text; in `region`'s default time zone unless
    `timezone` says; asking about LinkedIn unless `platforms` says (empty: every platform).
    `status` writes one who has since left (unsubscribed, suppressed) instead."""
    place = regions.resolve(region)
    channel = "email" if "@" in contact else "sms"
    subscriber_id = keys.contact_id(settings.get(), channel, contact)
    SubscriberStore(settings.get()).put_active(
        Subscriber(
            subscriber_id=subscriber_id,
            channel=channel,
            contact=contact,
            region=place.code,
            home_group=place.group,
            locale=locale,
            timezone=timezone or regions.default_timezone(place),
            platforms=platforms,
            status=status,
            consent=Consent(
                requested_at="2025-10-01T00:00:00Z", form_version="test", source="test"
            ),
            created_at="2025-10-01T00:00:00Z",
        )
    )
    return subscriber_id


def at(stack: Stack, test_clock: TestClock, moment: str) -> dict[str, Any]:
    """Move the clock, tick, and run fan-out and sender to the end; the tick's answer."""
    test_clock.now = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    ticked = schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    return ticked


def to(stack: Stack, address: str) -> list[Sent]:
    """Every message the providers accepted for `address`."""
    return [message for message in stack.outbox() if message.to == address]


# -- links in what was sent -------------------------------------------------------------------

BASE = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"  # the sample events' API
CONFIRM_LINK = re.compile(r"https://[^\s\"<>]+/confirm/([A-Za-z0-9._-]+)")


def link(message_text: str, kind: str) -> str:
    """The path of the first /`kind`/ link of the API in a message or page."""
    found = re.search(rf"{re.escape(BASE)}(/{kind}/[\w.-]+)", message_text)
    assert found, f"no /{kind}/ link in {message_text!r}"
    return found.group(1)


def confirm_path(text: str) -> str:
    """The path of the confirmation link in a confirmation message, whatever its host."""
    found = CONFIRM_LINK.search(text)
    assert found, f"no confirmation link in: {text!r}"
    return f"/confirm/{found.group(1)}"


# -- feedback ---------------------------------------------------------------------------------


def deliver(name: str, **changes: object) -> dict[str, Any]:
    """Run the feedback function on events/<name>.json with its SNS message changed (a
    ``parent__child`` name changes a nested field)."""
    event = sample_event(name)
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    for path, value in changes.items():
        target = message
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return invoke.invoke("FeedbackFunction", event)


# -- a Twilio-compatible SMS provider ---------------------------------------------------------


class FakeProvider(ThreadingHTTPServer):
    """Answers each POST with the next scripted (status, body, delay) and records it (a body in
    bytes is sent as it is, any other as JSON)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProviderHandler)
        self.script: list[tuple[int, dict[str, Any] | bytes, float]] = []
        self.received: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/2010-04-01/Accounts/AC123/Messages.json"

    @contextmanager
    def serving(self) -> Iterator[FakeProvider]:
        """Answer on a thread of its own until the block ends, then close."""
        thread = threading.Thread(target=self.serve_forever)
        thread.start()
        try:
            yield self
        finally:
            self.shutdown()
            self.server_close()
            thread.join()


class _ProviderHandler(BaseHTTPRequestHandler):
    server: FakeProvider

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.received.append({"form": parse_qs(body), "auth": self.headers["Authorization"]})
        status, answer, delay = (
            self.server.script.pop(0) if self.server.script else (201, {"sid": "SM1"}, 0)
        )
        time.sleep(delay)
        payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:  # keep test output quiet
        pass


# -- a watched page, served on 127.0.0.1 (the policy watch's tests) -------------------------

BEFORE = """<html><head><title>Privacy</title><script>var t = "a81f9c2e";</script></head><body>
<nav><a href="/">Home</a> <a href="/help">Help</a></nav>
<h1>Data for Generative AI Improvement</h1>
<p>We use your profile to recommend jobs.</p>
<p>You can download your data at any time.</p>
<p>Last updated: 1 October 2025</p>
</body></html>"""

AFTER = BEFORE.replace(
    "<p>You can download your data at any time.</p>",
    "<p>You can download your data at any time.</p>\n"
    "<p>From 3 November 2025 we use your posts to train generative AI models by default; "
    "you may opt out in your settings.</p>",
)


class WatchedSite(ThreadingHTTPServer):
    """Serves `page` at every path, with `status`; counts the requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Page)
        self.page = BEFORE
        self.status = 200
        self.content_type = "text/html; charset=utf-8"
        self.requests = 0

    def url(self, path: str = "/help/generative-ai") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Page(BaseHTTPRequestHandler):
    server: WatchedSite

    def do_GET(self) -> None:
        self.server.requests += 1
        body = self.server.page.encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", self.server.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass
