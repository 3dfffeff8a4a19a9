"""The records the bot keeps, as frozen dataclasses: subscribers, campaigns and their reminders,
with the policy text a campaign tells. The store maps each to and from its DynamoDB item
(`optout.store`); nothing else sees an item."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from optout.domain.ab import ABTest
from optout.domain.contacts import Contact
from optout.domain.regions import GROUPS

# The organisation a deployment serves when it serves one: made from its own parameters
# (`optout.domain.organisations`), and the owner of every record that names none.
DEFAULT_ORGANISATION = "default"


class Status(StrEnum):
    PENDING = "pending"  # subscribed, confirmation not yet clicked
    ACTIVE = "active"  # confirmed: in the audience index, receives reminders
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"  # a permanent bounce or a complaint: never written to again
    ERASED = "erased"  # only the keyed hash of the contact is left, with why and when
    # A number that texted STOP without being subscribed: only its keyed hash is kept, so that
    # nothing is texted to it (not even a confirmation) until it texts START.
    STOPPED = "stopped"


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


class ClaimState(StrEnum):
    """Where a message to a person stands once claimed (`optout.sending.send_once`): sent or
    failed is settled; claimed (never recorded) and unknown may have gone out, so they are
    never sent again."""

    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"


SETTLED = frozenset({ClaimState.SENT, ClaimState.FAILED})


def reminder_id(region: str, days_before: int, notice: int = 0) -> str:
    """A reminder's id within its campaign (``EU-07``): in queue jobs, click tokens and logs.
    A region's deadline notices ("the deadline moved") are numbered apart (``EU-N1``): no
    regular reminder's id has a letter after its dash."""
    if notice:
        return f"{region}-N{notice}"
    return f"{region}-{days_before:02d}"


# The reminder a conversion is counted for when its done link, minted before done links named
# their reminder, does not say which.
UNKNOWN_REMINDER = "unknown"


def reminder_region(reminder: str) -> str:
    """The region of a reminder's id."""
    return reminder.rpartition("-")[0]


@dataclass(frozen=True)
class PolicyText:
    """What a reminder says about the policy, in one language."""

    title: str
    short_title: str  # for text messages
    summary: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    id: str
    text: PolicyText  # English
    source_url: str
    setting_url: str
    translations: dict[str, PolicyText]  # by locale; partial ones are completed from English

    def in_language(self, locale: str) -> PolicyText:
        """The text for `locale`: its own, its language's (fr for fr-CA), or English."""
        return (
            self.translations.get(locale)
            or self.translations.get(locale.split("-")[0])
            or self.text
        )


@dataclass(frozen=True)
class Campaign:
    """A policy change told to the people it affects: one deadline per region, and the text
    (`policy`) its reminders carry. An ad-hoc send is a campaign too, with its own template."""

    campaign_id: str
    platform: str
    policy: Policy
    status: CampaignStatus
    regions: dict[str, str]  # region code -> its deadline (ISO 8601, UTC)
    offsets_days: tuple[int, ...]
    local_hour: int
    base_url: str  # where its links point (the API's public address when it was made)
    message: str = "reminder"  # its templates: messages/reminder/, or messages/announcement/
    catch_up: bool = True  # late joiners get the latest reminder at once (`sending.catch_up`)
    status_reason: str = ""  # why it is paused, when the sender or the feedback paused it
    created_at: str = ""
    updated_at: str = ""
    # Its run, as the organisers' tools are told of it (`optout.core.events`): when it last
    # became active (created active, launched, or revived after a withdrawal), and when that
    # run finished (every reminder out and the deadlines passed, or withdrawn); "" if not.
    launched_at: str = ""
    finished_at: str = ""
    # Reminders with variants, by their days before the deadline (`optout.domain.ab`).
    ab_tests: tuple[ABTest, ...] = ()
    # Whose campaign it is (`optout.domain.organisations`): the organisation that runs it, and
    # the organisations that joined it, whose members it reaches too. A person who belongs to
    # several is sent each reminder once, attributed to the first of `attribution` they belong
    # to, or (empty) to the one they joined first.
    organisation: str = DEFAULT_ORGANISATION
    members: tuple[str, ...] = ()
    attribution: tuple[str, ...] = ()

    @property
    def organisations(self) -> tuple[str, ...]:
        """Every organisation whose members the campaign reaches: its own, then those joined."""
        return (self.organisation, *(m for m in self.members if m != self.organisation))

    def ab_test_for(self, reminder: Reminder) -> ABTest | None:
        """The A/B test of a reminder, if it has one: a regular reminder of a campaign (never
        a deadline notice, nor an ad-hoc send) whose days before the deadline have variants."""
        if reminder.notice or reminder.segment is not None or self.message != "reminder":
            return None
        return next((t for t in self.ab_tests if t.days_before == reminder.days_before), None)


@dataclass(frozen=True)
class Audience:
    """Whom a campaign region reaches: home groups, narrowed to some countries or without the
    countries that have a region entry of their own in the same campaign."""

    groups: tuple[str, ...]
    only_regions: tuple[str, ...] = ()
    except_regions: tuple[str, ...] = ()

    def includes(self, subscriber_region: str) -> bool:
        if self.only_regions:
            return subscriber_region in self.only_regions
        return subscriber_region not in self.except_regions


