"""Feedback delivered by SNS over HTTP (`POST /feedback/sns`, events/feedback-http-*.json): only
messages SNS signed for an accepted topic are acted on, and they act as SNS->Lambda ones do.

Messages are signed here with a test key; its certificate is served from 127.0.0.1 (see
tests/sns_signing.py), to which every https request of the endpoint is routed and recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from optout.core import settings
from tests.helpers import active, sample_event, to
from tests.integration.conftest import Reply, Stack
from tests.sns_signing import CERT_URL, LocalSns, SnsSigner, local_sns

FEEDBACK_TOPIC = "arn:aws:sns:eu-west-1:123456789012:optout-bot-dev-FeedbackTopic"
INBOUND_SMS_TOPIC = "arn:aws:sns:eu-west-1:123456789012:optout-bot-dev-InboundSmsTopic"
OTHER_TOPIC = "arn:aws:sns:eu-west-1:210987654321:someone-elses-topic"
CERT_PATH = urlsplit(CERT_URL).path
SIGNER = SnsSigner()  # an RSA key takes a moment to make: one for the module


@pytest.fixture
def sns(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSns]:
    monkeypatch.setenv("ACCEPTED_SNS_TOPIC_ARNS", f"{FEEDBACK_TOPIC}, {INBOUND_SMS_TOPIC}")
    settings.get.cache_clear()
    with local_sns(SIGNER) as server:
        yield server


def message(name: str, **changes: Any) -> dict[str, Any]:
    """The SNS message in events/<name>.json, sent now, with `changes`."""
    fields = json.loads(sample_event(name)["body"])
    fields["Timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    return {**fields, **changes}


def post(stack: Stack, name: str, fields: dict[str, Any]) -> Reply:
    return stack.call(name, body=json.dumps(fields))


def signed(name: str, version: str = "2", **changes: Any) -> dict[str, Any]:
    return SIGNER.sign(message(name, **changes), version)


def status_of(stack: Stack, contact: str) -> str:
    (item,) = [item for item in stack.items("SUBSCRIBERS_TABLE") if item["contact"] == contact]
    return str(item["status"])


# ---------------------------------------------------------------- what is accepted


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_bounce_suppresses_the_address(stack: Stack, sns: LocalSns, version: str) -> None:
    # Given an active subscriber whose address bounces
    active("lena@example.org", "DE", "de")
    # When SNS delivers SES's bounce over HTTP, signed with SHA1 (v1) or SHA256 (v2)
    reply = post(stack, "feedback-http-ses-bounce", signed("feedback-http-ses-bounce", version))
    # Then the address is suppressed, as when SNS invokes the feedback function
    assert (reply.status, reply.json()) == (200, {"outcome": "bounced"})
    assert status_of(stack, "lena@example.org") == "suppressed"
    assert sns.requests == [CERT_PATH]


def test_a_signed_stop_text_unsubscribes_and_answers_once(stack: Stack, sns: LocalSns) -> None:
    active("+14165550123", "CA", "en")
    for _ in range(2):  # SNS delivers at least once
        reply = post(stack, "feedback-http-sms-stop", signed("feedback-http-sms-stop"))
        assert (reply.status, reply.json()) == (200, {"outcome": "stop"})
    assert status_of(stack, "+14165550123") == "unsubscribed"
    (answer,) = to(stack, "+14165550123")
    assert "START" in answer.text
    # The certificate is fetched once for its URL
    assert sns.requests == [CERT_PATH]


def test_a_notification_with_a_subject_is_verified_with_it(stack: Stack, sns: LocalSns) -> None:
    active("lena@example.org", "DE", "de")
    fields = signed("feedback-http-ses-bounce", Subject="Amazon SES Email Event Notification")
    assert post(stack, "feedback-http-ses-bounce", fields).status == 200
    fields = signed("feedback-http-ses-bounce", Subject="signed")
    fields["Subject"] = "changed after signing"
    assert post(stack, "feedback-http-ses-bounce", fields).status == 403


def test_a_subscription_confirmation_is_confirmed_at_its_sns_url(
    stack: Stack, sns: LocalSns
) -> None:
    # When SNS asks this endpoint to confirm a subscription to an accepted topic
    fields = signed("feedback-http-subscription-confirmation")
    reply = post(stack, "feedback-http-subscription-confirmation", fields)
    # Then the endpoint visits the SubscribeURL, after checking the signature
    assert (reply.status, reply.json()) == (200, {"outcome": "subscription confirmed"})
    assert sns.requests[0] == CERT_PATH
    assert sns.requests[1].startswith("/?Action=ConfirmSubscription&TopicArn=" + FEEDBACK_TOPIC)
    assert sns.requests[1].endswith("&Token=" + fields["Token"])


# ---------------------------------------------------------------- what is refused


def assert_refused(reply: Reply, status: int, stack: Stack, contact: str) -> None:
    assert reply.status == status
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["message"]
    assert status_of(stack, contact) == "active" and to(stack, contact) == []


def test_a_forged_signature_is_refused_and_changes_nothing(stack: Stack, sns: LocalSns) -> None:
    active("lena@example.org", "DE", "de")
    forged = SnsSigner().sign(message("feedback-http-ses-bounce"))  # another key, same cert URL
    reply = post(stack, "feedback-http-ses-bounce", forged)
    assert_refused(reply, 403, stack, "lena@example.org")
    assert reply.json()["error"] == "SnsMessageRefused"


def test_a_message_changed_after_signing_is_refused(stack: Stack, sns: LocalSns) -> None:
    active("lena@example.org", "DE", "de")
    active("ada@example.org", "DE", "de")
    fields = signed("feedback-http-ses-bounce")
    fields["Message"] = fields["Message"].replace("lena@example.org", "ada@example.org")
    reply = post(stack, "feedback-http-ses-bounce", fields)
    assert_refused(reply, 403, stack, "ada@example.org")
    assert status_of(stack, "lena@example.org") == "active"


def test_a_lone_surrogate_in_a_signed_message_is_a_400_not_a_500(
    stack: Stack, sns: LocalSns
) -> None:
    # JSON may escape half a UTF-16 pair: such a field has no UTF-8 bytes to check a
    # signature over (found writing tests/fuzz/atheris_targets.py::sns_message).
    active("lena@example.org", "DE", "de")
    fields = signed("feedback-http-ses-bounce")
    fields["Message"] += "\udcff"
    reply = post(stack, "feedback-http-ses-bounce", fields)
    assert_refused(reply, 400, stack, "lena@example.org")
    assert reply.json()["problems"] == {"Message": "not UTF-8 text"}


def test_a_topic_not_accepted_is_refused_before_any_request(stack: Stack, sns: LocalSns) -> None:
    active("lena@example.org", "DE", "de")
    fields = signed("feedback-http-ses-bounce", TopicArn=OTHER_TOPIC)  # validly signed by "SNS"
    reply = post(stack, "feedback-http-ses-bounce", fields)
    assert_refused(reply, 403, stack, "lena@example.org")
    assert "topic" in reply.json()["message"]
    assert sns.requests == []


@pytest.mark.parametrize(
    "certificate_url",
    [
        CERT_URL.replace("https://", "http://"),
        "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-test.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem",
        "https://sns.eu-west-1.amazonaws.com@evil.example/SimpleNotificationService-test.pem",
        "https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-test.pem",
        "https://evil-sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem",
    ],
)
def test_a_certificate_url_off_sns_is_refused_without_fetching_it(
    stack: Stack, sns: LocalSns, certificate_url: str
) -> None:
    active("lena@example.org", "DE", "de")
    fields = signed("feedback-http-ses-bounce", SigningCertURL=certificate_url)
    reply = post(stack, "feedback-http-ses-bounce", fields)
    assert_refused(reply, 403, stack, "lena@example.org")
    assert "SigningCertURL" in reply.json()["message"]
    assert sns.requests == []


def test_a_certificate_url_where_sns_has_none_is_refused(stack: Stack, sns: LocalSns) -> None:
    active("lena@example.org", "DE", "de")
    url = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-missing.pem"
    reply = post(
        stack, "feedback-http-ses-bounce", signed("feedback-http-ses-bounce", SigningCertURL=url)
    )
    assert_refused(reply, 403, stack, "lena@example.org")
    assert sns.requests == ["/SimpleNotificationService-missing.pem"]


def test_when_sns_cannot_be_reached_the_answer_asks_sns_to_retry(
    stack: Stack, sns: LocalSns
) -> None:
    # Given SNS's certificate host does not answer
    active("lena@example.org", "DE", "de")
    sns.shutdown()
    sns.server_close()
    # When a message arrives
    reply = post(stack, "feedback-http-ses-bounce", signed("feedback-http-ses-bounce"))
    # Then the endpoint answers 503 (SNS delivers it again later) and changes nothing
    assert_refused(reply, 503, stack, "lena@example.org")
    assert reply.json()["error"] == "SnsUnreachable"


def test_a_confirmation_whose_subscribe_url_is_off_sns_is_not_visited(
    stack: Stack, sns: LocalSns
) -> None:
    fields = signed(
        "feedback-http-subscription-confirmation",
        SubscribeURL="https://evil.example/?Action=ConfirmSubscription",
    )
    reply = post(stack, "feedback-http-subscription-confirmation", fields)
    assert reply.status == 403 and "SubscribeURL" in reply.json()["message"]
    assert sns.requests == [CERT_PATH]


def test_a_replay_older_than_any_sns_retry_is_refused(stack: Stack, sns: LocalSns) -> None:
    active("+14165550123", "CA", "en")
    sent_at = datetime.now(UTC) - timedelta(hours=2)
    fields = signed("feedback-http-sms-stop", Timestamp=sent_at.isoformat(timespec="milliseconds"))
    reply = post(stack, "feedback-http-sms-stop", fields)
    assert_refused(reply, 403, stack, "+14165550123")
    assert "Timestamp" in reply.json()["message"]


def test_an_unknown_signature_version_is_refused(stack: Stack, sns: LocalSns) -> None:
    active("lena@example.org", "DE", "de")
    reply = post(stack, "feedback-http-ses-bounce", signed("feedback-http-ses-bounce", "3"))
    assert_refused(reply, 403, stack, "lena@example.org")
    assert sns.requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ("[1, 2]", "body"),
        ('{"Type": "Advertisement"}', "Type"),
        # A Type that cannot be a dict key was a 500 (found by atheris, `sns_message`).
        ('{"Type": {"Type": "Notification"}, "Trn": "r"}', "Type"),
        ('{"Type": ["Notification"]}', "Type"),
        ('{"Type": "Notification", "Message": "{}"}', "Signature"),
    ],
)
def test_what_is_not_an_sns_message_is_a_400_naming_the_problem(
    stack: Stack, sns: LocalSns, body: str, field: str
) -> None:
    reply = stack.call("feedback-http-ses-bounce", body=body)
    assert reply.status == 400
    assert field in reply.json()["problems"]
    assert sns.requests == []


def test_without_accepted_topics_every_message_is_refused(
    stack: Stack, sns: LocalSns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACCEPTED_SNS_TOPIC_ARNS")
    settings.get.cache_clear()
    active("lena@example.org", "DE", "de")
    reply = post(stack, "feedback-http-ses-bounce", signed("feedback-http-ses-bounce"))
    assert_refused(reply, 403, stack, "lena@example.org")
