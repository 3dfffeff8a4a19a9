"""Telling of a change the watch found, from the notice queue: the organisers' email, and each
ally's event.

The email goes once, through the send-once path (`optout.sending.send_once`), like every
message. An ally's event is retried with backoff: the job queues itself again, delayed, after a
failure that may pass (a timeout, a 5xx), at most `forward.MAX_ATTEMPTS` times; a failure that
will not pass (a 4xx, an address refused), or the last one, is recorded on the watch, where
organisers read it. An event that arrived is recorded in the deliveries table, so that a job
delivered again later sends nothing more; two copies of a job running at the same moment may
both send it (webhooks go at least once), and allies deduplicate by its webhook-id, the change's
id.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime

from optout.channels import email
from optout.core import queues
from optout.core.jobs import ChangeNoticeJob, ForwardJob
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain.watches import Watch
from optout.messages.changes import change_email
from optout.sending import send_once
from optout.store import DeliveryStore, WatchStore, layout
from optout.watching import forward, sources


def email_organisers(settings: Settings, job: ChangeNoticeJob, now: datetime) -> str:
    """Email the organisers' address about the change; what became of it."""
    address = settings.watching.organisers_address
    store = WatchStore(settings)
    change = store.get_change(job.change_id)
    if change is None or not address:
        return "skipped: no such change" if change is None else "skipped: no organisers' address"
    watch = store.get(change.watch_id)
    base_url = settings.public_base_url or (watch.base_url if watch else "")
    subject, text, html = change_email(asdict(change), base_url + "/admin")
    message = email.Email(to=address, subject=subject, text=text, html=html)
    delivery = send_once.deliver(
        DeliveryStore(settings),
        layout.change_email(change.change_id),
        now,
        lambda: email.send(settings, message),
        channel="email",
    )
    logger.info(
        "change emailed", extra={"change_id": change.change_id, "outcome": delivery.outcome}
    )
    return str(delivery.outcome)


def forward_change(
    settings: Settings, job: ForwardJob, now: datetime, time_left: float = float("inf")
) -> str:
    """Send the change's event to the job's ally; what became of it. With fewer than
    `forward.LONGEST_POST` seconds left of the notifier's run (`time_left`), the job goes back
    on the queue untried, not counted as an attempt: a batch of slow allies must not run the
    notifier out of time, which would send the whole batch back, confirmations with it."""
    if time_left < forward.LONGEST_POST:
        queues.enqueue(settings.notice_queue_url, job)
        return "queued again: the batch's time is nearly up"
    store = WatchStore(settings)
    change = store.get_change(job.change_id)
    watch = store.get(change.watch_id) if change is not None else None
    index = _position(watch, job) if watch is not None else None
    if change is None or watch is None or index is None:
        return "skipped: the change, its watch or the ally is gone"
    job = replace(job, ally=index)
    ally = watch.allies[index]
    deliveries = DeliveryStore(settings)
    key = layout.change_forward(change.change_id, ally.url)
    if deliveries.get(key) is not None:
        return "skipped: delivered before"
    try:
        forward.deliver(
            ally.url,
            ally.secret,
            change.change_id,
            forward.event_body(asdict(change)),
            # Real time, not the stack's: receivers check the timestamp against their clock.
            datetime.now(UTC),
            allow_loopback=settings.watching.allow_loopback,
        )
    except sources.SourceFailed as failed:
        return _failed(settings, store, job, watch.watch_id, ally.url, failed)
    deliveries.claim(key, now, kind="change-forward")
    if ally.problem:
        store.set_ally_problem(watch.watch_id, job.ally, ally.url, "")
    logger.info("change forwarded", extra={"change_id": change.change_id, "ally": job.ally})
    return "delivered"


def _failed(
    settings: Settings,
    store: WatchStore,
    job: ForwardJob,
    watch_id: str,
    url: str,
    failed: sources.SourceFailed,
) -> str:
    """Queue the job again, delayed, if the failure may pass and attempts are left; else
    record it on the watch."""
    attempts = job.attempt + 1
    if failed.retryable and attempts < forward.MAX_ATTEMPTS:
        delay = forward.retry_delay(job.attempt, failed.retry_after)
        retry = replace(job, attempt=attempts)
        queues.enqueue(settings.notice_queue_url, retry, delay_seconds=delay)
        logger.warning(
            "change not forwarded; retried later",
            extra={"change_id": job.change_id, "reason": failed.reason, "delay": delay},
        )
        return f"retried in {delay} s: {failed.reason}"
    problem = f"{failed.reason} (after {attempts} attempts)" if failed.retryable else failed.reason
    store.set_ally_problem(watch_id, job.ally, url, problem)
    logger.warning("change not forwarded", extra={"change_id": job.change_id, "reason": problem})
    return f"failed: {problem}"


def _position(watch: Watch, job: ForwardJob) -> int | None:
    """Where the job's ally is among the watch's allies now: found by its URL, since an ally
    removed since the job was queued moves the others (a job without one, by its position)."""
    if not job.url:
        return job.ally if job.ally < len(watch.allies) else None
    return next((n for n, ally in enumerate(watch.allies) if ally.url == job.url), None)
