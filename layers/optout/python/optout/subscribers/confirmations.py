"""One-off messages to one person (for now: the subscription confirmation).

They travel on their own queue, apart from campaign sends, so that a confirmation never waits
behind a million reminders. Each goes through the send-once path (`optout.sending.send_once`): a
redelivered job finds the claim and sends nothing.

A confirmation text asked for between 21:00 and 08:00 where the person lives waits for 08:00,
as reminders do. It waits in the scheduler's due index, not on the queue: SQS delays a message
by 15 minutes at most, so the queue would hand it back some forty times a night, each time
against real time rather than the clock the local stack and tests move; the due index holds it
with one write, and the next tick after 08:00 queues it again with its original request time
(so that a redelivery still finds the same delivery claim).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from optout.channels import email, sms
from optout.core.clock import iso
from optout.core.jobs import NoticeJob
from optout.core.observability import MetricUnit, logger, metrics
from optout.core.settings import Settings
from optout.domain.models import MembershipStatus, Status, Subscriber
from optout.domain.organisations import DEFAULT, memberships_of
from optout.domain.quiet_hours import in_quiet_hours
from optout.domain.regions import GROUPS
from optout.messages import identity, render
from optout.sending import send_once
from optout.sending.send_once import Outcome
from optout.store import CampaignStore, DeliveryStore, OrganisationStore, SubscriberStore, layout
from optout.subscribers import subscriptions


def send_confirmation(settings: Settings, job: NoticeJob, now: datetime) -> str:
    """Send the confirmation a subscribe request queued; returns what happened, for the log."""
    subscriber = SubscriberStore(settings).get(job.subscriber_id)
    organisation_id = job.organisation or DEFAULT
    if subscriber is None or not _pending_in(subscriber, organisation_id):
        return "skipped: no longer pending"
    organisation = None
    if organisation_id != DEFAULT:
        organisation = OrganisationStore(settings).get(organisation_id)
        if organisation is None:
            return "skipped: the organisation is gone"
    if subscriber.confirmation_sent_at != job.requested_at:
        # Every subscribe request is queued, owed or not; only the one whose request reserved
        # the confirmation (within the resend window, the first) sends it.
        return "skipped: no confirmation reserved by this request"
    if subscriber.channel == "sms" and (morning := in_quiet_hours(subscriber, now)):
        CampaignStore(settings).put_deferred_notice(job, morning)
        metrics.add_metric(name="NoticeDeferred", unit=MetricUnit.Count, value=1)
        return f"deferred until {iso(morning)}: quiet hours"
    token = subscriptions.confirmation_token(
        settings, subscriber.subscriber_id, now, organisation_id
    )
    sent_by = identity.of(settings, organisation)
    context = {
        **sent_by.footer,
        "confirm_url": f"{job.base_url}/confirm/{token}",
        "region_name": render.translate(subscriber.locale, GROUPS[subscriber.home_group].name),
        "days_valid": settings.confirmations.confirm_token_days,
    }
    # Rendered before the claim: a failure here leaves no claim behind, and the retry sends it.
    message = _render(subscriber, context)
    key = layout.confirmation_delivery(subscriber.subscriber_id, job.requested_at)
    delivery = send_once.deliver(
        DeliveryStore(settings),
        key,
        now,
        lambda: _send(settings, message, sent_by.sender),
        channel=subscriber.channel,
    )
    if delivery.outcome is Outcome.DUPLICATE:
        return "skipped: already sent"
    if delivery.outcome is Outcome.IN_DOUBT:
        return "skipped: claimed before and perhaps sent, never resent"
    if delivery.outcome is Outcome.FAILED:
        metrics.add_metric(name="NoticeFailed", unit=MetricUnit.Count, value=1)
        return f"failed: {delivery.reason}"
    if delivery.outcome is Outcome.UNKNOWN:
        return f"unknown: {delivery.reason}"
    metrics.add_metric(name="ConfirmationSent", unit=MetricUnit.Count, value=1)
    logger.info(
        "confirmation sent",
        extra={"channel": subscriber.channel, "message_id": delivery.message_id},
    )
    return "sent"


def _pending_in(subscriber: Subscriber, organisation: str) -> bool:
    """Whether the person's membership of `organisation` waits for its confirmation (their
    record pending, or active in another organisation)."""
    if subscriber.status not in (Status.PENDING, Status.ACTIVE):
        return False
    return any(
        m.organisation == organisation and m.status is MembershipStatus.PENDING
        for m in memberships_of(subscriber)
    )


def _render(subscriber: Subscriber, context: dict[str, Any]) -> email.Email | sms.Sms:
    locale = subscriber.locale
    if subscriber.channel == "email":
        return email.Email(
            to=subscriber.contact,
            subject=render.message_part("confirm", locale, "subject.txt", context),
            text=render.message_part("confirm", locale, "body.txt", context),
            html=render.message_part("confirm", locale, "body.html", context),
        )
    text = render.message_part("confirm", locale, "sms.txt", context)
    return sms.Sms(to=subscriber.contact, text=sms.plain(text))


def _send(settings: Settings, message: email.Email | sms.Sms, sender: email.Sender) -> str:
    if isinstance(message, email.Email):
        mime = email.build(settings, message, sender)
        return email.send_raw(settings, message.to, mime, sender=sender)
    return sms.send(settings, message)
