"""The types of event the organisers' endpoints may take (`optout.core.events` emits them): a
module of its own, with no AWS, so that the domain's rules for endpoints can name them."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    SUBSCRIBER_CONFIRMED = "subscriber.confirmed"
    SUBSCRIBER_UNSUBSCRIBED = "subscriber.unsubscribed"
    SUBSCRIBER_ERASED = "subscriber.erased"
    REMINDER_SENT = "reminder.sent"
    CONVERSION_RECORDED = "conversion.recorded"
    CAMPAIGN_LAUNCHED = "campaign.launched"
    CAMPAIGN_FINISHED = "campaign.finished"
    POLICY_CHANGE_DETECTED = "policy.change_detected"


EVENT_TYPES = tuple(str(kind) for kind in EventType)
