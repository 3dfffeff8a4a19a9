"""The events function's part: each event kept for replay and fanned out to the endpoints that
take its type, then delivered to each, signed as Standard Webhooks, with retries, dead letters
and the pause of an endpoint that keeps failing (the rules are `optout.domain.endpoints`').

At least once: an event is kept on condition that its id is new, and marked fanned out only
after its delivery jobs are queued, so a run that stopped halfway fans it out again (an
endpoint may then get it twice, with the same ``webhook-id``: receivers deduplicate by it). The
same event emitted twice is kept and fanned out once.

A delivery job is tried when its `not_before` has come: a longer wait than SQS's 900 s of
delay is made in hops, the job queued again, delayed, until then. Every attempt is logged on
its endpoint (status, an excerpt of the answer or why none came, how long it took); a failure
that may pass is retried until `give_up_at`, three days after the fan-out (or the replay);
any other, or the last, becomes a dead letter on the endpoint, as does every event for an
endpoint while it is paused.

No contact ever leaves here but in a ``subscriber.confirmed`` to an endpoint marked as the
organisation's own CRM, read from the subscribers table when it is sent; nothing of it is
logged or kept.
"""

from __future__ import annotations

import html
import json
import math
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from optout.channels import email, webhook
from optout.channels.outbound import CONNECT_TIMEOUT, READ_TIMEOUT, TOTAL_TIMEOUT, SourceFailed
from optout.core import queues
from optout.core.clock import iso, parse_iso
from optout.core.jobs import DeliveryJob, EventJob
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain.endpoints import (
    GIVE_UP_AFTER,
    PAUSED,
    Attempt,
    DeadLetter,
    Endpoint,
    KeptEvent,
    next_try,
    should_pause,
)
from optout.domain.event_data import organisations_named
from optout.domain.organisations import member_of, memberships_of
from optout.sending import send_once
from optout.store import DeliveryStore, EventStore, Kept, SubscriberStore, layout

WHAT = "the endpoint"  # how failures name the receiver
NEVER = "which events are never sent to"
# How long a delivery may take, in seconds: to connect and for each wait (TIMEOUT), and in all
# (DEADLINE); LONGEST_POST is the deadline with room to record the outcome.
TIMEOUT = (CONNECT_TIMEOUT, READ_TIMEOUT)
DEADLINE = TOTAL_TIMEOUT
LONGEST_POST = TOTAL_TIMEOUT + 5
LONGEST_DELAY = 900  # SQS's longest DelaySeconds
CONFIRMED = "subscriber.confirmed"
# Outcomes, as the log of attempts shows them.
DELIVERED = "delivered"
RETRIED = "retried"
DEAD = "dead letter"
PAUSED_REASON = "endpoint paused: resume it, then replay this event"
FAILING = "every delivery has failed since"  # how the reason of a pause by the rule begins
# A delivery to a failing endpoint while another delivery is trying it: retried as a failure.
NOT_TRIED = SourceFailed(
    "not tried: the endpoint is failing, and another delivery was trying it", retryable=True
)


def fan_out(settings: Settings, job: EventJob, now: datetime) -> str:
    """Keep the event and queue one delivery job per active endpoint that takes its type and
    hears of its organisations (`Endpoint.hears`); a paused one gets a dead letter instead.
    What became of it."""
    store = EventStore(settings)
    kept = KeptEvent(job.event_id, job.type, _happened_at(job.body, now), job.body)
    if store.keep(kept, now) is Kept.DONE:
        return "skipped: fanned out before"
    give_up_at = iso(now + GIVE_UP_AFTER)
    jobs: list[DeliveryJob] = []
    paused = 0
    for endpoint in store.endpoints():
        # Its type, and (an organisation's endpoint) an event that names its organisation.
        if not (endpoint.takes(job.type) and endpoint.hears(job.body)):
            continue
        if endpoint.status == PAUSED:
            _dead_letter(store, endpoint, kept, now, PAUSED_REASON, attempts=0)
            paused += 1
        else:
            jobs.append(DeliveryJob(job.event_id, endpoint.endpoint_id, give_up_at))
    queues.enqueue_many(settings.events_queue_url, jobs)
    store.fanned_out(job.event_id)
    logger.info(
        "event fanned out",
        extra={"event_id": job.event_id, "type": job.type, "endpoints": len(jobs)},
    )
    return f"fanned out to {len(jobs)} endpoints" + (f", {paused} paused" if paused else "")


