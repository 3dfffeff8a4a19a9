"""A Standard Webhooks delivery (https://www.standardwebhooks.com/): an event's exact bytes,
POSTed signed to a receiver that organisers named, under `optout.channels.outbound`'s rules of
where a request may go and how long it may take. Used for a change told to an ally
(`optout.watching.forward`) and for an event sent to an endpoint of the organisers' own tools
(`optout.events.delivery`). No AWS here.

What a receiver gets: a POST of the body with the headers ``webhook-id`` (the event's id: the
same for every receiver and every attempt, so a receiver that got it once can drop a repeat),
``webhook-timestamp`` (the real time of this attempt) and ``webhook-signature`` (one ``v1,...``
entry per secret, so a receiver still on the old secret verifies while it rotates).

What counts as delivered: a 2xx. A 408, a 429, a 5xx, a timeout or a broken connection may go
through later (`SourceFailed.retryable`; a Retry-After is kept); any other answer, a redirect
included, will not until the receiver or its address changes.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

import requests

from optout.channels import outbound
from optout.channels.outbound import Posted, SourceFailed
from optout.core import signatures

_RETRYABLE = frozenset({408, 429})


class Refused(SourceFailed):
    """The receiver answered, but not 2xx: its `answer` (status and excerpt) is kept."""

    def __init__(self, reason: str, answer: Posted, *, retryable: bool) -> None:
        super().__init__(reason, retryable=retryable, retry_after=answer.retry_after)
        self.answer = answer


def deliver(
    url: str,
    secret: str,
    event_id: str,
    body: bytes,
    now: datetime,
    *,
    what: str,
    never: str,
    allow_loopback: bool = False,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (outbound.CONNECT_TIMEOUT, outbound.READ_TIMEOUT),
    total_timeout: float = outbound.TOTAL_TIMEOUT,
) -> Posted:
    """POST the event `body` to the receiver at `url`, signed with `secret` (its ``whsec_``
    secret, or several separated by spaces while it rotates: each signs). `event_id` is the
    ``webhook-id``; `now` gives ``webhook-timestamp``, and must be the real time: receivers
    refuse a timestamp more than a few minutes from their own clock. `what` names the receiver
    in failures ("the ally"), `never` ends the sentence that refuses an internal address;
    `timeout` is (connect, read) in seconds, `total_timeout` the deadline of the whole request;
    `allow_loopback` and `session` are as for `outbound.post`.

    Returns the answer when it was 2xx. Raises `SourceFailed` (`Refused` when the receiver
    answered), whose `retryable` says whether to try again later and whose `retry_after` is
    the receiver's Retry-After, if any."""
    try:
        keys = signatures.parse_secrets(secret)
    except ValueError:
        raise SourceFailed(
            f"{what}'s secret is not a whsec_ secret, so nothing was sent", retryable=False
        ) from None
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signatures.sign(key, event_id, timestamp, body) for key in keys
        ),
    }
    answer = outbound.post(
        url,
        body,
        headers,
        what=what,
        never=never,
        allow_loopback=allow_loopback,
        session=session,
        timeout=timeout,
        total_timeout=total_timeout,
    )
    status = answer.status
    if 200 <= status < 300:
        return answer
    if 300 <= status < 400:
        # A receiver's address is what organisers typed; a redirect could point anywhere, so
        # the address is corrected by hand rather than followed.
        raise Refused(
            f"{what} answered {status}, a redirect, which is never followed: "
            "give the address it points to instead",
            answer,
            retryable=False,
        )
    retryable = status in _RETRYABLE or status >= 500
    raise Refused(f"{what} answered {status}", answer, retryable=retryable)


def new_secret() -> str:
    """A fresh signing secret for a receiver: ``whsec_`` and 32 random bytes in base64, the
    form Standard Webhooks libraries read."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
