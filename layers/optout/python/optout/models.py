"""The records the bot keeps, as plain dataclasses (the store maps them to DynamoDB items)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from optout.contacts import Contact
from optout.regions import GROUPS


class Status(StrEnum):
    PENDING = "pending"  # subscribed, confirmation not yet clicked
    ACTIVE = "active"  # confirmed: in the audience index, receives reminders
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"  # a permanent bounce or a complaint: never written to again
    ERASED = "erased"  # only the keyed hash of the contact is left, with why and when


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
    def region_name(self) -> str:
        return GROUPS[self.home_group].name
