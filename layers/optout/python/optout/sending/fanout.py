"""Fan-out: one job pages one audience shard and turns it into send batches.

A job names a reminder, a home group and a shard. It pages the shard's active subscribers in
id order, keeps those the campaign reaches (platform and region), and queues them to the sender
in packed messages (many ids per message, ten messages per SendMessageBatch). After each page
it checkpoints its position on the reminder, so a redelivered job resumes where the last one
stopped; when the Lambda's time runs low it queues a continuation instead of failing.

A segment of the people who said "I've switched it off" in a campaign (`Segment.converted_in`,
the "check it again" follow-up) pages the same audience: the index does not hold what each
person converted in, so the members a page keeps on every other rule are read for it, 100 to a
request (`SubscriberStore.with_done_campaigns`). Unsubscribed and erased people are not in the
index, so never among them.

In a coalition (a deployment with organisations besides the default one, read once a job), a
campaign reaches the active members of its organisations only: the members a page keeps on
every other rule have their memberships read, 100 to a request (`SubscriberStore.memberships`),
and those of none of the campaign's organisations are left out, not counted in its audience.
A deployment with no other organisation reads nothing more: everyone is the default one's.

A reminder with an A/B test is fanned out twice (`optout.campaigns.schedule`): a job of its
"test" phase queues only the people of its test share and counts the rest as held for the
test result; a job of its "rest" phase, after the wait, queues only the rest. Each phase keeps
its own checkpoints, so the second pages the shards again from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from optout.core import queues
from optout.core.jobs import FanoutJob, SendJob, batch_id
from optout.core.observability import MetricUnit, metrics
from optout.core.settings import Settings
from optout.domain import ab
from optout.domain.models import (
    DEFAULT_ORGANISATION,
    STARTED,
    Audience,
    AudienceMember,
    Campaign,
    Membership,
    MembershipStatus,
    Reminder,
    Segment,
)
from optout.store import FANOUT_DONE, CampaignStore, OrganisationStore, SubscriberStore, layout

PAGE_SIZE = 2000  # subscribers per query page, and per checkpoint
IDS_PER_MESSAGE = 200  # subscriber ids per send-queue message (about 7 KiB)
MIN_REMAINING_MS = 30_000  # below this, hand the rest of the shard to a continuation


def run(
    settings: Settings, job: FanoutJob, remaining_ms: Callable[[], int], now: datetime
) -> dict[str, Any]:
    """Fan one shard of one reminder out to the send queue; what was done, for the log."""
    campaigns = CampaignStore(settings)
    reminder = campaigns.get_reminder(job.campaign_id, job.reminder)
    if reminder is None:
        raise ValueError(f"no reminder {job.reminder!r} in campaign {job.campaign_id!r}")
    if reminder.state not in STARTED:
        # Not started as far as this read sees: let SQS bring the job back rather than drop it.
        raise RuntimeError(f"reminder {job.reminder!r} is {reminder.state}, not fanning out")
    # how the reminder's progress names the shard, in this phase
    shard = layout.fanout_progress(layout.audience_pk(job.group, job.shard), job.phase)
    in_phase = _phase_filter(campaigns, job, reminder)
    checkpoint = reminder.progress.get(shard, "")
    if checkpoint == FANOUT_DONE:
        return {"outcome": "skipped", "reason": "shard already done"}
    cursor = max(job.cursor, checkpoint)  # ids sort, so the later one wins
    subscribers = SubscriberStore(settings)
    members_of = _members_of(settings, campaigns, job.campaign_id)
    queued = pages = 0
    while True:
        members, more = subscribers.audience_page(
            job.group, job.shard, after=cursor, limit=PAGE_SIZE
        )
        pages += 1
        ids = [member.subscriber_id for member in reached_members(subscribers, members, reminder)]
        if members_of is not None:
            ids = members_of(subscribers, ids)
        if in_phase is not None:
            kept = [subscriber_id for subscriber_id in ids if in_phase(subscriber_id)]
            if job.phase == ab.TEST:
                # Counted once a page (named by where it starts), however often it is paged.
                page = f"{shard}@{cursor}"
                campaigns.add_ab_held(job.campaign_id, job.reminder, len(ids) - len(kept), page)
            ids = kept
        batches = _enqueue(settings, job, ids)
        queued += len(ids)
        if not more:
            # The last page's counts ride on the write that marks the shard done.
            campaigns.finish_shard(reminder, shard, now, audience=len(ids), batches=batches)
            metrics.add_metric(name="FanoutSubscribers", unit=MetricUnit.Count, value=queued)
            return {"outcome": "done", "shard": shard, "queued": queued, "pages": pages}
        if members:
            cursor = members[-1].subscriber_id
            campaigns.record_fanout_page(reminder, shard, cursor, len(ids), batches)
        if remaining_ms() < MIN_REMAINING_MS:
            queues.enqueue(settings.fanout_queue_url, replace(job, cursor=cursor))
            metrics.add_metric(name="FanoutSubscribers", unit=MetricUnit.Count, value=queued)
            return {"outcome": "continued", "shard": shard, "queued": queued, "cursor": cursor}


def _members_of(
    settings: Settings, campaigns: CampaignStore, campaign_id: str
) -> Callable[[SubscriberStore, list[str]], list[str]] | None:
    """What keeps, of a page's people, the members of the campaign's organisations; None when
    the deployment has no organisation besides the default one (everyone is its member)."""
    if not OrganisationStore(settings).organisations():
        return None
    campaign = campaigns.get_campaign(campaign_id)
    if campaign is None:
        raise ValueError(f"no campaign {campaign_id!r}")

    def members_of(subscribers: SubscriberStore, ids: list[str]) -> list[str]:
        found = subscribers.memberships(ids)
        return [s for s in ids if s in found and belongs(found[s], campaign)]

    return members_of


def belongs(memberships: tuple[Membership, ...], campaign: Campaign) -> bool:
    """Whether someone of the audience index (an active record) with these memberships is an
    active member of one of the campaign's organisations; a record with none is the default
    organisation's member (`optout.domain.organisations.memberships_of`)."""
    if not memberships:
        return DEFAULT_ORGANISATION in campaign.organisations
    return any(
        m.status is MembershipStatus.ACTIVE and m.organisation in campaign.organisations
        for m in memberships
    )


