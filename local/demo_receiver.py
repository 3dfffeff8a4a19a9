"""An endpoint of "the organisers' own tools" that the local stack serves itself, for the demo:
the demo registers it for every event type (`register`), so that `make run` shows events out
at work. It checks each delivery's Standard Webhooks signature with the secret the bot showed
when it was registered, as a receiver's own code would, and keeps what it got in memory;
`GET` lists it, newest last.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from optout.core import signatures
from optout.core.clock import iso
from optout.core.settings import Settings
from optout.events import endpoints

PATH = "/_local/demo/events"
KEPT = 200  # the latest deliveries kept: a demo left running for days stays small


class DemoReceiver:
    """What the demo endpoint was sent. Until `register` is called it refuses every delivery."""

    def __init__(self) -> None:
        self._secret = ""
        self._received: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def register(self, settings: Settings, base_url: str, now: datetime) -> str:
        """Register this receiver at `base_url` + PATH as an endpoint for every event; its id."""
        created = endpoints.create(
            settings,
            {"url": base_url + PATH, "description": "the local stack's demo receiver"},
            now,
        )
        self._secret = str(created["secret"])
        return str(created["endpoint_id"])

    def receive(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        """Check and keep one delivery; the status to answer, and why if refused."""
        if not self._secret:
            return 404, "the demo receiver is not registered (the stack runs without its demo)"
        try:
            keys = signatures.parse_secrets(self._secret)
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
