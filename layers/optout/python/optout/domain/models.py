"""The records the bot keeps, as plain dataclasses (the store maps them to DynamoDB items)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from optout.domain.contacts import Contact
from optout.domain.regions import GROUPS


class Status(StrEnum):
    PENDING = "pending"  # subscribed, confirmation not yet clicked
    ACTIVE = "active"  # confirmed: in the audience index, receives reminders
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"  # a permanent bounce or a complaint: never written to again
    ERASED = "erased"  # only the keyed hash of the contact is left, with why and when


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # planned; nothing is sent until an organiser launches it
    ACTIVE = "active"
    PAUSED = "paused"  # by an organiser, or by the sender when the email provider refuses
    WITHDRAWN = "withdrawn"  # the policy change was withdrawn: nothing more goes out


# Statuses whose reminders wait, and that a policy update leaves as they are: organisers decide
# when these send.
HELD = frozenset({CampaignStatus.DRAFT, CampaignStatus.PAUSED})


class ReminderState(StrEnum):
    """Where a reminder is: pending (in the due index) -> fanning-out -> fanned-out, or it ends
    unsent: skipped (already past when planned), superseded (a later one of its region was due
    at the same tick), cancelled (re-planned away, or the campaign withdrawn) or failed (its
    templates do not render)."""

    PENDING = "pending"
    FANNING_OUT = "fanning-out"
    FANNED_OUT = "fanned-out"
    SKIPPED = "skipped"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    FAILED = "failed"


# After these, people have read the reminder's text.
STARTED = frozenset({ReminderState.FANNING_OUT, ReminderState.FANNED_OUT})
# These never go out, so they cannot take another reminder's place.
NEVER_SENT = frozenset(
    {ReminderState.CANCELLED, ReminderState.SUPERSEDED, ReminderState.SKIPPED, ReminderState.FAILED}
)
# What a re-plan may still overwrite: nothing of these has gone out.
REPLANNABLE = (ReminderState.PENDING, ReminderState.SKIPPED, ReminderState.CANCELLED)


def reminder_id(region: str, days_before: int) -> str:
    """A reminder's id within its campaign (``EU-07``): in queue jobs, click tokens and logs."""
    return f"{region}-{days_before:02d}"


def reminder_region(reminder: str) -> str:
    """The region of a reminder's id."""
    return reminder.rpartition("-")[0]


@dataclass(frozen=True)
class Consent:
    """Proof of the subscription request: when, on which form text, from where.

    For someone who confirmed a link we sent, the link is the proof. For someone an organiser
    imported as already subscribed, the proof is the organiser's record of it: `source` says
    where they signed up ("paper form at FOSDEM"), `requested_at` when, `form_version` the
    wording they agreed to, `proof` where the evidence is kept, `imported_at` when it came in.
    """

    requested_at: str
    form_version: str
    source: str  # "web-form", "api", "import", or an imported row's own consent_source
    proof: str = ""
    imported_at: str = ""


@dataclass(frozen=True)
class Subscriber:
    subscriber_id: str
    channel: str
    contact: str  # normalised: lower-case email or E.164
    region: str  # what they chose: a group ("EU") or a country ("DE")
    home_group: str  # the audience partition
    locale: str
    timezone: str
    platforms: tuple[str, ...]  # empty means every platform
    status: Status
    consent: Consent
    created_at: str
    confirmation_sent_at: str = ""
    confirmed_at: str = ""
    sms_introduced: bool = False  # has had the text that says how to stop
    done_campaigns: frozenset[str] = frozenset()  # campaigns they said "I've switched it off" to

    @property
    def masked_contact(self) -> str:
        """The contact as pages and logs may show it (``a***@example.org``)."""
        return Contact(self.channel, self.contact).masked  # type: ignore[arg-type]

    @property
    def zone(self) -> ZoneInfo:
        """Their time zone, or their region's reference zone if theirs is unknown."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(GROUPS[self.home_group].reference_zone)

    @property
    def region_name(self) -> str:
        return GROUPS[self.home_group].name
