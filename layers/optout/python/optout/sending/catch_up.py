"""Late joiners caught up. "One week left" is what makes people sign up, in a campaign's last
week; someone who confirms the day after it went out would otherwise hear nothing until "last
day", and someone who confirms after that, nothing before the deadline.

So whoever becomes active (confirms, is imported with proof of consent, or texts START) while a
campaign of their platform and region is under way gets that region's latest reminder at once
(`plan.catch_up` says which), and then the rest of the sequence as everyone does. The
activation queues a `CatchUpJob` on the notice queue; the notifier turns it into send jobs
marked `catch_up`, which the sender sends as it sends any reminder: texts wait for the
person's morning, and the delivery claim of (campaign, reminder, person, channel) means a
reminder they were already sent, or that a fan-out under way sends them too, goes once. The
sender counts them "caught_up" per region. In a coalition, only campaigns of an organisation
they belong to catch them up: someone who joins organisation B gets B's campaigns' latest
reminder (and none of A's, unless they are A's too; whoever had it already, from A, is kept
from a second copy by the claim). Organisers turn it off per campaign
(`"plan": {"catch_up": false}` in the policy-change body, or `POST
/admin/campaigns/{id}/catch-up`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from optout.core import queues
from optout.core.clock import iso
from optout.core.jobs import CatchUpJob, SendJob
from optout.core.observability import MetricUnit, logger, metrics
from optout.core.settings import Settings
from optout.domain import organisations, plan
from optout.domain.models import Campaign, CampaignStatus, Status
from optout.store import CampaignStore, SubscriberStore

IDS_PER_JOB = 200  # as the fan-out packs its send jobs


def request(settings: Settings, subscriber_ids: Sequence[str], now: datetime) -> int:
    """Queue the catch-up of people who have just become active, `IDS_PER_JOB` to a job; how
    many could not be queued (logged: they still get every reminder from the next one on)."""
    ids = list(dict.fromkeys(subscriber_ids))
    jobs = [
        CatchUpJob(tuple(ids[start : start + IDS_PER_JOB]), iso(now))
        for start in range(0, len(ids), IDS_PER_JOB)
    ]
    refused = queues.enqueue_each(settings.notice_queue_url, jobs)
    missed = sum(len(jobs[position].subscriber_ids) for position in refused)
    if missed:
        logger.warning("catch-up not queued", extra={"subscribers": missed})
    return missed


def queue_reminders(settings: Settings, job: CatchUpJob, now: datetime) -> int:
    """Queue to the sender, for the people of `job` still active, the latest reminder of each
    campaign under way that reaches them; how many messages were queued."""
    found = SubscriberStore(settings).get_many(list(job.subscriber_ids))
    people = [person for person in found.values() if person.status is Status.ACTIVE]
    if not people:
        return 0
    store = CampaignStore(settings)
    due: dict[tuple[str, str], list[str]] = defaultdict(list)
    for campaign in store.campaigns():
        if not _catches_up(campaign):
            continue
        # Judged by each region's deadline as it holds now: it may have moved since they went out.
        reminders = [
            replace(reminder, deadline=campaign.regions.get(reminder.region, reminder.deadline))
            for reminder in store.reminders(campaign.campaign_id)
        ]
        for person in people:
            if campaign.campaign_id in person.done_campaigns:
                continue
            if organisations.attributed_to(person, campaign) is None:
                continue  # a member of none of its organisations
            reminder = plan.catch_up(reminders, person, now)
            if reminder is not None:
                due[(campaign.campaign_id, reminder.reminder_id)].append(person.subscriber_id)
    jobs = [
        SendJob(campaign_id, reminder_id, tuple(ids), catch_up=True)
        for (campaign_id, reminder_id), ids in due.items()
    ]
    queues.enqueue_many(settings.send_queue_url, jobs)
    queued = sum(len(send.ids) for send in jobs)
    metrics.add_metric(name="CatchUpQueued", unit=MetricUnit.Count, value=queued)
    return queued


def _catches_up(campaign: Campaign) -> bool:
    """Campaigns whose late joiners are caught up: running ones that allow it; not an ad-hoc
    send, which organisers timed for the people they chose."""
    return (
        campaign.status is CampaignStatus.ACTIVE
        and campaign.catch_up
        and campaign.message == "reminder"
    )
