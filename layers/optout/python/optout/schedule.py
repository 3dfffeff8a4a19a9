"""The scheduler's tick: find reminders that are due and queue their fan-out, one job per
audience shard of each home group the reminder reaches.

When several reminders of one campaign and region are due at once (the scheduler was down, or
the clock jumped), only the latest goes out; the others are superseded, so that nobody reads
"two weeks left" a week before the deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from optout import plan, queues
from optout.observability import MetricUnit, logger, metrics
from optout.settings import Settings
from optout.store import AUDIENCE_SHARDS, CampaignStore

# Longer than any tick can take; a tick that dies leaves its reminders to the next one after this.
LEASE = timedelta(minutes=10)


def tick(settings: Settings, now: datetime) -> dict[str, int]:
    """Queue the fan-out of every due reminder this tick can lease."""
    campaigns = CampaignStore(settings)
    to_send, superseded = plan.supersede(campaigns.due_reminders(now))
    dropped = sum(campaigns.end_reminder(reminder, "superseded", now) for reminder in superseded)
    started = 0
    for reminder in to_send:
        if not campaigns.lease_reminder(reminder, now, LEASE):
            continue
        jobs = [
            {
                "campaign_id": reminder["campaign_id"],
                "reminder": reminder["sk"],
                "group": group,
                "shard": shard,
            }
            for group in reminder["audience"]["groups"]
            for shard in range(AUDIENCE_SHARDS)
        ]
        queues.enqueue_many(settings.fanout_queue_url, jobs)
        campaigns.mark_fanned_out(reminder, len(jobs), now)
        logger.info(
            "reminder fan-out queued",
            extra={
                "campaign_id": reminder["campaign_id"],
                "reminder": reminder["sk"],
                "jobs": len(jobs),
            },
        )
        started += 1
    metrics.add_metric(name="RemindersStarted", unit=MetricUnit.Count, value=started)
    metrics.add_metric(name="RemindersSuperseded", unit=MetricUnit.Count, value=dropped)
    return {"reminders_started": started, "reminders_superseded": dropped}
