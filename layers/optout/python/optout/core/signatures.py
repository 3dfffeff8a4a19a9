"""Standard Webhooks verification (https://www.standardwebhooks.com/).

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` entries over
``<id>.<timestamp>.<raw body>``, keyed by the base64 part of a ``whsec_...`` secret. Several
entries (and several secrets of ours) let either side rotate keys without downtime.

The body is verified exactly as received: never parsed and re-serialised first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from optout.core.errors import OptoutError

TOLERANCE_SECONDS = 5 * 60
_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class WebhookUnauthorized(OptoutError):
    status = 401


def parse_secrets(raw: str) -> list[bytes]:
    """Signing keys from a whitespace-separated list of ``whsec_<base64>`` secrets."""
    keys = []
    for secret in raw.split():
        encoded = secret.removeprefix("whsec_")
        try:
            keys.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("a webhook secret is not whsec_ followed by base64") from None
    if not keys:
        raise ValueError("no webhook secret is configured")
    return keys


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,...`` signature entry of a delivery (used by our CLI and tests as a sender)."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def verify(headers: Mapping[str, str], body: bytes, keys: Sequence[bytes], now: datetime) -> str:
    """Check a delivery; returns its webhook id. Raises `WebhookUnauthorized` saying why.

    `now` is real time, not a test clock: a sender with a true clock must be accepted.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in _HEADERS if not lower.get(name)]
    if missing:
        raise WebhookUnauthorized(f"missing webhook headers: {', '.join(missing)}")
    webhook_id, raw_timestamp = lower["webhook-id"], lower["webhook-timestamp"]
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
        raise WebhookUnauthorized("webhook-timestamp is not Unix seconds")
    timestamp = int(raw_timestamp)
    if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
        raise WebhookUnauthorized("webhook-timestamp is more than 5 minutes from now")
    expected = [sign(key, webhook_id, timestamp, body).encode() for key in keys]
    for entry in lower["webhook-signature"].split():
        version, _, signature = entry.partition(",")
        if version != "v1" or not signature:
            continue  # other schemes (v1a) or malformed entries: not ours to match
        if any(
            hmac.compare_digest(f"v1,{signature}".encode(), candidate) for candidate in expected
        ):
            return webhook_id
    raise WebhookUnauthorized("no webhook signature matches")
