"""The launch check: can every reminder of a campaign go out within its window?

For each reminder that has not gone out: how many people it reaches by email and by text (the
audience index, filtered as the fan-out filters it), how fast each channel may send (SES's
maximum send rate, or the configured one; the SMS throughput setting), and so how long the
sending takes, against the window it has: from its due time to 21:00 in the region's reference
zone (texts may not go out later, and a reminder read at night is a reminder wasted), and for
the reminders before the deadline, not past the deadline. Also: whether one day's emails fit in
SES's 24-hour quota. Problems come back as sentences an organiser can act on.

A reminder with an A/B test (`optout.domain.ab`) sends its test share when due and the rest
after the organiser's wait: the check says when the rest goes, and warns when the wait pushes
it past the region's deadline or past the evening (the daytime window), or leaves the rest too
little of the window to be sent in.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from optout.channels import email
from optout.core.clock import iso, parse_iso
from optout.core.errors import NotFound
from optout.core.settings import Settings
from optout.domain import plan, policy, regions
from optout.domain.ab import ABTest
from optout.domain.cap import Cap, Planned, pushed_past_deadline
from optout.domain.models import Campaign, CampaignStatus, Reminder, ReminderState
from optout.domain.quiet_hours import QUIET_FROM
from optout.organisers import organisations
from optout.sending import fanout
from optout.store import AUDIENCE_SHARDS, CampaignStore, OrganisationStore, SubscriberStore


@dataclass(frozen=True)
class Rates:
    email_per_second: float
    sms_per_second: float
    email_per_day: float  # SES's 24-hour quota; inf when unknown
    source: str


def check(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """Every unsent reminder of the campaign with its audience, time needed, window, problems."""
    store = CampaignStore(settings)
    campaign = store.get_campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    rates = sending_rates(settings)
    counted: dict[str, Counter[str]] = {}
    rows = []
    for reminder in sorted(store.reminders(campaign_id), key=lambda r: r.due_at):
        if reminder.state != ReminderState.PENDING:
            continue
        if reminder.region not in counted:  # a region's reminders share one audience
            counted[reminder.region] = audience_by_channel(settings, reminder)
        row = _assess(reminder, counted[reminder.region], rates)
        test = campaign.ab_test_for(reminder)
        if test is not None:
            _assess_wait(reminder, test, counted[reminder.region], rates, row)
        rows.append(row)
    _check_daily_quota(rows, rates)
    _check_cap(settings, store, campaign_id, rows, now)
    # A draft that still lacks regions, steps or the setting's address cannot be launched.
    lacking = (
        policy.launch_problem(campaign.policy, campaign.regions)
        if campaign.status is CampaignStatus.DRAFT
        else ""
    )
    problems = [lacking] if lacking else []
    problems += _unverified_senders(settings, campaign)
    return {
        "campaign_id": campaign_id,
        "checked_at": iso(now),
        "rates": {
            "email_per_second": rates.email_per_second,
            "sms_per_second": rates.sms_per_second,
            "email_per_day": None if math.isinf(rates.email_per_day) else rates.email_per_day,
            "source": rates.source,
        },
        "reminders": rows,
        # Late joiners get the latest reminder at once (`sending.catch_up`), outside this
        # plan: one message each, as they confirm, so they take little of any window.
        "catch_up": campaign.catch_up,
        "problems": problems,
        "ok": not problems and all(not row["problems"] for row in rows),
    }


def _unverified_senders(settings: Settings, campaign: Campaign) -> list[str]:
    """A problem for each organisation of a shared campaign whose From address SES would
    refuse (not verified): its members' reminders would all fail. The default organisation's
    is the deployment's own, verified when it was deployed."""
    found = []
    for organisation in OrganisationStore(settings).organisations():
        if organisation.organisation_id in campaign.organisations:
            problem = organisations.sender_check(organisation)["problem"]
            if problem:
                found.append(f"{organisation.name}: {problem}")
    return found


def sending_rates(settings: Settings) -> Rates:
    """What all senders together may send: SES's own figures unless a rate is configured."""
    sending = settings.sending
    sms = sending.sms_rate_per_second
    if sending.send_rate_per_second > 0:
        emails = sending.send_rate_per_second * sending.sender_concurrency
        return Rates(emails, sms, math.inf, "SendRatePerSecond times SenderConcurrency")
    quota = email.send_quota()
    return Rates(quota.max_send_rate, sms, quota.max_24_hour_send, "SES GetSendQuota")


