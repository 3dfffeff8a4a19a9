"""The send-once policy (`optout.sending.send_once`, RELIABILITY.md "Sending once"), on each of its three
callers through its handler: a reminder (SenderFunction, a batch from the send queue), a
subscription confirmation (NotifierFunction, a job from the notice queue) and the answer to a
text (FeedbackFunction, a text to our number from SNS, from a subscriber or from a
number that never subscribed). All three go by text, so that one seam,
SNS's Publish, plays every answer a provider gives; each test delivers the same job twice, as
SQS and SNS may, and counts what SNS accepted."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from local import invoke
from optout.campaigns import schedule
from optout.core import clock, settings
from tests.faults.conftest import SNS_5XX, SNS_THROTTLED, Fault, Injector, sns
from tests.helpers import LINKEDIN, active, deliver, to
from tests.integration.conftest import Stack

NUMBER = "+14165550123"  # Toronto
MORNING = datetime(2025, 10, 27, 13, 0, tzinfo=UTC)  # 09:00 in Toronto: no quiet hours
REFUSED = Fault("InvalidParameter", "Invalid parameter: PhoneNumber", 400)
SEND_ATTEMPTS = 4  # channels.send_once: the first try and three after throttling


@dataclass
class Caller:
    """One caller of the send-once path: `prepare` makes one text owed to NUMBER and returns
    what delivers its job once (the handler's errors, as its runtime reports them, returned)."""

    name: str
    prepare: Callable[[Stack, Any], Callable[[], str]]


def _handled(result: dict[str, Any]) -> str:
    return "error" if result.get("batchItemFailures") else "done"


def a_reminder(stack: Stack, test_clock: Any) -> Callable[[], str]:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    active(NUMBER, "CA", "en")
    test_clock.now = MORNING
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    (batch,) = stack.send_batches()
    message = {"MessageId": "batch-1", "ReceiptHandle": "r1", "Body": json.dumps(batch)}
    event = invoke.sqs_event("arn:aws:sqs:eu-west-1:123456789012:SendQueue", [message])
    return lambda: _handled(invoke.invoke("SenderFunction", event))


def a_confirmation(stack: Stack, test_clock: Any) -> Callable[[], str]:
    test_clock.now = MORNING
    assert stack.call("subscribe-sms-json").status == 202
    (job,) = stack.notice_jobs()
    message = {"MessageId": "notice-1", "ReceiptHandle": "r1", "Body": json.dumps(job)}
    event = invoke.sqs_event("arn:aws:sqs:eu-west-1:123456789012:NoticeQueue", [message])
    return lambda: _handled(invoke.invoke("NotifierFunction", event))


def a_reply(stack: Stack, test_clock: Any) -> Callable[[], str]:
    test_clock.now = MORNING
    active(NUMBER, "CA", "en")

    def help_text() -> str:
        try:
            deliver("feedback-sms-stop", originationNumber=NUMBER, messageBody="HELP")
        except Exception:  # Lambda's retry of an SNS delivery, or SNS's of an HTTP one, follows
            return "error"
        return "done"

    return help_text


def a_reply_to_a_number_never_subscribed(stack: Stack, test_clock: Any) -> Callable[[], str]:
    test_clock.now = MORNING

    def stop_text() -> str:
        try:
            deliver("feedback-sms-stop", originationNumber=NUMBER, messageBody="STOP")
        except Exception:
            return "error"
        return "done"

    return stop_text


CALLERS = [
    pytest.param(Caller("reminder", a_reminder), id="reminder"),
    pytest.param(Caller("confirmation", a_confirmation), id="confirmation"),
    pytest.param(Caller("reply", a_reply), id="reply"),
    pytest.param(Caller("stranger", a_reply_to_a_number_never_subscribed), id="stranger"),
]


def claim(stack: Stack) -> dict[str, Any] | None:
    """The one claim of a message to a person in the deliveries table, if there is one."""
    claims = [
        item
        for item in stack.items("DELIVERIES_TABLE")
        if "state" in item and not item["pk"].startswith("webhook#")
    ]
    assert len(claims) <= 1, claims
    return claims[0] if claims else None


def texts(stack: Stack) -> int:
    return len(to(stack, NUMBER))


@pytest.mark.parametrize("caller", CALLERS)
def test_a_message_the_provider_takes_is_recorded_sent_and_never_sent_again(
    stack: Stack, test_clock, caller: Caller
) -> None:
    # Given a text owed, delivered twice
    once = caller.prepare(stack, test_clock)
    assert [once(), once()] == ["done", "done"]
    # Then it went out once, recorded with the provider's message id
    assert texts(stack) == 1
    recorded = claim(stack)
    assert recorded and recorded["state"] == "sent" and recorded["message_id"]


@pytest.mark.parametrize("caller", CALLERS)
def test_a_permanent_refusal_is_recorded_failed_with_its_reason_and_never_retried(
    stack: Stack, test_clock, inject: Injector, caller: Caller
) -> None:
    # Given a provider that refuses the text for good
    once = caller.prepare(stack, test_clock)
    inject.before_call(sns(), "Publish", lambda n: REFUSED if n == 1 else None)
    # When its job is delivered, and again
    assert [once(), once()] == ["done", "done"]
    # Then nothing went out and nobody asked the provider again
    assert texts(stack) == 0 and inject.calls["Publish"] == 1
    recorded = claim(stack)
    assert recorded and recorded["state"] == "failed" and "InvalidParameter" in recorded["reason"]


@pytest.mark.parametrize("caller", CALLERS)
def test_an_answer_that_may_mean_sent_is_recorded_unknown_and_never_resent(
    stack: Stack, test_clock, inject: Injector, caller: Caller
) -> None:
    # Given a provider that answers a 5xx: it may have taken the text
    once = caller.prepare(stack, test_clock)
    inject.before_call(sns(), "Publish", lambda n: SNS_5XX if n == 1 else None)
    # When its job is delivered, and again
    assert [once(), once()] == ["done", "done"]
    # Then the text is never asked for a second time
    assert inject.calls["Publish"] == 1 and texts(stack) == 0
    recorded = claim(stack)
    assert recorded and recorded["state"] == "unknown" and "InternalError" in recorded["reason"]


@pytest.mark.parametrize("caller", CALLERS)
def test_a_text_the_provider_did_not_take_is_released_and_the_retry_sends_it(
    stack: Stack, test_clock, inject: Injector, caller: Caller
) -> None:
    # Given a provider that throttles every try of the first delivery
    once = caller.prepare(stack, test_clock)
    inject.before_call(sns(), "Publish", lambda n: SNS_THROTTLED if n <= SEND_ATTEMPTS else None)
    # When its job is delivered: an error, for the queue or SNS to deliver it again
    assert once() == "error"
    assert claim(stack) is None and texts(stack) == 0  # the claim was given back
    # Then the retry sends it, once
    assert [once(), once()] == ["done", "done"]
    assert texts(stack) == 1
    recorded = claim(stack)
    assert recorded and recorded["state"] == "sent"


@pytest.mark.parametrize("caller", CALLERS)
def test_an_interrupt_after_the_provider_took_the_text_keeps_the_claim_and_never_resends(
    stack: Stack, test_clock, caller: Caller
) -> None:
    # Given a function interrupted (a KeyboardInterrupt, a SystemExit) the moment SNS has
    # accepted the text, before its message id comes back
    once = caller.prepare(stack, test_clock)

    def interrupted(**_: Any) -> None:
        raise KeyboardInterrupt("stopped mid-send")

    sns().meta.events.register("after-call.sns.Publish", interrupted)
    with pytest.raises(KeyboardInterrupt):
        once()
    sns().meta.events.unregister("after-call.sns.Publish", interrupted)
    # Then its claim stays "claimed": nothing says the text did not go out
    recorded = claim(stack)
    assert recorded and recorded["state"] == "claimed"
    # and delivering its job again sends nothing more
    assert once() == "done"
    assert texts(stack) == 1


@pytest.mark.parametrize("word", ["STOP", "START"])
def test_a_keyword_whose_answer_the_provider_did_not_take_is_answered_when_sns_delivers_again(
    stack: Stack, test_clock, inject: Injector, word: str
) -> None:
    # Given someone who texts STOP, or START after a STOP, while the provider throttles
    test_clock.now = MORNING
    active(NUMBER, "CA", "en")
    if word == "START":
        deliver("feedback-sms-stop", messageBody="STOP", inboundMessageId="stop-1")
    answered_before = texts(stack)
    inject.before_call(sns(), "Publish", lambda n: SNS_THROTTLED if n <= SEND_ATTEMPTS else None)
    with pytest.raises(Exception, match="Throttling"):
        deliver("feedback-sms-stop", messageBody=word, inboundMessageId="text-1")
    # When SNS (or Lambda's retry) delivers the text again, twice
    for _ in range(2):
        assert deliver("feedback-sms-stop", messageBody=word, inboundMessageId="text-1") == {
            "outcomes": [word.lower()]
        }
    # Then it is answered, once, and the keyword took effect once
    assert texts(stack) == answered_before + 1
    (person,) = stack.items("SUBSCRIBERS_TABLE")
    assert person["status"] == ("unsubscribed" if word == "STOP" else "active")


@pytest.mark.parametrize("word", ["STOP", "START"])
def test_a_keyword_from_a_number_never_subscribed_is_answered_once_when_sns_delivers_again(
    stack: Stack, test_clock, inject: Injector, word: str
) -> None:
    # Given a number that never subscribed texts STOP, or START after a STOP, while the
    # provider throttles
    test_clock.now = MORNING
    if word == "START":
        deliver("feedback-sms-stop", messageBody="STOP", inboundMessageId="stop-1")
    answered_before = texts(stack)
    inject.before_call(sns(), "Publish", lambda n: SNS_THROTTLED if n <= SEND_ATTEMPTS else None)
    with pytest.raises(Exception, match="Throttling"):
        deliver("feedback-sms-stop", messageBody=word, inboundMessageId="text-1")
    # Then the number is stopped meanwhile: a STOP holds at once, a START not before its answer
    assert [item["status"] for item in stack.items("SUBSCRIBERS_TABLE")] == ["stopped"]
    # When SNS (or Lambda's retry) delivers the text again, twice
    for _ in range(2):
        deliver("feedback-sms-stop", messageBody=word, inboundMessageId="text-1")
    # Then it is answered, once, and the keyword took effect
    assert texts(stack) == answered_before + 1
    statuses = [item["status"] for item in stack.items("SUBSCRIBERS_TABLE")]
    assert statuses == (["stopped"] if word == "STOP" else [])
