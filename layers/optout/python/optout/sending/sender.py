"""The sender: turns one batch of subscriber ids from the send queue into messages, each sent
at most once.

For each subscriber of the batch (read 100 to a request, a step ahead of the sends): skip, with
a reason, anyone no longer active or who already said "I've switched it off"; defer a text
message that would arrive at night to the next 08:00 in their time zone, and while the SMS
channel's settings are wrong, every text to half an hour later (with the error naming them as
its reason; the emails go on); defer what the cap across campaigns holds back to the day it
places it (`allowance`); otherwise claim the delivery with a conditional write (campaign,
reminder, subscriber, channel) that also counts it against the cap, send it, and record the
provider's message id (written together after the batch). A claim found without a record — a
crash between the send and the record — is counted "unknown" and never resent.

A reminder with an A/B test (`optout.domain.ab`) goes to each person in the variant their place
in the test gives: their own in the test share, the decided winner in the rest. Someone of the
rest reached before the decision (a late joiner caught up during the wait) is not claimed: held
for the test result, counted on the test, and the rest's fan-out reaches them. The claim records
the variant and group, for the conversion to be counted under them.

In a coalition (`optout.domain.organisations`) each message comes from the organisation it is
attributed to: of the campaign's organisations the person belongs to, the coalition's choice or
the one they joined first. Its From, footer, links and SES configuration set are that
organisation's; someone who left every organisation of the campaign since the fan-out is
skipped ("not_a_member"). The claim key names no organisation: someone on two members' lists is
one person, one claim, one message. The claim records the organisation, and a coalition's
campaign counts its sends per organisation beside the whole.

Counters go to the campaign once per batch.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from optout.channels import QuotaExhausted, email, sms
from optout.core import clock, events, queues, tokens
from optout.core.events import EventType
from optout.core.jobs import SendJob
from optout.core.observability import MetricUnit, logger, metrics
from optout.core.settings import SendingSettings, Settings, SettingsError
from optout.domain import ab, event_data, organisations, plan
from optout.domain.cap import Cap, Reservation
from optout.domain.models import (
    DEFAULT_ORGANISATION,
    SETTLED,
    Campaign,
    CampaignStatus,
    ClaimState,
    Reminder,
    Status,
    Subscriber,
)
from optout.domain.organisations import Organisation
from optout.domain.quiet_hours import in_quiet_hours
from optout.messages import reminders
from optout.messages.identity import of as messages_from
from optout.sending import allowance, send_once
from optout.sending.send_once import Outcome
from optout.store import CampaignStore, DeliveryStore, OrganisationStore, SubscriberStore, layout

# Texts wait while the SMS channel's settings are wrong, and are tried again this much later.
SMS_SETTINGS_RETRY = timedelta(minutes=30)
# A person's count for the cap changed under this many claims in a row (other campaigns'
# senders): their message is decided again this much later.
CAP_ATTEMPTS = 3
CAP_RETRY = timedelta(minutes=5)
MIN_REMAINING_MS = 30_000  # below this, a sender hands the rest of its batch on
READ_CHUNK = 100  # subscribers a read (BatchGetItem takes up to 100 keys) ...
FIRST_READ = 20  # ... but the first read is short: the first send waits for it
# A delivery's outcome as the campaign's counters name it (LEFT counts its skip reason).
COUNTED_AS = {
    Outcome.SENT: "sent",
    Outcome.FAILED: "failed",
    Outcome.UNKNOWN: "unknown",
    Outcome.IN_DOUBT: "unknown",  # claimed before, never recorded: it may have gone out
    Outcome.DUPLICATE: "skipped_duplicate",
}


class Pacer:
    """Spaces sends to at most `rate` a second (a token bucket one message deep), so that the
    senders together stay under the account's SES rate instead of bouncing off throttling."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0

    def wait(self) -> None:
        now = self._clock()
        if self._next > now:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


