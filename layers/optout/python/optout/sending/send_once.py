"""The one send-once path: claim, send, then record or release.

Every message to a person goes through `deliver`: a reminder (`sender`), a subscription
confirmation (`confirmations`), the answer to a STOP, HELP or START text (`inbound`). One policy,
here and in RELIABILITY.md ("Sending once"):

1. Claim: a conditional write of the message's key in the deliveries table, before anything is
   sent. A claim that exists already means nothing is sent: `DUPLICATE` if it was recorded
   sent or failed; `IN_DOUBT` if it is "claimed" or "unknown" (a crash or a kill after the
   send, a provider that may have taken it, or another delivery of the same job still at
   work): it may have gone out, so it is never sent again. A reminder's claim also checks that
   the subscriber is still reached (`LEFT` if not), and counts it against the cap across
   campaigns (`CHANGED` if their count changed since it was read: the caller decides again).
2. Send, and act on what the channel says (`optout.channels` defines it):
   - a message id: recorded "sent" (at once, or by the caller with the rest of its batch;
     until then the claim reads "claimed": in doubt, never resent);
   - `PermanentFailure`: recorded "failed" with the reason; never retried;
   - `ProviderUnsure`: recorded "unknown" with the reason; never resent;
   - any other `Exception` (throttling past the retries, a connection never made, the day's
     quota, a failure before the request left): the provider did not take it, so the claim
     is released (deleted), and what it counted against the cap given back, and the exception
     raised: the caller's retry (SQS, Lambda's retry of an SNS delivery) may send it;
   - a `BaseException` that is not an `Exception`: the claim is left "claimed" (see `deliver`).

Whatever cannot be written (a record, a release) leaves the claim "claimed": a message counted
in doubt and perhaps never sent, never a message sent twice.

`optout.channels.send_once`, one level down, is the provider call itself: it retries only
what the provider refused for load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from optout.channels import PermanentFailure, ProviderUnsure
from optout.domain.cap import Reservation
from optout.domain.models import SETTLED, ClaimState
from optout.store import CHANGED, LEFT, DeliveryStore


class Outcome(StrEnum):
    SENT = "sent"  # this call sent it
    FAILED = "failed"  # refused for good: recorded, never retried
    UNKNOWN = "unknown"  # this call may have sent it: recorded, never resent
    DUPLICATE = "duplicate"  # claimed before, and recorded sent or failed
    IN_DOUBT = "in_doubt"  # claimed before, never recorded sent or failed: never resent
    LEFT = "left"  # a reminder to someone no longer reached: nothing claimed
    CHANGED = "changed"  # a reminder whose count against the cap changed meanwhile: nothing claimed


@dataclass(frozen=True)
class Delivery:
    """What became of one message."""

    outcome: Outcome
    message_id: str = ""
    reason: str = ""  # why it failed or is unknown; for an earlier claim, its state
    opted_out: bool = False  # refused because the person told the provider to stop


def deliver(
    deliveries: DeliveryStore,
    key: str,
    now: datetime,
    send: Callable[[], str],
    *,
    record_sent: Callable[[str], None] | None = None,
    subscriber_id: str | None = None,
    reservation: Reservation | None = None,
    **attributes: Any,
) -> Delivery:
    """Send the message `key` at most once: claim it, call `send` (which returns the
    provider's message id), then record or release the claim as the module says.

    `record_sent` records the message id (default: at once, in the deliveries table);
    `subscriber_id` makes the claim check the subscriber is still reached by the campaign
    `attributes["campaign_id"]` (reminders), and `reservation` counts it against their cap;
    `attributes` are kept on the claim. Everything
    that can fail before the provider is reached (rendering, links) belongs before this call,
    so that a failure there leaves no claim behind."""
    earlier = deliveries.claim_or_state(
        key, now, subscriber_id=subscriber_id, reservation=reservation, **attributes
    )
    if earlier == LEFT:
        return Delivery(Outcome.LEFT)
    if earlier == CHANGED:
        return Delivery(Outcome.CHANGED)
    if earlier is not None:
        settled = earlier in SETTLED
        return Delivery(Outcome.DUPLICATE if settled else Outcome.IN_DOUBT, reason=earlier)
    # No `except BaseException`. What is a BaseException but not an Exception (SystemExit,
    # KeyboardInterrupt, GeneratorExit) comes from outside the send, a signal or a thread
    # ending the process, and can land at any bytecode: after the provider accepted the
    # message and before its id came back as well as before the request left. Nothing tells
    # which, so the claim stays "claimed", in doubt, and is never sent again; releasing it
    # would make a message that may have gone out sendable a second time. (A Lambda stopped
    # by its timeout raises nothing at all: its claims stay "claimed" the same way.)
    try:
        message_id = send()
    except PermanentFailure as error:
        deliveries.record_failed(key, str(error), now)
        return Delivery(Outcome.FAILED, reason=str(error), opted_out=error.opted_out)
    except ProviderUnsure as error:
        deliveries.record_failed(key, str(error), now, state=ClaimState.UNKNOWN)
        return Delivery(Outcome.UNKNOWN, reason=str(error))
    except Exception:
        deliveries.release(key)  # the provider did not take it: the caller's retry may send it
        if subscriber_id is not None and reservation is not None:
            deliveries.give_back(subscriber_id, reservation)
        raise
    if record_sent is None:
        deliveries.record_sent(key, message_id, now)
    else:
        record_sent(message_id)
    return Delivery(Outcome.SENT, message_id=message_id)
