"""What the networks report back: texts people send to our number (STOP, HELP, START), and
SES's bounce and complaint notifications. Both arrive as SNS messages: from SNS invoking the
feedback function, or over HTTP (`sns_http`), and take the same path, `handle`.

STOP (and STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPT OUT, OPTOUT, ARRET, in any case
and with any punctuation) unsubscribes the number, keeps it stopped (no text, not even a
confirmation, goes to it until it texts START) and answers with exactly one confirmation;
HELP answers with who we are and how to stop; START or UNSTOP subscribes a number that stopped
by text again. Carriers audit with handsets that never subscribed, so a number that is not
subscribed (never was, erased, or pending) is answered too: HELP as anyone; STOP keeps the
number's keyed hash as stopped, so that nothing, not even a confirmation, is texted to it; START
lifts that stop. Replies go out at once, at any hour, each once however often SNS delivers the
text. Any other text is logged and not answered; a malformed one also changes nothing, and is
logged with what is wrong.

A permanent bounce or a complaint suppresses the address for good; a transient bounce does not.
When a campaign's bounces pass 4% or its complaints 0.08% of what it sent, the campaign pauses
and an alarm metric fires, before SES's own review thresholds (5% and 0.1%).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import replace
from datetime import datetime
from typing import Any

from optout.channels import sms
from optout.core import events, keys
from optout.core.clock import iso
from optout.core.events import EventType
from optout.core.observability import MetricUnit, logger, metrics
from optout.core.settings import Settings
from optout.domain import consent, event_data
from optout.domain.locales import DEFAULT_LOCALE
from optout.domain.models import CampaignStatus, Status
from optout.domain.organisations import member_of
from optout.domain.reputation import BOUNCE_RATE_LIMIT, COMPLAINT_RATE_LIMIT, MIN_SENT_FOR_RATES
from optout.messages import render
from optout.sending import catch_up, send_once
from optout.sending.send_once import Outcome
from optout.store import CampaignStore, DeliveryStore, SubscriberStore, layout

STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "ARRET"}
)
HELP_WORDS = frozenset({"HELP"})
START_WORDS = frozenset({"START", "UNSTOP"})
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
MAX_INBOUND_ID = 200  # a provider's message id (AWS's are UUIDs); longer is not one


def keyword(body: str) -> str:
    """A text reduced to the letters of a keyword: " Stop! " -> "STOP", "Arrêt" -> "ARRET",
    "opt-out" -> "OPTOUT"."""
    plain = "".join(c for c in unicodedata.normalize("NFD", body) if not unicodedata.combining(c))
    return re.sub(r"[^A-Z]", "", plain.upper())


def handle(settings: Settings, message_text: str, now: datetime) -> str:
    """Act on the Message of one SNS notification, a text received or an SES notification;
    what was done."""
    try:
        message = json.loads(message_text)
    except ValueError:
        logger.warning("feedback that is not JSON ignored")
        return "ignored: not JSON"
    if not isinstance(message, dict):
        return "ignored: not a JSON object"
    if "originationNumber" in message:
        return inbound_sms(settings, message, now)
    return ses_notification(settings, message, now)


def inbound_sms(settings: Settings, message: dict[str, Any], now: datetime) -> str:
    """Act on one text received (AWS End User Messaging's two-way SMS format); what was done."""
    number, body, inbound_id, problem = _read_text(message)
    if problem:
        # Nothing is answered or changed: a reply to a number misread could reach anyone.
        logger.warning("inbound text ignored", extra={"reason": problem})
        return f"ignored: {problem}"
    word = keyword(body)
    kind = (
        "stop"
        if word in STOP_WORDS
        else "help"
        if word in HELP_WORDS
        else "start"
        if word in START_WORDS
        else ""
    )
    if not kind:
        logger.info("inbound text ignored", extra={"keyword": "none"})
        return "ignored"
    subscriber_id = keys.contact_id(settings, "sms", number)
    subscribers = SubscriberStore(settings)
    subscriber = subscribers.get(subscriber_id)
    reply = _Reply(settings, number, subscriber_id, inbound_id, now)
    if subscriber is None or subscriber.status is Status.PENDING:
        locale = subscriber.locale if subscriber else DEFAULT_LOCALE
        done = _not_subscribed(subscribers, reply, kind, subscriber_id, locale, now)
        if done:
            return done
        # A STOP from a subscription confirmed a moment ago: unsubscribed as any other.
        subscriber = subscribers.get(subscriber_id)
        if subscriber is None:
            raise RuntimeError("a number neither stopped nor subscribed")
    if kind == "stop":
        left = subscribers.unsubscribe(subscriber_id, now, by_text=True)
        metrics.add_metric(name="UnsubscribedBySms", unit=MetricUnit.Count, value=1)
        if left is Status.ACTIVE:  # every organisation on the number stops (carriers' rule)
            _tell_unsubscribed(
                settings, subscriber_id, "sms", event_data.KEYWORD, now, left=member_of(subscriber)
            )
    elif kind == "start":
        # The text is the consent on record now; the wording they first agreed to stays named.
        by_text = replace(
            subscriber.consent,
            requested_at=iso(now),
            source=consent.KEYWORD,
            kind=consent.KEYWORD,
            proof=f"{word} texted from this number (message {inbound_id})",
            imported_at="",
        )
        if not subscribers.resubscribe(subscriber_id, now, by=inbound_id, consent=by_text):
            return "ignored: not stopped by text"
        if subscriber.status is Status.UNSUBSCRIBED:  # not a START delivered again
            events.emit(
                settings,
                EventType.SUBSCRIBER_CONFIRMED,
                event_data.subscriber_confirmed(subscriber, event_data.KEYWORD, iso(now)),
                now,
                key=event_data.key(subscriber_id, iso(now)),
            )
        catch_up.request(settings, [subscriber_id], now)
    reply.send(kind, subscriber.locale)
    return kind


def _not_subscribed(
    subscribers: SubscriberStore,
    reply: _Reply,
    kind: str,
    subscriber_id: str,
    locale: str,
    now: datetime,
) -> str:
    """A keyword from a number that is not subscribed (never was, erased, stopped, or
    pending); what was done, or "" for a STOP from a number subscribed since it was read."""
    if kind == "help":
        reply.send("help", locale)
        return "help"
    if kind == "stop":
        if not subscribers.keep_stopped(subscriber_id, now):
            return ""
        metrics.add_metric(name="StoppedBySms", unit=MetricUnit.Count, value=1)
        reply.send("stop", locale, "stop_not_subscribed.txt")
        return "stop"
    if not subscribers.stopped(subscriber_id):
        logger.info("inbound text ignored", extra={"keyword": kind, "stopped": False})
        return "ignored: not stopped by text"
    # Answered first, then lifted: a redelivery finds the number still stopped until the
    # answer is sent or settled, so the answer is never lost (nor sent twice).
    reply.send("start", locale, "start_not_subscribed.txt")
    subscribers.lift_stop(subscriber_id)
    return "start"


def _read_text(message: dict[str, Any]) -> tuple[str, str, str, str]:
    """The number, body and provider's id of a text received, and what is wrong with it ("":
    nothing). A number must be E.164; the body and id, when present, text."""
    number, body, inbound_id = (
        message.get("originationNumber"),
        message.get("messageBody", ""),
        message.get("inboundMessageId") or "",  # null: none given
    )
    if not isinstance(number, str) or not _E164.fullmatch(number):
        return "", "", "", "originationNumber is not an E.164 number"
    if not isinstance(body, str):
        return "", "", "", "messageBody is not text"
    if not isinstance(inbound_id, str) or len(inbound_id) > MAX_INBOUND_ID:
        return "", "", "", "inboundMessageId is not an id"
    return number, _text(body), _text(inbound_id), ""


class _Reply:
    """The answers to one inbound text."""

    def __init__(
        self, settings: Settings, number: str, subscriber_id: str, inbound_id: str, now: datetime
    ) -> None:
        self._settings, self._number, self._now = settings, number, now
        # Without the provider's id, the number's keyed hash: one answer of a kind per number.
        self._reference = inbound_id or subscriber_id

    def send(self, kind: str, locale: str, template: str = "") -> None:
        """One reply to the text, however often SNS delivers it: through the send-once path,
        so that a reply the provider did not take is released, and the error raised for SNS
        (or Lambda) to deliver the text again, which then answers it. At once, at any hour: a
        reply answers a text just sent, as the networks require."""
        settings = self._settings
        context = {
            "organisation": settings.organisation_name,
            "contact": settings.support_contact or settings.sender_address,
        }
        # Rendered before the claim: a failure here leaves no claim behind.
        text = sms.plain(
            render.message_part("sms_replies", locale, template or f"{kind}.txt", context)
        )
        delivery = send_once.deliver(
            DeliveryStore(settings),
            layout.reply_delivery(kind, self._reference),
            self._now,
            lambda: sms.send(settings, sms.Sms(to=self._number, text=text)),
            channel="sms",
        )
        if delivery.outcome in (Outcome.FAILED, Outcome.UNKNOWN):
            logger.warning(
                "reply not sent"
                if delivery.outcome is Outcome.FAILED
                else "reply perhaps not sent",
                extra={"keyword": kind, "reason": delivery.reason},
            )


def ses_notification(settings: Settings, notification: dict[str, Any], now: datetime) -> str:
    """Act on one SES bounce or complaint notification (feedback or event-publishing format)."""
    kind = _text(notification.get("notificationType") or notification.get("eventType") or "")
    tags = _mapping(_mapping(notification.get("mail")).get("tags"))
    campaign, region = _first(tags.get("campaign")), _first(tags.get("region"))
    if kind == "Bounce":
        bounce = _mapping(notification.get("bounce"))
        if bounce.get("bounceType") != "Permanent":
            return "ignored: transient bounce"
        listed, reason, counter = bounce.get("bouncedRecipients"), "bounce", "bounced"
    elif kind == "Complaint":
        listed = _mapping(notification.get("complaint")).get("complainedRecipients")
        reason, counter = "complaint", "complained"
    else:
        return f"ignored: {kind[:40] or 'unknown'} notification"
    # A notification of another shape (a test publish to the topic, a format from the future)
    # is read as far as it makes sense, never failed on: SNS would only deliver it again.
    recipients = [_mapping(entry) for entry in listed] if isinstance(listed, list) else []
    subscribers = SubscriberStore(settings)
    for recipient in recipients:
        address = _text(recipient.get("emailAddress", "")).strip().lower()
        if address:
            subscriber_id = keys.contact_id(settings, "email", address)
            before = subscribers.get(subscriber_id)  # every organisation of theirs stops
            if subscribers.suppress(subscriber_id, reason, now) is Status.ACTIVE:
                how = event_data.BOUNCE if kind == "Bounce" else event_data.COMPLAINT
                left = member_of(before) if before else ()
                _tell_unsubscribed(settings, subscriber_id, "email", how, now, campaign, left)
    if campaign and region:
        _count_and_maybe_pause(settings, campaign, region, counter, len(recipients), now)
    metrics.add_metric(name=f"Email_{counter}", unit=MetricUnit.Count, value=len(recipients))
    return counter


def _tell_unsubscribed(
    settings: Settings,
    subscriber_id: str,
    channel: str,
    how: str,
    now: datetime,
    campaign_id: str = "",
    left: tuple[str, ...] = (),
) -> None:
    """Tell the organisers' tools that an active subscriber left, `how` (`left`: the
    organisations whose messages stopped)."""
    events.emit(
        settings,
        EventType.SUBSCRIBER_UNSUBSCRIBED,
        event_data.subscriber_unsubscribed(
            subscriber_id, channel, how, iso(now), campaign_id, organisations=left
        ),
        now,
        key=event_data.key(subscriber_id, iso(now)),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """`value` as text that encodes (JSON may carry lone surrogates, which do not)."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _first(value: Any) -> str:
    """The first of an SES tag's values (a list of strings), or ""."""
    return _text(value[0]) if isinstance(value, list) and value else ""


def _count_and_maybe_pause(
    settings: Settings, campaign_id: str, region: str, counter: str, number: int, now: datetime
) -> None:
    campaigns = CampaignStore(settings)
    campaigns.add_stats(campaign_id, region, {counter: number})
    totals: dict[str, int] = {}
    for counts in campaigns.stats(campaign_id).values():
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    sent = totals.get("sent", 0)
    if sent < MIN_SENT_FOR_RATES:
        return
    bounce_rate, complaint_rate = (
        totals.get("bounced", 0) / sent,
        totals.get("complained", 0) / sent,
    )
    if bounce_rate > BOUNCE_RATE_LIMIT or complaint_rate > COMPLAINT_RATE_LIMIT:
        reason = (
            f"bounce rate {bounce_rate:.1%}, complaint rate {complaint_rate:.2%} of {sent} sent"
        )
        campaigns.set_status(campaign_id, CampaignStatus.PAUSED, now, reason)
        metrics.add_metric(name="SenderReputationPause", unit=MetricUnit.Count, value=1)
        logger.error(
            "campaign paused to protect the sender's reputation",
            extra={"campaign_id": campaign_id, "reason": reason},
        )