def audience_by_channel(settings: Settings, reminder: Reminder) -> Counter[str]:
    """People the reminder reaches, by channel: the fan-out's own filter over the index."""
    subscribers = SubscriberStore(settings)
    counts: Counter[str] = Counter()
    for group in reminder.audience.groups:
        for shard in range(AUDIENCE_SHARDS):
            cursor = ""
            while True:
                members, more = subscribers.audience_page(
                    group, shard, after=cursor, limit=fanout.PAGE_SIZE
                )
                counts.update(
                    member.channel
                    for member in fanout.reached_members(subscribers, members, reminder)
                )
                if not more or not members:
                    break
                cursor = members[-1].subscriber_id
    return counts


def _assess(reminder: Reminder, audience: Counter[str], rates: Rates) -> dict[str, Any]:
    due = parse_iso(reminder.due_at)
    window_end = _window_end(reminder, due)
    window = max((window_end - due).total_seconds(), 0.0)
    needs = {
        "email": audience["email"] / rates.email_per_second if rates.email_per_second else math.inf,
        "sms": audience["sms"] / rates.sms_per_second if rates.sms_per_second else math.inf,
    }
    problems = []
    for channel, seconds in needs.items():
        if audience[channel] and seconds > window:
            rate = rates.email_per_second if channel == "email" else rates.sms_per_second
            late = audience[channel] - int(window * rate)
            noun = "emails" if channel == "email" else "texts"
            problems.append(
                f"{reminder.region} {reminder.kind}: {audience[channel]:,} {noun} at "
                f"{rate:g} a second take {_duration(seconds)}, but the window until "
                f"{_clock(window_end)} is {_duration(window)}: about {late:,} would go out late. "
                + (
                    "Ask AWS to raise the SES sending rate, or plan it earlier in the day."
                    if channel == "email"
                    else "Add origination numbers (raise SmsRatePerSecond), or plan it earlier."
                )
            )
    return {
        "region": reminder.region,
        "kind": reminder.kind,
        "due_at": reminder.due_at,
        "window_ends_at": iso(window_end),
        "audience": {"email": audience["email"], "sms": audience["sms"]},
        "seconds_needed": {
            channel: None if math.isinf(s) else round(s) for channel, s in needs.items()
        },
        "window_seconds": round(window),
        "problems": problems,
        "ab_test": None,  # a reminder with an A/B test: when its rest goes (`_assess_wait`)
    }


def _assess_wait(
    reminder: Reminder,
    test: ABTest,
    audience: Counter[str],
    rates: Rates,
    row: dict[str, Any],
) -> None:
    """When the rest of an A/B-tested reminder goes, and whether it still goes in its window."""
    due = parse_iso(reminder.due_at)
    window_end = _window_end(reminder, due)
    rest_at = due + test.wait
    deadline = parse_iso(reminder.deadline)
    row["ab_test"] = {
        "share": test.share,
        "wait_hours": test.wait / timedelta(hours=1),
        "variants": [variant.name for variant in test.variants],
        "rest_at": iso(rest_at),
    }
    what = f"{reminder.region} {reminder.kind}: its A/B test waits {_duration(test.wait.total_seconds())}"
    # The wait starts when the test share starts going out: a share that takes much of the
    # wait to send leaves its last readers little time to convert before the decision.
    share = {channel: round(audience[channel] * test.share) for channel in ("email", "sms")}
    for channel, rate in (("email", rates.email_per_second), ("sms", rates.sms_per_second)):
        seconds = share[channel] / rate if rate else math.inf
        if share[channel] and seconds > test.wait.total_seconds() / 2:
            noun = "emails" if channel == "email" else "texts"
            row["problems"].append(
                f"{what}, but its test share's {share[channel]:,} {noun} take "
                f"{_duration(seconds)} to send, and the wait starts when they start: its last "
                "readers would have little time to convert. Lengthen the wait, or lower the share."
            )
    if reminder.days_before > 0 and rest_at >= deadline:
        row["problems"].append(
            f"{what}, so the rest would get it at {_clock(rest_at)}, past the deadline "
            f"({_clock(deadline)}). Shorten the wait."
        )
        return
    if rest_at >= window_end:
        row["problems"].append(
            f"{what}, so the rest would get it at {_clock(rest_at)}, after the day's window "
            f"ends at {_clock(window_end)} (texts would wait for the morning). Shorten the wait, "
            "or plan the reminder earlier in the day."
        )
        return
    left = (window_end - rest_at).total_seconds()
    rest = {channel: round(audience[channel] * (1 - test.share)) for channel in ("email", "sms")}
    for channel, rate in (("email", rates.email_per_second), ("sms", rates.sms_per_second)):
        seconds = rest[channel] / rate if rate else math.inf
        if rest[channel] and seconds > left:
            noun = "emails" if channel == "email" else "texts"
            row["problems"].append(
                f"{what}: the rest's {rest[channel]:,} {noun} take {_duration(seconds)}, but "
                f"only {_duration(left)} of the window is left after it. Shorten the wait."
            )