@dataclass(frozen=True)
class AudienceMember:
    """An active subscriber as the audience index lists them: what a fan-out needs to decide
    whether a reminder reaches them."""

    subscriber_id: str
    region: str
    channel: str
    locale: str
    platforms: tuple[str, ...]  # empty: every platform
    # The campaigns they said "I've switched it off" to. The index does not hold them: read
    # apart, and only for a segment that asks (`Segment.converted_in`).
    done_campaigns: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Segment:
    """Whom an ad-hoc send narrows its regions' audience to: some platforms, one channel, some
    languages, the people who said "I've switched it off" in one campaign (empty, or None,
    narrows nothing)."""

    platforms: tuple[str, ...] = ()
    channel: str | None = None
    locales: tuple[str, ...] = ()
    converted_in: str = ""  # a campaign id: "check it again" (`optout.watching.follow_up`)


@dataclass(frozen=True)
class Reminder:
    """One reminder of a campaign: what its region's audience reads `days_before` the
    deadline, due at a morning hour there, and how far its fan-out has gone. A deadline
    notice (`notice` > 0: the region's n-th) tells its audience the deadline moved; it is due
    at once, and its `deadline` is the new one."""

    campaign_id: str
    region: str
    days_before: int
    kind: str  # "one-week-left", ... (`plan.kind`), or "announcement"
    due_at: str  # ISO 8601, UTC
    deadline: str  # ISO 8601, UTC
    state: ReminderState
    platform: str  # "" for an ad-hoc send, which its segment narrows instead
    audience: Audience
    segment: Segment | None = None  # an ad-hoc send's
    notice: int = 0  # a deadline notice's number in its region; 0 for every other reminder
    reason: str = ""  # why it failed
    # Its fan-out, once started: jobs queued and done, people and send batches reached, where
    # each audience shard stands (a cursor, or `store.FANOUT_DONE`), and when it finished.
    fanout_jobs: int | None = None
    shards_done: int | None = None
    audience_size: int | None = None
    batches: int | None = None
    progress: dict[str, str] = field(default_factory=dict)
    finished_at: str = ""  # when its last shard was done
    # Whether its send batches carry ids the sender notes done (fanned out since they do), so
    # that the scheduler can tell when every one of its `batches` has gone.
    batches_tracked: bool = False

    @property
    def reminder_id(self) -> str:
        return reminder_id(self.region, self.days_before, self.notice)


@dataclass(frozen=True)
class Consent:
    """Proof of the subscription request: when, on which form text, from where.

    For someone who subscribed on the form (or its JSON API), the wording they were shown in
    their language (its version id and hash, `domain.consent`) and the privacy notice it linked
    to; the confirmation link they pressed is the proof. For someone who texted START again
    after STOP, the text is the proof. For someone an organiser
    imported as already subscribed, the proof is the organiser's record of it: `source` says
    where they signed up ("paper form at FOSDEM"), `requested_at` when, `form_version` the
    wording they agreed to, `proof` where the evidence is kept, `imported_at` when it came in.
    """

    requested_at: str
    form_version: str  # the wording's version id (`domain.consent`), or an import's own
    source: str  # "web-form", "api", "keyword", "import", or an imported row's own consent_source
    proof: str = ""
    imported_at: str = ""
    # Recorded since consent is kept as evidence (issue 16); "" on older records: not recorded.
    kind: str = ""  # how consent was given: `domain.consent.FORM`, `IMPORT` or `KEYWORD`
    wording_sha256: str = ""  # SHA-256 of the exact wording of `form_version` they agreed to
    locale: str = ""  # the language of that wording
    privacy_notice_url: str = ""  # the privacy notice the form linked to ("" with a hash: none)


class MembershipStatus(StrEnum):
    """Where a person stands with one organisation of a coalition (`optout.domain.organisations`).
    What they receive also needs their record to be active: a bounce, a complaint or STOP by
    text stops every organisation at once, whatever their memberships say."""

    PENDING = "pending"  # asked on this organisation's form; the confirmation not yet clicked
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"  # left this organisation only (its unsubscribe link)


@dataclass(frozen=True)
class Membership:
    """A person's membership of one organisation: since when, and the consent they gave it."""

    organisation: str
    status: MembershipStatus
    requested_at: str  # when they asked (or were imported)
    joined_at: str = ""  # when it became active; "" while pending
    left_at: str = ""  # when they unsubscribed from this organisation
    consent: Consent | None = None  # None: the record's own (`Subscriber.consent`)


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
    # Their reminders of the last seven days, "<local day> <campaign id>" (`domain.cap`).
    recent_sends: tuple[str, ...] = ()
    # The organisations they belong to, in a coalition; empty: the default organisation only,
    # with the record's status (every record from before coalitions, and every record of a
    # deployment that serves one organisation). `domain.organisations.memberships_of` reads it.
    memberships: tuple[Membership, ...] = ()

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