def pacers(settings: Settings) -> dict[str, Pacer]:
    """A pacer per channel: emails at this sender's share of the SES rate, texts at its share
    of the SMS throughput of the origination numbers (SmsRatePerSecond)."""
    sending = settings.sending
    texts = sending.sms_rate_per_second / max(sending.sender_concurrency, 1)
    return {"email": Pacer(send_rate(sending)), "sms": Pacer(texts)}


def unpaced() -> dict[str, Pacer]:
    """Pacers that never wait (tests and benchmarks that measure everything but the pace)."""
    return {"email": Pacer(0), "sms": Pacer(0)}


@lru_cache(maxsize=1)
def send_rate(sending: SendingSettings) -> float:
    """This sender's share of the account's rate: the setting, or SES's MaxSendRate divided
    among the senders template.yaml allows to run at once."""
    if sending.send_rate_per_second > 0:
        return sending.send_rate_per_second
    return email.send_quota().max_send_rate / max(sending.sender_concurrency, 1)


def skip_reason(subscriber: Subscriber | None, campaign: Campaign) -> str | None:
    if subscriber is None:
        return "erased"
    if subscriber.status is not Status.ACTIVE:
        return str(subscriber.status.value)
    if campaign.campaign_id in subscriber.done_campaigns:
        return "already_done"
    if organisations.attributed_to(subscriber, campaign) is None:
        return "not_a_member"  # they left every organisation of the campaign since its fan-out
    return None


def send_batch(
    settings: Settings,
    job: SendJob,
    now: datetime,
    pacers: Mapping[str, Pacer],
    remaining_ms: Callable[[], int] = lambda: 10**9,
) -> Counter[str]:
    """Send one batch; what happened to its subscribers, counted by outcome."""
    campaigns = CampaignStore(settings)
    campaign, reminder = _campaign_and_reminder(campaigns, job.campaign_id, job.reminder)
    if campaign is None or reminder is None:
        raise ValueError(f"no campaign {job.campaign_id!r} with reminder {job.reminder!r}")
    counts: Counter[str] = Counter()
    sent_by: Counter[tuple[str, str]] = Counter()  # (dimension, value) -> messages sent
    by_organisation: Counter[tuple[str, str]] = Counter()  # (organisation, outcome) -> people
    done = True  # False: the rest of the batch was handed on
    try:
        if campaign.status == CampaignStatus.WITHDRAWN and reminder.kind != plan.GOOD_NEWS:
            counts["skipped_withdrawn"] = len(job.ids)
        elif campaign.status == CampaignStatus.PAUSED:
            campaigns.put_deferred(job, reminder.region, None, "campaign paused")
            counts["deferred"] = len(job.ids)
        else:
            done = _send(
                settings,
                campaign,
                reminder,
                job,
                now,
                pacers,
                remaining_ms,
                counts,
                sent_by,
                by_organisation,
            )
    finally:
        if job.catch_up and counts["sent"]:
            counts["caught_up"] = counts["sent"]  # late joiners (`catch_up`), counted apart too
        if reminder.notice and counts["sent"]:
            # "the deadline moved", or the good news of a withdrawal: counted apart too
            notices = "good_news" if reminder.kind == plan.GOOD_NEWS else "deadline_notices"
            counts[notices] = counts["sent"]
        # A batch that fails part-way still counts what went out; its redelivery then counts
        # those as duplicates, so every message is counted once as sent.
        campaigns.add_stats(campaign.campaign_id, reminder.region, counts)
        # What was sent by reminder, channel and language: the denominators of the dashboard's
        # conversions by each (a write for each value the batch holds, beside its sends).
        sent_by[("reminder", reminder.reminder_id)] = counts["sent"]
        breakdowns: dict[tuple[str, str], dict[str, int]] = {
            key: {"sent": number} for key, number in sent_by.items()
        }
        if organisations.in_coalition(campaign):
            # Each organisation's share (a campaign of the default organisation alone is all
            # its own, and counts none): its people's outcomes, each person under one.
            for (organisation, outcome), number in by_organisation.items():
                breakdowns.setdefault(("organisation", organisation), {})[outcome] = number
        campaigns.add_breakdowns(campaign.campaign_id, breakdowns)
        for outcome, number in counts.items():
            metrics.add_metric(name=f"Reminder_{outcome}", unit=MetricUnit.Count, value=number)
        _tell_sent(settings, campaign, reminder, job, counts, now)
    if job.batch and done:
        # Last, once all of it is on record and told: the campaign may finish once every batch
        # its fan-outs queued is done (`schedule.finish`). A set: a redelivery counts once.
        campaigns.batch_done(campaign.campaign_id, reminder.reminder_id, job.batch)
    return counts


