"""The parts of SNS message verification that need no certificate: the canonical string SNS
signs, which URLs count as SNS's, and what counts as an SNS message at all. Signatures are
checked end to end in tests/integration/test_feedback_over_http.py."""

from __future__ import annotations

import json

import pytest
import requests
import requests.adapters

from optout.core.errors import InvalidInput
from optout.feedback import sns_http

NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "id-1",
    "TopicArn": "arn:aws:sns:eu-west-1:123456789012:Feedback",
    "Message": '{"notificationType": "Bounce"}\nsecond line',
    "Timestamp": "2025-10-27T09:12:33.000Z",
    "SignatureVersion": "2",
    "Signature": "c2lnbmF0dXJl",
    "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
    "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
}


def test_a_notification_signs_its_fields_in_order_without_a_missing_subject() -> None:
    assert sns_http.canonical_string(NOTIFICATION) == (
        b"Message\n"
        b'{"notificationType": "Bounce"}\nsecond line\n'
        b"MessageId\nid-1\n"
        b"Timestamp\n2025-10-27T09:12:33.000Z\n"
        b"TopicArn\narn:aws:sns:eu-west-1:123456789012:Feedback\n"
        b"Type\nNotification\n"
    )


def test_a_notification_with_a_subject_signs_it_after_the_message_id() -> None:
    canonical = sns_http.canonical_string({**NOTIFICATION, "Subject": "Hello"})
    assert b"MessageId\nid-1\nSubject\nHello\nTimestamp\n" in canonical


def test_a_subscription_confirmation_signs_its_subscribe_url_and_token() -> None:
    confirmation = {
        **NOTIFICATION,
        "Type": "SubscriptionConfirmation",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
        "Token": "tok",
        "Subject": "not signed for this type",
    }
    canonical = sns_http.canonical_string(confirmation)
    assert canonical.endswith(
        b"SubscribeURL\nhttps://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription\n"
        b"Timestamp\n2025-10-27T09:12:33.000Z\nToken\ntok\n"
        b"TopicArn\narn:aws:sns:eu-west-1:123456789012:Feedback\nType\nSubscriptionConfirmation\n"
    )
    assert b"Subject" not in canonical


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem",
        "https://sns.ap-southeast-4.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.il-central-1.amazonaws.com/SimpleNotificationService-1.pem",
    ],
)
def test_sns_urls_of_every_partition_are_accepted(url: str) -> None:
    assert sns_http.sns_url(url, "SigningCertURL") == url


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
        "https://sns.eu-west-1.amazonaws.com@evil.example/x.pem",
        "https://user@sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.eu-west-1.amazonaws.com:444/x.pem",
        "https://s3.eu-west-1.amazonaws.com/x.pem",
        "https://sns.amazonaws.com/x.pem",
        # an S3 bucket named "sns" (anyone's), and other services' hosts (found by an attacker)
        "https://sns.s3.amazonaws.com/x.pem",
        "https://sns.s3-website.amazonaws.com/x.pem",
        "https://sns.execute-api.amazonaws.com/x.pem",
        "https://sns.eu-west.amazonaws.com/x.pem",
        "file:///etc/passwd",
        "",
    ],
)
def test_anything_else_is_refused(url: str) -> None:
    with pytest.raises(sns_http.SnsMessageRefused, match="SigningCertURL"):
        sns_http.sns_url(url, "SigningCertURL")


def test_a_message_missing_signed_fields_names_each_one() -> None:
    fields = {key: value for key, value in NOTIFICATION.items() if key not in ("Signature",)}
    fields["MessageId"] = ""
    with pytest.raises(InvalidInput) as refused:
        sns_http.parse(json.dumps(fields).encode())
    assert set(refused.value.problems) == {"Signature", "MessageId"}


def test_a_subscription_confirmation_needs_its_token_and_url() -> None:
    fields = {**NOTIFICATION, "Type": "SubscriptionConfirmation"}
    with pytest.raises(InvalidInput) as refused:
        sns_http.parse(json.dumps(fields).encode())
    assert set(refused.value.problems) == {"SubscribeURL", "Token"}


def test_a_lone_surrogate_in_a_field_is_refused_before_the_signature_is_checked() -> None:
    # JSON may escape half a UTF-16 pair; such text has no UTF-8 to check a signature over, and
    # was a 500 once the certificate was fetched (found writing tests/fuzz/atheris_targets.py).
    body = json.dumps({**NOTIFICATION, "Message": "STOP\udcff"}).encode()
    with pytest.raises(InvalidInput) as refused:
        sns_http.parse(body)
    assert refused.value.problems == {"Message": "not UTF-8 text"}


def test_a_complete_message_parses_to_its_fields() -> None:
    assert sns_http.parse(json.dumps(NOTIFICATION).encode()) == NOTIFICATION


def test_an_oversized_body_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(sns_http.PayloadTooLarge):
        sns_http.parse(b" " * (sns_http.MAX_BODY_BYTES + 1))


def test_a_certificate_url_that_redirects_is_refused_and_not_followed() -> None:
    # Given SNS's host answering the certificate URL with a redirect to someone else's
    asked: list[str] = []

    class Redirecting(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
            asked.append(request.url)
            answer = requests.Response()
            answer.status_code, answer.url = 302, request.url
            answer.headers["Location"] = "https://attacker.example/key.pem"
            answer.request = request
            return answer

        def close(self) -> None:
            pass

    sns_http.forget_certificates()
    session = sns_http.session()
    session.mount("https://", Redirecting())
    try:
        url = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-r.pem"
        with pytest.raises(sns_http.SnsMessageRefused, match="redirects"):
            sns_http.signing_key(url)
    finally:
        sns_http.session.cache_clear()
        sns_http.forget_certificates()
    # Then only SNS's host was asked
    assert asked == ["https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-r.pem"]
