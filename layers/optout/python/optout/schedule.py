"""The scheduler's tick: find reminders that are due and queue their fan-out, one job per
audience shard of each home group the reminder reaches."""

from __future__ import annotations

from datetime import datetime, timedelta

from optout import queues
from optout.observability import MetricUnit, logger, metrics
from optout.settings import Settings
from optout.store import AUDIENCE_SHARDS, CampaignStore

# Longer than any tick can take; a tick that dies leaves its reminders to the next one after this.
LEASE = timedelta(minutes=10)


def tick(settings: Settings, now: datetime) -> int:
    """Queue the fan-out of every due reminder this tick can lease; returns how many."""
    campaigns = CampaignStore(settings)
    started = 0
    for reminder in campaigns.due_reminders(now):
        if not campaigns.lease_reminder(reminder, now, LEASE):
            continue
        jobs = [
            {
                "campaign_id": reminder["campaign_id"],
                "reminder": reminder["sk"],
                "group": group,
                "shard": shard,
            }
            for group in reminder["groups"]
            for shard in range(AUDIENCE_SHARDS)
        ]
        queues.enqueue_many(settings.fanout_queue_url, jobs)
        campaigns.mark_fanned_out(reminder, len(jobs), now)
        logger.info("reminder fanned out", extra={"reminder": reminder["sk"], "jobs": len(jobs)})
        started += 1
    metrics.add_metric(name="RemindersStarted", unit=MetricUnit.Count, value=started)
    return started