# Counters that count again, apart, people some outcome counts already (of "sent", or of
# "deferred"): an event's counts give each person of the batch once.
_COUNTED_APART = frozenset({"caught_up", "good_news", "deadline_notices", "deferred_cap"})


def _tell_sent(
    settings: Settings,
    campaign: Campaign,
    reminder: Reminder,
    job: SendJob,
    counts: Counter[str],
    now: datetime,
) -> None:
    """Tell the organisers' tools what this batch did (a batch that failed part-way too: what
    went out is told, and its redelivery tells the rest, what went out counted as duplicates)."""
    outcomes = {name: number for name, number in counts.items() if name not in _COUNTED_APART}
    if not any(outcomes.values()):
        return
    events.emit(
        settings,
        EventType.REMINDER_SENT,
        event_data.reminder_sent(
            campaign.campaign_id,
            reminder.reminder_id,
            reminder.region,
            reminder.kind,
            job.catch_up,
            outcomes,
            campaign.organisations,
        ),
        now,
    )


# A warm sender reuses what it read of a campaign for a few seconds: two reads less a batch,
# and a pause or withdrawal still reaches every sender within this time.
CAMPAIGN_CACHE_SECONDS = 10.0
_campaign_cache: dict[tuple[str, str], tuple[float, Campaign | None, Reminder | None]] = {}


def forget_campaigns() -> None:
    """Drop what this execution environment remembers of campaigns (tests start afresh)."""
    _campaign_cache.clear()
    allowance.forget_rivals()


def _campaign_and_reminder(
    campaigns: CampaignStore, campaign_id: str, reminder_id: str
) -> tuple[Campaign | None, Reminder | None]:
    key = (campaign_id, reminder_id)
    cached = _campaign_cache.get(key)
    if cached is None or cached[0] < time.monotonic():
        found = (
            campaigns.get_campaign(campaign_id),
            campaigns.get_reminder(campaign_id, reminder_id),
        )
        cached = (time.monotonic() + CAMPAIGN_CACHE_SECONDS, *found)
        _campaign_cache[key] = cached
    return cached[1], cached[2]