def _window_end(reminder: Reminder, due: datetime) -> datetime:
    """21:00 on the due day in the region's reference zone; not past the deadline either."""
    zone = plan.reference_zone(regions.resolve(reminder.region))
    local_due = due.astimezone(zone)
    evening = datetime.combine(local_due.date(), QUIET_FROM, tzinfo=zone)
    if evening <= local_due:
        evening += timedelta(days=1)
    deadline = parse_iso(reminder.deadline)
    return min(evening, deadline) if deadline > due else evening


def _check_daily_quota(rows: list[dict[str, Any]], rates: Rates) -> None:
    """Emails due on the same UTC day must fit in SES's 24-hour quota."""
    by_day: Counter[str] = Counter()
    for row in rows:
        by_day[row["due_at"][:10]] += row["audience"]["email"]
    for day, emails in by_day.items():
        if emails > rates.email_per_day:
            first = next(row for row in rows if row["due_at"].startswith(day))
            first["problems"].append(
                f"{emails:,} emails are due on {day}, over SES's quota of "
                f"{rates.email_per_day:,.0f} in 24 hours: ask AWS to raise it before then."
            )


def _check_cap(
    settings: Settings,
    store: CampaignStore,
    campaign_id: str,
    rows: list[dict[str, Any]],
    now: datetime,
) -> None:
    """For someone in a region of the campaign who follows every live campaign there: would
    the cap across campaigns (`domain.cap`) hold one of their reminders until its deadline?"""
    sending = settings.sending
    limits = Cap(sending.messages_per_day, sending.messages_per_week)
    upcoming = [
        (campaign, reminder)
        for campaign in store.campaigns()
        if campaign.status is CampaignStatus.ACTIVE or campaign.campaign_id == campaign_id
        for reminder in store.reminders(campaign.campaign_id)
        if reminder.state == ReminderState.PENDING
        and not reminder.notice
        and reminder.due_at >= iso(now)
    ]
    for row in rows:
        region = row["region"]
        if any(other["region"] == region for other in rows[: rows.index(row)]):
            continue  # a region is weighed once, its problems on its first reminder
        zone = plan.reference_zone(regions.resolve(region))
        mine = [r for c, r in upcoming if c.campaign_id == campaign_id and r.region == region]
        if not mine:
            continue
        reach = set(mine[0].audience.groups)
        planned = {
            Planned.of(
                f"{campaign.platform} {reminder.kind} ({campaign.campaign_id})",
                parse_iso(reminder.due_at).astimezone(zone),
                parse_iso(
                    campaign.regions.get(reminder.region, reminder.deadline) or reminder.due_at
                ),
            ): reminder
            for campaign, reminder in upcoming
            if reach & set(reminder.audience.groups)
        }
        for late, when in pushed_past_deadline(limits, list(planned)):
            row["problems"].append(
                f"{region} {late.key}: for someone who follows every campaign here, the cap "
                f"across campaigns (MessagesPerDay {limits.per_day}, MessagesPerWeek "
                f"{limits.per_week}) holds it until {when:%a %d %b %H:%M}, past its deadline. "
                "Move a reminder to another day, or raise MessagesPerDay or MessagesPerWeek."
            )


def _duration(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M %Z").strip()
