"""What the networks report back, in AWS's own formats (events/feedback-*.json): texts sent to
our number, and SES's bounce and complaint notifications."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from local import invoke
from optout.core import clock, settings
from optout.store import CampaignStore
from tests.helpers import CAMPAIGN, LINKEDIN, active, at, deliver, sample_event, to
from tests.integration.conftest import Stack


def record(stack: Stack, contact: str) -> dict:
    (item,) = [item for item in stack.items("SUBSCRIBERS_TABLE") if item["contact"] == contact]
    return item


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        " Stop! ",
        "OPT OUT",
        "opt-out",
        "Arrêt",
        "stopall",
        "Unsubscribe.",
        "QUIT",
        "revoke",
    ],
)
def test_stop_in_any_form_unsubscribes_and_answers_exactly_once(stack: Stack, body: str) -> None:
    active("+14165550123", "CA", "en")
    for _ in range(2):  # SNS delivers at least once
        assert deliver("feedback-sms-stop", messageBody=body) == {"outcomes": ["stop"]}
    assert record(stack, "+14165550123")["status"] == "unsubscribed"
    (reply,) = to(stack, "+14165550123")
    assert "unsubscribed" in reply.text and "START" in reply.text


def test_help_says_who_we_are_and_how_to_stop_and_changes_nothing(stack: Stack) -> None:
    active("+14165550123", "CA", "fr-CA")
    deliver("feedback-sms-stop", messageBody="help")
    (reply,) = to(stack, "+14165550123")
    assert "Data Rights Watch (demo)" in reply.text and "STOP" in reply.text
    assert "reminders@optout.example.org" in reply.text
    assert record(stack, "+14165550123")["status"] == "active"


def test_start_after_stop_subscribes_again_and_is_reached_by_reminders(
    stack: Stack, test_clock
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    active("+14165550123", "CA", "en")
    deliver("feedback-sms-stop", messageBody="STOP")
    deliver("feedback-sms-stop", messageBody="START", inboundMessageId="another-inbound-id")
    assert (
        record(stack, "+14165550123")["status"] == "active"
        and record(stack, "+14165550123")["audience_pk"]
    )
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    assert any("/s/" in message.text for message in to(stack, "+14165550123"))  # a reminder came


@pytest.mark.parametrize(
    "number, body",
    [("+14165550199", "STOP"), ("+14165550123", "Hello, who is this?"), ("+14165550123", "START")],
)
def test_unknown_numbers_other_texts_and_needless_starts_get_no_answer(
    stack: Stack, number: str, body: str
) -> None:
    active("+14165550123", "CA", "en")
    result = deliver("feedback-sms-stop", originationNumber=number, messageBody=body)
    assert result["outcomes"][0].startswith("ignored")
    assert stack.outbox() == [] and record(stack, "+14165550123")["status"] == "active"


def test_a_permanent_bounce_suppresses_and_no_reminder_follows(stack: Stack, test_clock) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    active("lena@example.org", "DE", "de")
    assert deliver("feedback-ses-bounce") == {"outcomes": ["bounced"]}
    assert record(stack, "lena@example.org")["status"] == "suppressed"
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    assert to(stack, "lena@example.org") == []
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["bounced"] == 1


def test_a_transient_bounce_changes_nothing(stack: Stack) -> None:
    active("lena@example.org", "DE", "de")
    assert deliver("feedback-ses-bounce", bounce__bounceType="Transient")["outcomes"] == [
        "ignored: transient bounce"
    ]
    assert record(stack, "lena@example.org")["status"] == "active"


def test_a_complaint_suppresses_even_in_the_event_publishing_format(stack: Stack) -> None:
    active("lena@example.org", "DE", "de")
    event = sample_event("feedback-ses-complaint")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["eventType"] = message.pop("notificationType")  # SES event publishing names it so
    message["unknownFieldFromTheFuture"] = {"ignored": True}
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    assert invoke.invoke("FeedbackFunction", event) == {"outcomes": ["complained"]}
    assert record(stack, "lena@example.org")["status"] == "suppressed"


def test_a_campaign_pauses_when_its_bounces_pass_four_percent(stack: Stack, test_clock) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    CampaignStore(settings.get()).add_stats(CAMPAIGN, "EU", {"sent": 100})
    bounced = [{"emailAddress": f"b{n}@example.org"} for n in range(4)]
    deliver("feedback-ses-bounce", bounce__bouncedRecipients=bounced)
    assert (
        CampaignStore(settings.get()).get_campaign(CAMPAIGN).status == "active"
    )  # 4% is not past 4%
    deliver("feedback-ses-bounce", bounce__bouncedRecipients=[{"emailAddress": "b9@example.org"}])
    campaign = CampaignStore(settings.get()).get_campaign(CAMPAIGN)
    assert campaign.status == "paused" and "bounce rate 5.0%" in campaign.status_reason
    assert clock.now() == test_clock.now


def test_feedback_that_is_not_json_is_ignored(stack: Stack) -> None:
    event = sample_event("feedback-sms-stop")
    event["Records"][0]["Sns"]["Message"] = "not json"
    assert invoke.invoke("FeedbackFunction", event) == {"outcomes": ["ignored: not JSON"]}