def deliver(
    settings: Settings, job: DeliveryJob, now: datetime, time_left: float = float("inf")
) -> str:
    """Send the job's event to its endpoint, once its time has come; what became of it. With
    fewer than `LONGEST_POST` seconds left of the function's run (`time_left`), the job goes
    back on the queue untried, not counted as an attempt: a batch of slow endpoints must not run
    the function out of time, which would send the whole batch back."""
    if job.not_before and parse_iso(job.not_before) > now:
        wait = min(LONGEST_DELAY, math.ceil((parse_iso(job.not_before) - now).total_seconds()))
        queues.enqueue(settings.events_queue_url, job, delay_seconds=wait)
        return f"waiting: queued again for {wait} s"
    if time_left < LONGEST_POST:
        queues.enqueue(settings.events_queue_url, job)
        return "queued again: the batch's time is nearly up"
    store = EventStore(settings)
    endpoint = store.get(job.endpoint_id)
    if endpoint is None:
        return "skipped: the endpoint is gone"
    kept = store.event(job.event_id)
    if kept is None:
        letter = DeadLetter(
            endpoint.endpoint_id, job.event_id, "", iso(now), "the event is no longer kept", 0
        )
        store.dead_letter(letter, now)
        return "dead letter: the event is no longer kept"
    if endpoint.status == PAUSED:
        _dead_letter(store, endpoint, kept, now, PAUSED_REASON, job.attempt)
        if endpoint.paused_reason.startswith(FAILING):
            # The run that paused it may have died before its email went: send-once makes
            # this the same email, sent at most once.
            _tell_organisers(settings, endpoint, now)
        return "dead letter: the endpoint is paused"
    if endpoint.failing_since:
        # One delivery at a time tries an endpoint that is failing; the others wait their
        # turn as a failed attempt would, without the request: an endpoint that never answers
        # then holds up one run of the function for its timeout, not every run for each event.
        until = now + timedelta(seconds=LONGEST_POST)
        if not store.claim_probe(endpoint.endpoint_id, now, until):
            return _failed(settings, store, endpoint, kept, job, now, NOT_TRIED, 0, False)
        try:
            return _post(settings, store, endpoint, kept, job, now)
        finally:
            store.end_probe(endpoint.endpoint_id)
    return _post(settings, store, endpoint, kept, job, now)


def _post(
    settings: Settings,
    store: EventStore,
    endpoint: Endpoint,
    kept: KeptEvent,
    job: DeliveryJob,
    now: datetime,
) -> str:
    """Make the attempt: POST the event, log what came of it, retry or dead-letter a failure."""
    body, with_contact = _body_for(settings, endpoint, kept)
    # Real time, not the stack's: receivers check the timestamp against their own clock.
    sent_at = datetime.now(UTC)
    began = time.monotonic()
    try:
        answer = webhook.deliver(
            endpoint.url,
            endpoint.signing_secrets(now),
            kept.event_id,
            body,
            sent_at,
            what=WHAT,
            never=NEVER,
            allow_loopback=settings.events.allow_loopback,
            timeout=TIMEOUT,
            total_timeout=DEADLINE,
        )
    except SourceFailed as failed:
        took = _milliseconds(began)
        return _failed(settings, store, endpoint, kept, job, now, failed, took, with_contact)
    store.log(
        Attempt(
            endpoint.endpoint_id,
            kept.event_id,
            kept.type,
            iso(now),
            job.attempt,
            answer.status,
            "" if with_contact else answer.excerpt,
            _milliseconds(began),
            DELIVERED,
        ),
        now,
    )
    store.delivered(endpoint.endpoint_id, now)
    logger.info(
        "event delivered",
        extra={"event_id": kept.event_id, "endpoint_id": endpoint.endpoint_id},
    )
    return DELIVERED


def _failed(
    settings: Settings,
    store: EventStore,
    endpoint: Endpoint,
    kept: KeptEvent,
    job: DeliveryJob,
    now: datetime,
    failed: SourceFailed,
    took: int,
    with_contact: bool,
) -> str:
    """Log the attempt, keep a dead letter if the failure will not pass or time is up, pause
    the endpoint if it keeps failing, and last queue the next attempt, delayed, if any. The answer to a
    delivery that carried a contact is not kept: it could repeat the contact."""
    refused = failed if isinstance(failed, webhook.Refused) else None
    status = refused.answer.status if refused else 0
    said = refused.answer.excerpt if refused and not with_contact else ""
    retry_at = (
        next_try(job.attempt, now, parse_iso(job.give_up_at), failed.retry_after)
        if failed.retryable
        else None
    )
    if retry_at is not None:
        outcome, result = RETRIED, f"retried at {iso(retry_at)}: {failed.reason}"
    else:
        attempts = job.attempt + 1
        reason = (
            f"{failed.reason}; given up after {attempts} attempts in three days"
            if failed.retryable
            else failed.reason
        )
        _dead_letter(store, endpoint, kept, now, reason, attempts)
        outcome, result = DEAD, f"dead letter: {reason}"
    answer = f"{failed.reason}: {said}" if said else failed.reason
    store.log(
        Attempt(
            endpoint.endpoint_id,
            kept.event_id,
            kept.type,
            iso(now),
            job.attempt,
            status,
            answer[:300],
            took,
            outcome,
        ),
        now,
    )
    logger.warning(
        "event not delivered",
        extra={
            "event_id": kept.event_id,
            "endpoint_id": endpoint.endpoint_id,
            "reason": failed.reason,
            "outcome": outcome,
        },
    )
    _pause_if_failing(settings, store, endpoint, now, failed.reason)
    if retry_at is not None:
        # Queued last: a step above that fails sends this job back whole, and a retry queued
        # before it would start a second chain of attempts beside the one SQS redelivers.
        retry = replace(job, attempt=job.attempt + 1, not_before=iso(retry_at))
        wait = min(LONGEST_DELAY, math.ceil((retry_at - now).total_seconds()))
        queues.enqueue(settings.events_queue_url, retry, delay_seconds=wait)
    return result


