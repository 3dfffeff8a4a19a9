"""Message channels: each sends one rendered message and returns the provider's message id.

Only these modules (and `store`, `queues`) speak to AWS. They raise `PermanentFailure` for a
message that can never be delivered (the reason is recorded) and let throttling and 5xx errors
propagate after boto3's own retries, so the queue redelivers the job.
"""

from __future__ import annotations


class PermanentFailure(Exception):
    """The provider refused this message for good (bad address, opted-out number)."""


class ProviderUnsure(Exception):
    """The provider may or may not have taken the message (a timeout after sending): it must
    not be sent again, and is counted "unknown"."""


class QuotaExhausted(Exception):
    """The account may send no more today: sending must pause, not retry in a loop."""