def _send(
    settings: Settings,
    campaign: Campaign,
    reminder: Reminder,
    job: SendJob,
    now: datetime,
    pacers: Mapping[str, Pacer],
    remaining_ms: Callable[[], int],
    counts: Counter[str],
    sent_by: Counter[tuple[str, str]],
    by_organisation: Counter[tuple[str, str]],
) -> bool:
    """Send the batch's messages; False if the Lambda's time ran low and the rest was handed on
    (its continuation finishes the batch). `by_organisation` counts each person's outcome under
    the organisation their message is attributed to (those attributed to none: under none)."""
    subscribers = SubscriberStore(settings)
    deliveries = DeliveryStore(settings)
    limits = Cap(settings.sending.messages_per_day, settings.sending.messages_per_week)
    tested = _Test(CampaignStore(settings), campaign, reminder)
    test = tested.test
    batch = _Batch(
        settings,
        campaign,
        reminder,
        now,
        pacers,
        deliveries,
        reminders.Drafts(settings, campaign, reminder, now),
        partial(allowance.decide, limits, CampaignStore(settings), campaign, reminder),
        sent=[],
        test=test,
        identities=_Identities(settings),
    )
    deferred: dict[tuple[datetime, str], list[str]] = defaultdict(list)  # (when, why) -> ids
    remaining = list(dict.fromkeys(job.ids))
    held: list[str] = []  # of the rest, before the test's decision

    def read(chunk: list[str]) -> dict[str, Subscriber]:
        found = subscribers.get_many(chunk)
        _store_short_links(campaign, reminder, found, deliveries, settings, now)
        return found

    found = ReadAhead(remaining, read)
    try:
        while remaining:
            if remaining_ms() < MIN_REMAINING_MS:
                # A slow account rate: hand the rest on rather than be stopped mid-send.
                queues.enqueue(settings.send_queue_url, replace(job, ids=tuple(remaining)))
                logger.info("send batch continued", extra={"left": len(remaining)})
                return False
            subscriber_id = remaining[0]
            subscriber = found.get(subscriber_id)
            reason = skip_reason(subscriber, campaign)
            # Whose message it is; None for someone of none of the campaign's organisations
            # (or no longer active), whose skip is counted under none.
            organisation = organisations.attributed_to(subscriber, campaign) if subscriber else None
            placed = (
                ab.variant_for(
                    test, campaign.campaign_id, reminder.reminder_id, subscriber_id, tested.winner()
                )
                if test is not None and not reason
                else None
            )
            if reason or subscriber is None or organisation is None:
                counts[f"skipped_{reason}"] += 1
                if organisation is not None:
                    by_organisation[(organisation, "skipped")] += 1
            elif test is not None and placed is None:
                # Not claimed: the rest's fan-out reaches them after the decision.
                held.append(subscriber_id)
                counts["held_ab_test"] += 1
            elif subscriber.channel == "sms" and (later := in_quiet_hours(subscriber, clock.now())):
                deferred[(later, "quiet hours")].append(subscriber_id)
                counts["deferred"] += 1
            elif subscriber.channel == "sms" and (problem := _sms_settings_problem(settings)):
                # Not claimed: the text goes once the settings are put right; emails go on.
                deferred[(now + SMS_SETTINGS_RETRY, problem)].append(subscriber_id)
                counts["deferred"] += 1
            else:
                outcome = _deliver_within_cap(batch, subscriber, organisation, placed)
                if not isinstance(outcome, datetime):
                    by_organisation[(organisation, _share_counter(outcome))] += 1
                if isinstance(outcome, datetime):
                    deferred[(outcome, "cap")].append(subscriber_id)
                    counts["deferred"] += 1
                    counts["deferred_cap"] += 1
                else:
                    counts[outcome] += 1
                if outcome == "sent":
                    sent_by[("channel", subscriber.channel)] += 1
                    sent_by[("language", subscriber.locale)] += 1
                    if placed is not None:
                        value = ab.breakdown_value(
                            reminder.reminder_id, placed.variant, placed.group
                        )
                        sent_by[("variant", value)] += 1
            remaining.pop(0)
    except QuotaExhausted as error:
        # The rest waits for the organiser: a paused campaign, its batch kept, an alarm.
        CampaignStore(settings).set_status(
            campaign.campaign_id, CampaignStatus.PAUSED, now, str(error)
        )
        CampaignStore(settings).put_deferred(
            replace(job, ids=tuple(remaining)), reminder.region, None, "daily quota"
        )
        counts["deferred"] += len(remaining)
        metrics.add_metric(name="DailyQuotaExceeded", unit=MetricUnit.Count, value=1)
        logger.error(
            "daily sending quota exhausted: campaign paused",
            extra={"campaign_id": campaign.campaign_id},
        )
    finally:
        found.close()
        # Whatever happens next, what went out is on record (a crash here leaves "unknown").
        deliveries.record_sent_many(batch.sent, now)
        CampaignStore(settings).add_ab_held_people(campaign.campaign_id, reminder.reminder_id, held)
        for (later, reason), ids in deferred.items():
            CampaignStore(settings).put_deferred(
                replace(job, ids=tuple(ids)), reminder.region, later, reason
            )
            if reason not in ("quiet hours", "cap"):
                # The metric TextsHeldBackAlarm watches: an operator must fix the settings.
                metrics.add_metric(name="TextsHeldBack", unit=MetricUnit.Count, value=len(ids))
                logger.error(
                    "texts held back: the SMS channel cannot send",
                    extra={
                        "campaign_id": campaign.campaign_id,
                        "texts": len(ids),
                        "reason": reason,
                    },
                )
    return True


