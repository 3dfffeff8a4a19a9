"""Our verifier accepts what the reference Standard Webhooks library signs, and nothing else."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks

from optout.core.signatures import WebhookUnauthorized, parse_secrets, verify

SECRET = "whsec_" + base64.b64encode(b"a-test-key-of-24-bytes!!").decode()
OTHER = "whsec_" + base64.b64encode(b"another-key-of-24-bytes!").decode()
NOW = datetime.now(UTC).replace(microsecond=0)
BODY = b'{"type": "policy.changed",  "platform": "linkedin"}'


def signed(
    body: bytes = BODY, secret: str = SECRET, at: datetime = NOW, webhook_id: str = "msg_1"
) -> dict[str, str]:
    signature = standardwebhooks.Webhook(secret).sign(webhook_id, at, body.decode())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def test_a_delivery_signed_by_the_reference_library_is_accepted() -> None:
    assert verify(signed(), BODY, parse_secrets(SECRET), NOW) == "msg_1"


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in signed().items()}
    assert verify(headers, BODY, parse_secrets(SECRET), NOW) == "msg_1"


def test_any_of_several_signatures_may_match_while_keys_rotate() -> None:
    ours = signed(secret=SECRET)["webhook-signature"]
    theirs = signed(secret=OTHER)["webhook-signature"]
    headers = {**signed(), "webhook-signature": f"{theirs} v1a,ignored {ours}"}
    assert verify(headers, BODY, parse_secrets(SECRET), NOW) == "msg_1"
    # and we may hold two secrets of our own during our rotation
    assert verify(signed(secret=OTHER), BODY, parse_secrets(f"{SECRET} {OTHER}"), NOW) == "msg_1"


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({"webhook-id": "msg_1"}, "missing webhook headers: webhook-timestamp, webhook-signature"),
        ({**signed(), "webhook-timestamp": "soon"}, "not Unix seconds"),
        ({**signed(), "webhook-timestamp": "²"}, "not Unix seconds"),  # a digit to isdigit()
        (signed(at=NOW - timedelta(minutes=6)), "more than 5 minutes"),
        (signed(at=NOW + timedelta(minutes=6)), "more than 5 minutes"),
        (signed(secret=OTHER), "no webhook signature matches"),
        ({**signed(), "webhook-signature": "v1,"}, "no webhook signature matches"),
        ({**signed(), "webhook-signature": "garbage"}, "no webhook signature matches"),
        (
            {**signed(), "webhook-signature": "v1,!!!not-base64!!! v1,é"},
            "no webhook signature matches",
        ),
        ({**signed(), "webhook-id": "msg_2"}, "no webhook signature matches"),
    ],
)
def test_forged_stale_or_malformed_deliveries_are_refused_with_a_reason(
    headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(WebhookUnauthorized, match=reason) as caught:
        verify(headers, BODY, parse_secrets(SECRET), NOW)
    assert caught.value.status == 401


def test_the_signature_covers_the_raw_body_byte_for_byte() -> None:
    reserialised = b'{"type": "policy.changed", "platform": "linkedin"}'  # one space less
    with pytest.raises(WebhookUnauthorized):
        verify(signed(), reserialised, parse_secrets(SECRET), NOW)


def test_secrets_must_be_whsec_base64() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        parse_secrets("whsec_not base64!")
    with pytest.raises(ValueError, match="no webhook secret"):
        parse_secrets("   ")
