"""No text message reaches a person between 21:00 and 08:00 where they live: reminders and
confirmations alike wait for the morning (deferred, never dropped)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from optout.domain.models import Subscriber

QUIET_UNTIL = time(8, 0)  # no text message before 08:00 ...
QUIET_FROM = time(21, 0)  # ... or from 21:00, subscriber's local time


def in_quiet_hours(subscriber: Subscriber, now: datetime) -> datetime | None:
    """When a text may go out at the earliest, if not now: the next 08:00 where they live."""
    local = now.astimezone(subscriber.zone)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=local.tzinfo)
