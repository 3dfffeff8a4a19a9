"""schemathesis hooks: sign policy-change deliveries as a real policy monitor would.

Without this every generated webhook body would stop at the signature check (401) and its
schema would never be exercised. A case that carries all three Standard Webhooks headers gets
them replaced by a fresh id, the real time (which the webhook checks, whatever the stack's
clock says) and the signature of the exact bytes sent; a case that leaves one out (schemathesis'
missing-header checks) is sent as generated. The secret comes from OPTOUT_WEBHOOK_SECRET, as
the stack under test takes it."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import schemathesis
import standardwebhooks

SIGNED_PATH = "/webhooks/policy-change"
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.path != SIGNED_PATH:
        return
    headers = case.headers or {}
    if not all(name in headers for name in HEADERS) or case.media_type != "application/json":
        return
    try:
        body = json.dumps(case.body, allow_nan=False)
    except (TypeError, ValueError):
        return  # not JSON at all: refused before its signature matters
    message_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    secret = os.environ["OPTOUT_WEBHOOK_SECRET"]
    headers.update(
        {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": standardwebhooks.Webhook(secret).sign(message_id, now, body),
        }
    )
    case.headers = headers
    kwargs["data"] = body.encode("utf-8")  # exactly the bytes signed