def _phase_filter(
    campaigns: CampaignStore, job: FanoutJob, reminder: Reminder
) -> Callable[[str], bool] | None:
    """Whether a subscriber belongs to the job's phase of the reminder's A/B test; None when
    the job has no phase (everyone it reaches goes)."""
    if not job.phase:
        return None
    # The test as frozen when its test share started: the sender splits by the same one.
    phase = campaigns.ab_phase(job.campaign_id, job.reminder)
    test = phase.test if phase else None
    if test is None:
        campaign = campaigns.get_campaign(job.campaign_id)
        test = campaign.ab_test_for(reminder) if campaign else None
    if test is None:
        # The test is gone (the campaign with it): the test phase sends it to everyone and
        # the rest phase to nobody, so that each person still gets it once.
        return None if job.phase == ab.TEST else (lambda subscriber_id: False)

    def in_phase(subscriber_id: str) -> bool:
        placed = ab.assign(test, job.campaign_id, job.reminder, subscriber_id)
        return placed.group == job.phase

    return in_phase


def reached_members(
    subscribers: SubscriberStore, members: list[AudienceMember], reminder: Reminder
) -> list[AudienceMember]:
    """The members of an index page the reminder reaches (`reached`), in index order."""
    segment = reminder.segment
    if segment is not None and segment.converted_in:
        # Only those every other rule keeps are read (a point read each).
        others = replace(segment, converted_in="")
        members = subscribers.with_done_campaigns(
            [m for m in members if reached(m, reminder.audience, reminder.platform, others)]
        )
    return [
        member
        for member in members
        if reached(member, reminder.audience, reminder.platform, segment)
    ]


def reached(
    member: AudienceMember, audience: Audience, platform: str, segment: Segment | None = None
) -> bool:
    """Whether a reminder for `platform` to `audience` goes to the subscriber of an index item
    (who gave no platforms asked about every platform); an ad-hoc send's `segment` narrows it
    to some platforms, one channel, some languages, and to those who said they switched it off
    in one campaign (as `member.done_campaigns` says: filled in only when that is asked)."""
    platforms = member.platforms
    if not audience.includes(member.region):
        return False
    if platform and platforms and platform not in platforms:
        return False
    if segment is None:
        return True
    wanted = segment.platforms
    return (
        (not wanted or not platforms or bool(set(wanted) & set(platforms)))
        and segment.channel in (None, member.channel)
        and (not segment.locales or member.locale in segment.locales)
        and (not segment.converted_in or segment.converted_in in member.done_campaigns)
    )


def _enqueue(settings: Settings, job: FanoutJob, ids: list[str]) -> int:
    """Queue `ids` for the sender in packed messages; how many messages."""
    chunks = [
        tuple(ids[start : start + IDS_PER_MESSAGE]) for start in range(0, len(ids), IDS_PER_MESSAGE)
    ]
    messages = [
        SendJob(job.campaign_id, job.reminder, chunk, batch=batch_id(chunk)) for chunk in chunks
    ]
    queues.enqueue_many(settings.send_queue_url, messages)
    return len(messages)
