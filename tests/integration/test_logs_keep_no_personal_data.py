"""What the functions log while a whole campaign runs: never a contact, a link token or a message.

Logs are kept (LogRetentionDays) and read by operators who have no business with subscribers'
addresses; a token in a log is a working link to someone's privacy page. So a campaign is played
end to end through the real handlers, everything they write is captured (Powertools' JSON lines,
anything printed, any other logger), and each thing that must stay out is looked for in it.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.awsrequest import AWSResponse

from optout.core import aws, clock, events, settings
from optout.core.events import EventType
from optout.core.observability import logger as powertools_logger
from optout.events import endpoints
from tests.helpers import BASE, CAMPAIGN, LINKEDIN, active, at, confirm_path, deliver, link, to
from tests.integration.conftest import Organiser, Stack

EMAIL = "Ada.Lovelace@Example.org"  # as typed on the form; stored lower-cased
PHONE = "+1 416 555 0123"  # as typed; stored and texted as E.164


@pytest.fixture
def logged(capfd: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[str]]]:
    """Every line written so far: Powertools' JSON log lines (which go to stdout in Lambda),
    any other logger's records, and anything printed (the metrics' EMF lines)."""
    stream = io.StringIO()
    # The functions' own lines, formatted as their handler formats them for CloudWatch.
    own = logging.StreamHandler(stream)
    own.setFormatter(powertools_logger.registered_formatter)
    # Any other logger's (botocore's, the runtime's), as Lambda's root handler writes them:
    # plainly, and without the functions' records, which Powertools keeps from the root.
    others = logging.StreamHandler(stream)
    others.addFilter(lambda record: not record.name.startswith(powertools_logger.name))
    root = logging.getLogger()
    previous_level = powertools_logger.log_level
    powertools_logger.setLevel("DEBUG")  # what an operator debugging with LogLevel=DEBUG sees
    powertools_logger.addHandler(own)
    root.addHandler(others)
    printed: list[str] = []

    def lines() -> list[str]:
        written = capfd.readouterr()
        printed.extend(written.out.splitlines() + written.err.splitlines())
        return stream.getvalue().splitlines() + printed

    yield lines
    root.removeHandler(others)
    powertools_logger.removeHandler(own)
    powertools_logger.setLevel(previous_level)


def test_a_whole_campaign_logs_no_contact_token_or_message(
    stack: Stack, test_clock, organiser: Organiser, logged: Callable[[], list[str]]
) -> None:
    # Given two people subscribing at 10:00 in Toronto, by email and by text
    test_clock.now = datetime(2025, 10, 13, 14, 0, tzinfo=UTC)
    by_email = {"contact": EMAIL, "region": "DE", "locale": "de", "platforms": ["linkedin"]}
    by_text = {"contact": PHONE, "region": "CA", "locale": "fr-CA", "platforms": ["linkedin"]}
    assert stack.call("subscribe-json", body=json.dumps(by_email)).status == 202
    assert stack.call("subscribe-sms-json", body=json.dumps(by_text)).status == 202
    stack.drain_notices()
    email_address, e164 = EMAIL.lower(), "+14165550123"
    (confirm_email,) = to(stack, email_address)
    (confirm_text,) = to(stack, e164)
    # who confirm
    for message in (confirm_email, confirm_text):
        assert stack.call("confirm-page", path=confirm_path(message.text)).status == 200
        assert stack.call("confirm", path=confirm_path(message.text)).status == 200
    # And an organiser drafting the campaign, the policy monitor's webhook, and the launch
    draft = organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN), query="draft=yes")
    assert draft.status in (200, 201)
    assert stack.post_webhook(LINKEDIN).status == 200
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/launch").status == 200
    # When "one week left" goes out in the EU and in Canada
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    (reminder_email,) = [m for m in to(stack, email_address) if m is not confirm_email][-1:]
    (reminder_text,) = [m for m in to(stack, e164) if m.text != confirm_text.text][-1:]
    # and the person by email opens the setting, says it is switched off, then unsubscribes;
    # the one by text follows the short link, says the same, then texts STOP
    assert stack.call("link-click", path=link(reminder_email.text, "r")).status == 302
    assert stack.call("done-page", path=link(reminder_email.text, "done")).status == 200
    assert stack.call("done", path=link(reminder_email.text, "done")).status == 200
    assert stack.call("privacy-page", path=link(reminder_email.text, "privacy")).status == 200
    unsubscribe = link(reminder_email.text, "unsubscribe")
    assert stack.call("unsubscribe-page", path=unsubscribe).status == 200
    assert stack.call("unsubscribe-one-click", path=unsubscribe).status == 200
    short = link(reminder_text.text, "s")
    found = stack.call("short-link", path=short)
    assert found.status == 302
    assert stack.call("done", path=found.headers["Location"].removeprefix(BASE)).status == 200
    assert deliver("feedback-sms-stop", originationNumber=e164) == {"outcomes": ["stop"]}
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats").status == 200
    sent = stack.outbox()
    # Then something was logged, and none of it names a contact, a link or a message
    lines = logged()
    assert len(lines) > 20
    messages = {json.loads(line).get("message") for line in lines if line.startswith("{")}
    assert {"confirmation sent", "send batch done", "feedback handled"} <= messages
    tokens = {
        match.group(1)
        for message in sent
        for match in re.finditer(
            r"/(?:confirm|r|done|unsubscribe|privacy|s)/([\w.-]{10,})", message.text
        )
    }
    assert len(tokens) == 7  # two confirmations; r, done, unsubscribe, privacy; a short code
    forbidden = {
        EMAIL,
        email_address,
        "ada.lovelace",
        PHONE,
        e164,
        e164[1:],  # digits only
        "4165550123",  # the national number
        "416 555 0123",
        "(416) 555-0123",
        "416-555-0123",
        *tokens,
        # the token's signature alone, in case a log cuts the token up
        *(token.rsplit(".", 1)[-1] for token in tokens if token.count(".") >= 2),
        *(message.subject for message in sent if message.subject),
        # every line of every message sent long enough to be the message's own
        *(
            line.strip()
            for message in sent
            for line in message.text.splitlines()
            if len(line.strip()) >= 30 and not line.strip().startswith(BASE)
        ),
    }
    leaks = [
        f"{needle!r} in: {line[:300]}"
        for line in lines
        for needle in forbidden
        if needle and needle.lower() in line.lower()
    ]
    assert not leaks, "\n".join(leaks[:20])


def test_a_provider_error_naming_the_address_is_logged_without_it(
    stack: Stack, logged: Callable[[], list[str]]
) -> None:
    # Given SES refusing the first confirmation with an error text that names the recipient
    # (as its sandbox and suspension errors do), which the notifier logs with its traceback
    refusals = []

    def refuse_once(**_: object) -> tuple[AWSResponse, dict] | None:
        if refusals:
            return None
        refusals.append(1)
        return AWSResponse("https://ses.invalid", 400, {}, None), {
            "Error": {
                "Code": "AccountSuspendedException",
                "Message": f"Sending to {EMAIL.lower()} is paused for this account",
            },
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    aws.send_client("sesv2").meta.events.register("before-call.sesv2.SendEmail", refuse_once)
    body = {"contact": EMAIL, "region": "DE", "locale": "de", "platforms": ["linkedin"]}
    assert stack.call("subscribe-json", body=json.dumps(body)).status == 202
    # When the notifier fails on it, and the queue's retry then sends it
    assert len(stack.drain_notices()["batchItemFailures"]) == 1
    stack.drain_notices()
    assert [message.to for message in stack.outbox()] == [EMAIL.lower()]
    # Then the failure is in the log, for an operator to see why, without the address
    lines = logged()
    failures = [line for line in lines if "notice failed" in line]
    assert failures and all("AccountSuspendedException" in line for line in failures)
    assert not [line for line in lines if EMAIL.lower() in line.lower()]


def test_an_event_sent_to_the_organisations_crm_with_a_contact_logs_no_contact(
    stack: Stack, logged: Callable[[], list[str]]
) -> None:
    # Given the organisation's CRM, which refuses once (its answer repeating the address) and
    # then takes the event
    answers = [400, 204]

    class Crm(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            status = answers.pop(0) if len(answers) > 1 else answers[0]
            said = f"refused {EMAIL.lower()}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(said)))
            self.end_headers()
            self.wfile.write(said)

        def log_message(self, *_: object) -> None:
            pass

    crm = ThreadingHTTPServer(("127.0.0.1", 0), Crm)
    threading.Thread(target=crm.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{crm.server_address[1]}/in"
        endpoint = endpoints.create(settings.get(), {"url": url, "own_crm": True}, clock.now())
        person = active(EMAIL.lower(), "DE", "de")

        # When a person's confirmation is sent to it, refused, and replayed
        data = {"subscriber_id": person, "channel": "email"}
        event_id = events.emit(settings.get(), EventType.SUBSCRIBER_CONFIRMED, data, clock.now())
        stack.drain("EVENTS_QUEUE_URL", "EventsFunction")
        endpoints.replay(
            settings.get(), endpoint["endpoint_id"], {"event_id": event_id}, clock.now()
        )
        stack.drain("EVENTS_QUEUE_URL", "EventsFunction")
    finally:
        crm.shutdown()
        crm.server_close()

    # Then both attempts are logged, and neither names the person's address
    lines = logged()
    assert [line for line in lines if "event not delivered" in line]
    assert [line for line in lines if "event delivered" in line]
    assert not [line for line in lines if EMAIL.lower() in line.lower()]
