"""The parsers alone, over arbitrary input: each answers with its result or its own refusal,
never another exception."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from optout.core import signatures, tokens
from optout.core.errors import InvalidInput, PayloadTooLarge, TokenError
from optout.domain import policy
from optout.feedback.inbound import keyword
from tests.fuzz.hostile import PATHS, hostile_text, json_values
from tests.helpers import LINKEDIN

KEYS = signatures.parse_secrets("whsec_" + base64.b64encode(b"fuzz-key-0123456789abcd").decode())
NOW = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)
KEYRING = tokens.Keyring("k1", {"k1": b"0123456789abcdef0123456789abcdef"})

header_values = st.one_of(st.text(max_size=200), hostile_text(), st.just(""))


@given(
    headers=st.dictionaries(
        st.sampled_from(
            ["webhook-id", "webhook-timestamp", "webhook-signature", "Webhook-Id", "x"]
        ),
        header_values,
    ),
    body=st.binary(max_size=300),
)
def test_the_webhook_verifier_refuses_anything_unsigned_with_a_401(headers, body) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(signatures.WebhookUnauthorized) as refused:
        signatures.verify(headers, body, KEYS, NOW)
    assert refused.value.status == 401


@given(
    webhook_id=st.text(min_size=1, max_size=40).filter(lambda t: t.strip() == t and t),
    body=st.binary(max_size=300),
    other=st.binary(max_size=300),
    skew=st.integers(-300, 300),
)
def test_a_signature_holds_for_its_own_body_only(webhook_id, body, other, skew) -> None:  # type: ignore[no-untyped-def]
    assume(body != other)
    timestamp = int(NOW.timestamp()) + skew
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures.sign(KEYS[0], webhook_id, timestamp, body),
    }
    assert signatures.verify(headers, body, KEYS, NOW) == webhook_id
    with pytest.raises(signatures.WebhookUnauthorized):
        signatures.verify(headers, other, KEYS, NOW)


def _parse(body: bytes) -> policy.PolicyChange | None:
    try:
        return policy.parse(body)
    except (InvalidInput, PayloadTooLarge) as refused:
        assert refused.status in (400, 413)
        return None


@given(body=st.binary(max_size=2000))
def test_the_payload_parser_takes_any_bytes(body: bytes) -> None:
    _parse(body)


@given(document=json_values)
def test_the_payload_parser_takes_any_json(document) -> None:  # type: ignore[no-untyped-def]
    _parse(json.dumps(document).encode())


@given(path=st.sampled_from(PATHS), value=json_values)
def test_the_payload_parser_takes_the_linkedin_body_with_any_field_changed(path, value) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(json.dumps(LINKEDIN))
    target = document
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    change = _parse(json.dumps(document).encode())
    if change is not None:  # accepted: then its one-line fields are one line
        for text in (change.policy.text, *change.policy.translations.values()):
            assert "\r" not in text.title and "\n" not in text.title
            assert "\r" not in text.short_title and "\n" not in text.short_title


@given(
    token=st.one_of(st.text(max_size=450), hostile_text(450)),
    purpose=st.sampled_from(tokens.Purpose),
)
def test_the_token_parser_refuses_anything_it_did_not_sign(token: str, purpose) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TokenError):
        tokens.verify(KEYRING, token, purpose, NOW)


@given(
    parts=st.lists(st.from_regex(r"\A[A-Za-z0-9_-]{1,20}\Z"), min_size=1, max_size=4),
    purpose=st.sampled_from(tokens.Purpose),
    position=st.integers(0, 400),
    change=st.text(min_size=1, max_size=3),
)
def test_a_token_changed_anywhere_is_refused(parts, purpose, position, change) -> None:  # type: ignore[no-untyped-def]
    token = tokens.mint(KEYRING, purpose, parts, NOW + timedelta(days=1))
    assert tokens.verify(KEYRING, token, purpose, NOW) == tuple(parts)
    position %= len(token)
    changed = token[:position] + change + token[position + 1 :]
    assume(changed != token)
    with pytest.raises(TokenError):
        tokens.verify(KEYRING, changed, purpose, NOW)


@given(body=st.one_of(st.text(max_size=200), hostile_text()))
def test_an_sms_body_reduces_to_a_keyword_without_error(body: str) -> None:
    assert keyword(body).isascii() and keyword(body).isupper() | (keyword(body) == "")
