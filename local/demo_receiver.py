"""An endpoint of "the organisers' own tools" that the local stack serves itself, for the demo:
the demo registers it for every event type (`register`), so that `make run` shows events out
at work. It checks each delivery's Standard Webhooks signature with the secret the bot showed
when it was registered, as a receiver's own code would, and keeps what it got in memory;
`GET` lists it, newest last. The demo registers it through the admin API
(`local.demo.register_endpoint`), as an organiser would, and hands it the secret shown.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from optout.core import signatures
from optout.core.clock import iso

PATH = "/_local/demo/events"
KEPT = 200  # the latest deliveries kept: a demo left running for days stays small


class DemoReceiver:
    """What the demo endpoint was sent. Until it has a `secret` it refuses every delivery."""

    def __init__(self) -> None:
        self.secret = ""  # the endpoint's, as the admin API showed it when it was registered
        self._received: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def receive(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        """Check and keep one delivery; the status to answer, and why if refused."""
        if not self.secret:
            return 404, "the demo receiver is not registered (the stack runs without its demo)"
        try:
            keys = signatures.parse_secrets(self.secret)
            # Real time, as the bot stamps deliveries with it.
            event_id = signatures.verify(headers, body, keys, datetime.now(UTC))
        except signatures.WebhookUnauthorized as refused:
            return 401, refused.message
        try:
            event = json.loads(body)
        except ValueError:
            return 400, "the body is not JSON"
        with self._lock:
            self._received.append(
                {"webhook_id": event_id, "received_at": iso(datetime.now(UTC)), "event": event}
            )
            del self._received[:-KEPT]
        return 204, ""

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._received)
