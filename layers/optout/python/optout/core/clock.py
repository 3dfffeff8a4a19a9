"""The one source of "now" for domain code.

In AWS it is the real UTC time. The local stack and tests move it (`set_source`) to play a
campaign's timeline in seconds; everything that depends on time (token expiry, reminder due
dates, quiet hours, resend limits) reads it here, never from `datetime.now()` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Make `now()` ask `source` (the local stack's clock); `None` restores real time."""
    global _source
    _source = source or (lambda: datetime.now(UTC))


def iso(moment: datetime) -> str:
    """A UTC timestamp as stored and shown: `2025-10-27T09:00:00Z`."""
    # isoformat, not strftime: strftime writes the year 1 as "1", which nothing reads back.
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def parse_iso(text: str) -> datetime:
    """The inverse of `iso`, also accepting any offset; naive input is rejected."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return moment.astimezone(UTC)


def shown(moment: datetime, zone: str = "UTC") -> dict[str, str]:
    """A moment as the dashboard shows it: `iso` (for `<time datetime>`), and `text` in the
    organisers' zone, named (``27 Oct 2025, 10:00 CET``)."""
    from zoneinfo import ZoneInfo

    from babel.dates import format_datetime  # only the admin API shows times

    local = moment.astimezone(ZoneInfo(zone))
    label = "UTC" if zone == "UTC" else local.tzname() or zone
    return {
        "iso": iso(moment),
        "text": format_datetime(local, "d MMM y, HH:mm", locale="en") + f" {label}",
    }
