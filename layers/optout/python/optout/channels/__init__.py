"""Message channels: each sends one rendered message and returns the provider's message id.

Only these modules (and `store`, `queues`) speak to AWS. What a send raises says what became of
the message, and `optout.sending.send_once` (the claim around every send) acts on exactly that:

- `PermanentFailure`: the provider refused it for good (a bad address, an opted-out number).
- `ProviderUnsure`: the request reached the provider and no answer said "no" (a timeout, a
  dropped connection, a 5xx, an answer that cannot be read): it may have gone out.
- `QuotaExhausted`: refused: the account may send no more today.
- anything else: the provider did not take it (throttling past the retries here, a connection
  never made, any other refusal, a failure before the request left), so sending it again is
  safe. A channel that cannot be sure of that raises `ProviderUnsure` instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as NeverConnected
from botocore.parsers import ResponseParserError

# Answers that mean "not sent, slow down": safe to send again.
THROTTLING = {"TooManyRequestsException", "Throttling", "ThrottlingException", "ThrottledException"}
_BACKOFF_SECONDS = (0.2, 0.5, 1.0)


class PermanentFailure(Exception):
    """The provider refused this message for good (bad address, opted-out number)."""

    def __init__(self, message: str, *, opted_out: bool = False) -> None:
        super().__init__(message)
        self.opted_out = opted_out  # the person told the provider to stop: stop everything


class ProviderUnsure(Exception):
    """The provider may or may not have taken the message (a timeout after sending): it must
    not be sent again, and is counted "unknown"."""


class QuotaExhausted(Exception):
    """The account may send no more today: sending must pause, not retry in a loop."""


def send_once(operation: Callable[..., Any], **request: Any) -> str:
    """Call a provider's send operation (SES's SendEmail, SNS's Publish) so that a message never
    goes out twice; its message id. Throttling (nothing was sent) is retried with backoff; a
    timeout, a dropped connection, a 5xx or an answer without a message id, after the request
    left (it may have been sent), is `ProviderUnsure`; other refusals are for the caller to
    map, and a connection never made propagates (nothing was sent)."""
    for pause in (*_BACKOFF_SECONDS, None):
        try:
            response = operation(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in THROTTLING and pause is not None:
                time.sleep(pause)
                continue
            if status >= 500:
                raise ProviderUnsure(f"{code or status}: the provider may have sent it") from error
            raise
        except NeverConnected:
            raise  # refused, no route, no TLS handshake: the request never left
        except (HTTPClientError, ResponseParserError) as error:
            # A read timeout, a connection closed mid-answer, an answer that cannot be read.
            raise ProviderUnsure(f"no answer from the provider: {error}") from error
        message_id = response.get("MessageId") if isinstance(response, dict) else None
        if not message_id:
            raise ProviderUnsure("the provider answered without a message id")
        return str(message_id)
    raise AssertionError("unreachable")
