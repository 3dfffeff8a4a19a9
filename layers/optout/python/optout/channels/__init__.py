"""Message channels: each sends one rendered message and returns the provider's message id.

Only these modules (and `store`, `queues`) speak to AWS. They raise `PermanentFailure` for a
message that can never be delivered (the reason is recorded) and let throttling and 5xx errors
propagate after boto3's own retries, so the queue redelivers the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

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


def send_once(operation: Callable[..., Any], **request: Any) -> Any:
    """Call a provider's send operation so that a message never goes out twice: throttling
    (nothing was sent) is retried with backoff; a timeout or a 5xx after the request left
    (it may have been sent) is `ProviderUnsure`; other errors are for the caller to map."""
    for pause in (*_BACKOFF_SECONDS, None):
        try:
            return operation(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in THROTTLING and pause is not None:
                time.sleep(pause)
                continue
            if status >= 500:
                raise ProviderUnsure(f"{code or status}: the provider may have sent it") from error
            raise
        except (ReadTimeoutError, ConnectionClosedError) as error:
            raise ProviderUnsure(f"no answer from the provider: {error}") from error
    raise AssertionError("unreachable")