def _pause_if_failing(
    settings: Settings, store: EventStore, endpoint: Endpoint, now: datetime, reason: str
) -> None:
    current = store.failed(endpoint.endpoint_id, now)
    if current is None or current.status == PAUSED or not current.failing_since:
        return
    if not should_pause(parse_iso(current.failing_since), now):
        return
    why = f"{FAILING} {current.failing_since} (the last: {reason})"
    paused = store.pause(endpoint.endpoint_id, why, now)
    if paused is None:
        return  # paused by another run, which told the organisers
    logger.warning("endpoint paused", extra={"endpoint_id": endpoint.endpoint_id})
    _tell_organisers(settings, paused, now)


def _tell_organisers(settings: Settings, endpoint: Endpoint, now: datetime) -> str:
    """Email the organisers, once, that `endpoint` was paused (the send-once path)."""
    address = settings.events.organisers_address
    if not address:
        return "skipped: no organisers' address"
    where = (settings.public_base_url or "") + f"/admin/webhooks/{endpoint.endpoint_id}"
    subject = "Events paused for an endpoint that keeps failing"
    lines = [
        f"The bot has stopped sending events to {endpoint.url}"
        + (f" ({endpoint.description})" if endpoint.description else "")
        + ".",
        "",
        f"Why: {endpoint.paused_reason}.",
        "",
        "Nothing is lost: each event for it is kept as a dead letter while it is paused. Once "
        "the endpoint works again, resume it and replay its dead letters:",
        where,
    ]
    text = "\n".join(lines)
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    message = email.Email(to=address, subject=subject, text=text, html=body)
    delivery = send_once.deliver(
        DeliveryStore(settings),
        layout.endpoint_paused_email(endpoint.endpoint_id, endpoint.paused_at),
        now,
        lambda: email.send(settings, message),
        channel="email",
    )
    return str(delivery.outcome)


def _dead_letter(
    store: EventStore,
    endpoint: Endpoint,
    kept: KeptEvent,
    now: datetime,
    reason: str,
    attempts: int,
) -> None:
    letter = DeadLetter(endpoint.endpoint_id, kept.event_id, kept.type, iso(now), reason, attempts)
    store.dead_letter(letter, now)


def _body_for(settings: Settings, endpoint: Endpoint, kept: KeptEvent) -> tuple[bytes, bool]:
    """The bytes sent, and whether they carry a contact: the event as kept, but for a
    ``subscriber.confirmed`` to the organisation's own CRM, which gets the person's contact
    too, read now: only while they are an active member of that endpoint's organisation (and
    the event is of it), with the consent they gave it. None once the person is erased, or has
    left it; never the contact of another organisation's member (the owner's tools included)."""
    if not (endpoint.own_crm and kept.type == CONFIRMED):
        return kept.body.encode("utf-8"), False
    payload = json.loads(kept.body)
    data: dict[str, Any] = payload.get("data") or {}
    subscriber_id = data.get("subscriber_id")
    person = (
        SubscriberStore(settings).get(subscriber_id) if isinstance(subscriber_id, str) else None
    )
    theirs = endpoint.organisation
    if person is None or theirs not in organisations_named(data) or theirs not in member_of(person):
        # Erased, or left since (a retry or a replay can come days later), or someone of
        # another organisation: the CRM must not be handed that contact.
        return kept.body.encode("utf-8"), False
    membership = next(m for m in memberships_of(person) if m.organisation == theirs)
    given = membership.consent or person.consent
    consent = {name: value for name, value in asdict(given).items() if value}
    payload["data"] = {
        **data,
        "contact": {
            "channel": person.channel,
            "address": person.contact,
            "locale": person.locale,
            "timezone": person.timezone,
            "consent": consent,
        },
    }
    sent = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return sent, True


def _happened_at(body: str, now: datetime) -> str:
    """When the event happened, from its body's ``timestamp``; `now` if it has none."""
    try:
        return iso(parse_iso(str(json.loads(body)["timestamp"])))
    except (ValueError, KeyError, TypeError):
        return iso(now)


def _milliseconds(began: float) -> int:
    return int((time.monotonic() - began) * 1000)