def _share_counter(outcome: str) -> str:
    """The counter of an organisation's share an outcome adds to (skips of any reason are
    "skipped")."""
    return "skipped" if outcome.startswith("skipped_") else outcome


class _Identities:
    """The organisations messages come from, as the sender needs them: read once per batch
    (most batches need one or two), the default organisation made from the deployment's own
    parameters."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._found: dict[str, Organisation] = {}

    def of(self, organisation_id: str) -> Organisation | None:
        """The organisation, or None for the default one (the deployment's own parameters,
        as every message was sent before coalitions)."""
        if organisation_id == DEFAULT_ORGANISATION:
            return None
        if organisation_id not in self._found:
            found = OrganisationStore(self._settings).get(organisation_id)
            if found is None:
                # A member's record names an organisation that is not kept: a bug, not a
                # reason to send under another's name.
                raise ValueError(f"no organisation {organisation_id!r}")
            self._found[organisation_id] = found
        return self._found[organisation_id]


class _Test:
    """A reminder's A/B test as one batch sees it: `test`, as frozen when its test share
    started (so the sender splits people as the fan-out did, whatever the organiser saved
    since, or whatever its campaign cache holds), and `winner()`, the variant the rest gets
    ("" before the decision). Read once a batch, and only for a campaign with tests (the
    decision comes after the wait; a batch of the rest comes after the decision)."""

    def __init__(self, campaigns: CampaignStore, campaign: Campaign, reminder: Reminder) -> None:
        own = campaign.ab_test_for(reminder)
        phase = campaigns.ab_phase(campaign.campaign_id, reminder.reminder_id) if own else None
        self.test = (phase.test if phase else None) or own
        self._winner = phase.winner if phase else ""

    def winner(self) -> str:
        return self._winner


def _sms_settings_problem(settings: Settings) -> str | None:
    """Why no text can be sent (the SMS channel's settings are wrong), or None."""
    try:
        settings.sms  # noqa: B018 (read and checked on first use)
    except SettingsError as error:
        return str(error)
    return None


class ReadAhead:
    """A batch's subscribers, read on a second thread from the start, a few first and then
    `READ_CHUNK` at a time, so that the wait for DynamoDB falls into the pacer's pauses between
    sends instead of into the time before the first one (which no pacing makes up for)."""

    def __init__(self, ids: list[str], read: Callable[[list[str]], dict[str, Subscriber]]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        self._chunk_of: dict[str, Future[dict[str, Subscriber]]] = {}
        starts = [0, *range(FIRST_READ, len(ids), READ_CHUNK)]
        for start, end in zip(starts, [*starts[1:], len(ids)], strict=True):
            chunk = ids[start:end]
            future = self._pool.submit(read, chunk)
            self._chunk_of.update(dict.fromkeys(chunk, future))

    def get(self, subscriber_id: str) -> Subscriber | None:
        """The subscriber, once their chunk is read (None: erased); a failed read raises here."""
        return self._chunk_of[subscriber_id].result().get(subscriber_id)

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def _store_short_links(
    campaign: Campaign,
    reminder: Reminder,
    found: dict[str, Subscriber],
    deliveries: DeliveryStore,
    settings: Settings,
    now: datetime,
) -> None:
    """Write the short codes of a chunk's texts before any of them goes out (one batch write)."""
    texts = [s for s in found.values() if s.channel == "sms" and skip_reason(s, campaign) is None]
    if texts:
        deliveries.put_short_links(
            {
                reminders.short_code(
                    settings, campaign.campaign_id, reminder.region, s.subscriber_id
                ): {
                    "campaign_id": campaign.campaign_id,
                    "region": reminder.region,
                    "subscriber_id": s.subscriber_id,
                    # One short code per campaign, region and person: the latest reminder's.
                    "reminder": reminder.reminder_id,
                    # whose done link it opens (none: the default organisation's)
                    **_organisation_attribute(organisations.attributed_to(s, campaign)),
                }
                for s in texts
            },
            now + tokens.LIFETIMES[tokens.Purpose.DONE],
        )


@dataclass(frozen=True)
class _Batch:
    """What every message of one send batch shares."""

    settings: Settings
    campaign: Campaign
    reminder: Reminder
    now: datetime
    pacers: Mapping[str, Pacer]
    deliveries: DeliveryStore
    drafts: reminders.Drafts
    # Whether the cap across campaigns lets a message go to this person now (`allowance`).
    decide: Callable[[Subscriber, datetime], Reservation | datetime]
    # What went out, (claim, provider's message id, its attributes): recorded after the batch.
    sent: list[tuple[str, str, dict[str, Any]]]
    # The reminder's A/B test, as frozen when its test share started (`_Test`).
    test: ab.ABTest | None = None
    # The organisations messages come from (`_Identities`).
    identities: _Identities | None = None


def _organisation_attribute(organisation: str | None) -> dict[str, str]:
    """The organisation a claim or a short link records: none for the default organisation,
    as every record from before coalitions."""
    if organisation in (None, DEFAULT_ORGANISATION):
        return {}
    return {"organisation": str(organisation)}


def _deliver_within_cap(
    batch: _Batch,
    subscriber: Subscriber,
    organisation: str,
    placed: ab.Assignment | None = None,
) -> str | datetime:
    """`_deliver`, if the cap across campaigns lets the message go now; else when it may.
    A deadline notice or the good news neither waits for the cap nor counts against it: it
    corrects what an earlier message said, once."""
    if batch.reminder.notice:
        outcome = _deliver(batch, subscriber, organisation, None)
        return "skipped_changed" if outcome == Outcome.CHANGED else outcome
    for _attempt in range(CAP_ATTEMPTS):
        allowed = batch.decide(subscriber, clock.now())
        if isinstance(allowed, datetime):
            # Unless it was sent already (a batch delivered again): then it counts as before.
            earlier = batch.deliveries.get(_delivery_key(batch, subscriber))
            if earlier is None:
                return allowed
            settled = ClaimState(earlier.get("state", ClaimState.CLAIMED)) in SETTLED
            return COUNTED_AS[Outcome.DUPLICATE if settled else Outcome.IN_DOUBT]
        outcome = _deliver(batch, subscriber, organisation, allowed, placed)
        if outcome != Outcome.CHANGED:
            return outcome
        # Another campaign's message was counted since this batch read them, or they left the
        # organisation the message was to come from but not the campaign: read them again, and
        # send from the organisation they belong to now.
        latest = SubscriberStore(batch.settings).get_many([subscriber.subscriber_id])
        if subscriber.subscriber_id not in latest:
            return "skipped_erased"
        subscriber = latest[subscriber.subscriber_id]
        attributed = organisations.attributed_to(subscriber, batch.campaign)
        if attributed is None:
            return "skipped_not_a_member"
        organisation = attributed
    return clock.now() + CAP_RETRY


def _delivery_key(batch: _Batch, subscriber: Subscriber) -> str:
    return layout.reminder_delivery(
        batch.campaign.campaign_id,
        batch.reminder.region,
        batch.reminder.days_before,
        subscriber.subscriber_id,
        subscriber.channel,
        batch.reminder.notice,
    )


def _deliver(
    batch: _Batch,
    subscriber: Subscriber,
    organisation: str,
    reservation: Reservation | None,
    placed: ab.Assignment | None = None,
) -> str:
    """Render one message, from `organisation`, then send it through the send-once path; its
    outcome as counted ("sent", "failed", "unknown", "skipped_..."). Everything that can fail
    before the provider is reached happens before the claim, so that a failure there leaves
    nothing behind and the batch's retry sends it."""
    settings, campaign, reminder, now = batch.settings, batch.campaign, batch.reminder, batch.now
    key = _delivery_key(batch, subscriber)
    attributes = {
        "campaign_id": campaign.campaign_id,
        "region": reminder.region,
        "channel": subscriber.channel,
        # whose message it was: its conversion and its unsubscribe are that organisation's
        **_organisation_attribute(organisation),
    }
    identity = batch.identities.of(organisation) if batch.identities else None
    sender = messages_from(settings, identity).sender
    test = batch.test
    variant = test.variant(placed.variant) if test and placed else None
    if placed is not None:  # which variant went, for its conversion to be counted under it
        attributes.update(variant=placed.variant, ab_group=placed.group)
    link = reminders.links(
        settings,
        campaign,
        reminder,
        subscriber.subscriber_id,
        now,
        organisation,
        named=bool(subscriber.memberships),
    )
    if subscriber.channel == "email":
        draft = batch.drafts.email(subscriber, link, variant, identity)
        mime = email.build(settings, draft, sender)
    else:
        text = batch.drafts.sms(
            subscriber,
            link,
            first=not subscriber.sms_introduced,
            variant=variant,
            organisation=identity,
        )

    def send() -> str:
        batch.pacers[subscriber.channel].wait()  # after the claim: a duplicate takes no turn
        if subscriber.channel == "email":
            tags = {"campaign": campaign.campaign_id, "region": reminder.region}
            return email.send_raw(settings, subscriber.contact, mime, tags, sender)
        return sms.send(settings, text)

    delivery = send_once.deliver(
        batch.deliveries,
        key,
        now,
        send,
        # Written with the rest of the batch's (`record_sent_many`), one request for 25.
        record_sent=lambda message_id: batch.sent.append((key, message_id, attributes)),
        subscriber_id=subscriber.subscriber_id,
        reservation=reservation,
        **attributes,
    )
    if delivery.outcome is Outcome.CHANGED:
        return Outcome.CHANGED
    if delivery.outcome is Outcome.LEFT:
        # They left, or said they are done, after this batch read them: it still counts.
        latest = (
            SubscriberStore(settings)
            .get_many([subscriber.subscriber_id])
            .get(subscriber.subscriber_id)
        )
        reason = skip_reason(latest, campaign)
        if reason is None:  # they left the organisation it came from, not the campaign's others
            return Outcome.CHANGED
        return f"skipped_{reason}"
    if delivery.opted_out:  # they said STOP to the provider: honour it everywhere
        left = SubscriberStore(settings).unsubscribe(
            subscriber.subscriber_id, now, by_text=subscriber.channel == "sms"
        )
        if left is Status.ACTIVE:
            events.emit(
                settings,
                EventType.SUBSCRIBER_UNSUBSCRIBED,
                event_data.subscriber_unsubscribed(
                    subscriber.subscriber_id,
                    subscriber.channel,
                    event_data.KEYWORD,
                    clock.iso(now),
                    campaign.campaign_id,
                ),
                now,
                key=event_data.key(subscriber.subscriber_id, clock.iso(now)),
            )
    if (
        delivery.outcome is Outcome.SENT
        and subscriber.channel == "sms"
        and not subscriber.sms_introduced
    ):
        SubscriberStore(settings).mark_sms_introduced(subscriber.subscriber_id)
    return COUNTED_AS[delivery.outcome]
