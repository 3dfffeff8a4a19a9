"""The scheduler's tick: find what is due and queue it.

Due are reminders (queued as one fan-out job per audience shard of each home group they reach;
those of a draft or paused campaign wait), deferred send batches (text messages held back over
someone's night, queued to the sender as they are, unless the deadline passed meanwhile and
the region's next reminder comes within hours: then they give way to it) and deferred notices (confirmation texts asked for at night, queued back to the
notifier), and campaigns whose last deadline has come, to see whether they have finished
(`finish`). When several reminders of one campaign and region are due at once (the scheduler
was down, or the clock jumped), only the latest goes out; the others are superseded, so that
nobody reads "two weeks left" a week before the deadline. A reminder whose templates do not
render fails before anything is sent.

A reminder with an A/B test (`optout.domain.ab`) goes in two phases of one fan-out: its test
share when it is due, and, after the organiser's wait, the rest, with the variant the test share's
conversions chose (decided here, once, and kept on the test's item). Both phases page the same
shards; each person is in one of them, and the delivery's claim is the reminder's, so nobody gets
it twice whichever phase reaches them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from optout.campaigns import policy_changes
from optout.core import jobs, queues
from optout.core.clock import iso, parse_iso
from optout.core.observability import MetricUnit, logger, metrics
from optout.core.settings import Settings
from optout.domain import ab, event_data, plan
from optout.domain.models import HELD, Campaign, CampaignStatus, Reminder, ReminderState
from optout.messages import reminders
from optout.messages.render import RenderError
from optout.store import AUDIENCE_SHARDS, ABPhase, CampaignStore, DeferredBatch, FinishCheck

# Longer than any tick can take; a tick that dies leaves its work to the next one after this.
LEASE = timedelta(minutes=10)
# A campaign not finished yet when its finish check is due is looked at again this much later;
# and its last fan-out must have ended this long before, for the send queue to have drained.
FINISH_RETRY = timedelta(hours=1)
SEND_GRACE = timedelta(hours=1)
# Reminders that may still go out.
_UNDER_WAY = frozenset({ReminderState.PENDING, ReminderState.FANNING_OUT})


def tick(settings: Settings, now: datetime) -> dict[str, int]:
    """Queue everything due that this tick can lease; how much of each kind."""
    campaigns = CampaignStore(settings)
    upcoming = campaigns.due(now + plan.SOON)
    to_send, superseded = plan.supersede(upcoming.reminders, now)
    deferred = [batch for batch in upcoming.batches if batch.due_at <= iso(now)]
    notices = [notice for notice in upcoming.notices if notice.due_at <= iso(now)]
    checks = [check for check in upcoming.finish_checks if check.due_at <= iso(now)]
    rest_phases = [phase for phase in upcoming.rest_phases if phase.due_at <= iso(now)]
    result = {
        "reminders_superseded": sum(
            campaigns.end_reminder(item, ReminderState.SUPERSEDED, now) for item in superseded
        ),
        "reminders_started": 0,
        "reminders_failed": 0,
        "reminders_held": 0,
        "deferred_batches_released": 0,
        "deferred_batches_superseded": 0,
        "deferred_notices_released": 0,
        "campaigns_finished": 0,
        "ab_rest_started": 0,
        "ab_rest_held": 0,
        "ab_rest_cancelled": 0,
        "ab_rest_superseded": 0,
        "ab_rest_moved": 0,
    }
    held = _held(campaigns, {reminder.campaign_id for reminder in to_send})
    for reminder in to_send:
        if reminder.campaign_id in held:
            # It stays due: on launch or resume, the latest reminder of each region goes out.
            result["reminders_held"] += 1
        elif campaigns.lease(reminder, now, LEASE):
            outcome = _start(settings, campaigns, reminder, now)
            result[f"reminders_{outcome}"] += 1
    # A rest phase waits while its campaign is held back, and while it is withdrawn too: if
    # it is revived, its rest goes then, or gives way to a later reminder (`_start_rest`).
    resting = _held(campaigns, {phase.campaign_id for phase in rest_phases}, withdrawn=True)
    for phase in rest_phases:
        if phase.campaign_id in held | resting:
            result["ab_rest_held"] += 1  # it stays due: it goes once the campaign is resumed
        elif campaigns.lease(phase, now, LEASE):
            result[f"ab_rest_{_start_rest(settings, campaigns, phase, now)}"] += 1
    plans: dict[str, list[Reminder]] = {}  # each campaign's reminders, read once a tick
    for batch in deferred:
        if campaigns.lease(batch, now, LEASE):
            outcome = _release(settings, campaigns, batch, plans, now)
            result[f"deferred_batches_{outcome}"] += 1
    for notice in notices:
        if campaigns.lease(notice, now, LEASE):
            try:
                job = jobs.read(jobs.NoticeJob, notice.body)
            except jobs.MalformedJob as error:
                # Left where it is (leased, so retried after the lease) for a person to read;
                # the notices after it still go.
                logger.error("deferred notice malformed", extra={"error": str(error)})
                continue
            queues.enqueue(settings.notice_queue_url, job)
            campaigns.release_deferred(notice)
            result["deferred_notices_released"] += 1
    for check in checks:
        if campaigns.lease(check, now, LEASE) and finish(settings, campaigns, check, now):
            result["campaigns_finished"] += 1
    for name, value in result.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return result


def _release(
    settings: Settings,
    campaigns: CampaignStore,
    batch: DeferredBatch,
    plans: dict[str, list[Reminder]],
    now: datetime,
) -> str:
    """Queue a batch of texts held back over the night to the sender ("released"), unless the
    deadline passed meanwhile and the region's next reminder comes soon ("superseded": its
    people are counted skipped, and that next reminder reaches them)."""
    campaign_id = batch.job.campaign_id
    if campaign_id not in plans:
        plans[campaign_id] = campaigns.reminders(campaign_id)
    reminder = next((r for r in plans[campaign_id] if r.reminder_id == batch.job.reminder), None)
    if reminder is not None and plan.overtaken(reminder, plans[campaign_id], now):
        campaigns.add_stats(campaign_id, batch.region, {"skipped_superseded": len(batch.job.ids)})
        campaigns.release_deferred(batch)
        return "superseded"
    queues.enqueue(settings.send_queue_url, batch.job)
    campaigns.release_deferred(batch)
    return "released"


def finish(settings: Settings, campaigns: CampaignStore, check: FinishCheck, now: datetime) -> bool:
    """Whether the campaign of a (leased) finish check has finished now: active, every
    region's deadline passed, no reminder left to go out, every send batch its fan-outs queued
    done with by the sender, no send batch held back, and its last fan-out `SEND_GRACE` ago.
    Then its run ends, once, and the organisers' tools are told (``campaign.finished``,
    `completed`); if not yet, it is looked at again later. The check is forgotten only once
    the finish is told, so a tick that stopped in between leaves the next to tell it (the
    same event); a run withdrawn by a call that stopped before its finish ends here, told as
    withdrawn. A check that no longer names the campaign's run (a draft again, launched anew,
    gone) is dropped."""
    campaign = campaigns.get_campaign(check.campaign_id)
    if campaign is None or campaign.launched_at != check.launched_at:
        campaigns.forget_finish_check(check)
        return False
    withdrawn = campaign.status == CampaignStatus.WITHDRAWN
    if not campaign.finished_at:
        if campaign.status == CampaignStatus.DRAFT:
            campaigns.forget_finish_check(check)
            return False
        if not withdrawn:
            later = _finishes_after(campaigns, campaign.regions, campaign.status, check, now)
            if later is not None:
                campaigns.postpone_finish_check(check, later)
                return False
        campaigns.finish(check.campaign_id, now)
    reason = event_data.WITHDRAWN if withdrawn else event_data.COMPLETED
    if not policy_changes.tell_finished(settings, campaigns, check, reason):
        return False
    logger.info("campaign finished", extra={"campaign_id": check.campaign_id})
    return True


def _finishes_after(
    campaigns: CampaignStore,
    deadlines: dict[str, str],
    status: CampaignStatus,
    check: FinishCheck,
    now: datetime,
) -> datetime | None:
    """When to look again whether the campaign has finished; None: it has."""
    last_deadline = max(deadlines.values(), default="")
    if last_deadline > iso(now):
        return parse_iso(last_deadline)
    reminders = campaigns.reminders(check.campaign_id)
    waiting = [r.due_at for r in reminders if r.state == ReminderState.PENDING]
    if waiting and max(waiting) > iso(now):
        return parse_iso(max(waiting)) + FINISH_RETRY
    if (
        status != CampaignStatus.ACTIVE
        or waiting
        or any(r.state in _UNDER_WAY for r in reminders)
        or campaigns.has_deferred_batches(check.campaign_id)
        # Sending is paced to the account's rate: a large audience's batches go out for hours
        # after its fan-out ended. Every batch queued must be done with.
        or _batches_left(campaigns, check.campaign_id, reminders)
        # An A/B test's rest, which a long wait can place after the last deadline.
        or any(p.state == ABPhase.WAITING for p in campaigns.ab_phases(check.campaign_id))
    ):
        return now + FINISH_RETRY
    last_fanout = max((r.finished_at for r in reminders if r.finished_at), default="")
    if last_fanout and parse_iso(last_fanout) + SEND_GRACE > now:
        return parse_iso(last_fanout) + SEND_GRACE
    return None


def _batches_left(campaigns: CampaignStore, campaign_id: str, reminders: list[Reminder]) -> bool:
    """Whether any send batch the reminders' fan-outs queued is not done with by the sender
    yet (reminders fanned out before batches were tracked rely on `SEND_GRACE` alone)."""
    tracked = [r for r in reminders if r.batches_tracked and r.batches]
    if not tracked:
        return False
    done = campaigns.batches_done(campaign_id)
    return any(done.get(r.reminder_id, 0) < (r.batches or 0) for r in tracked)


def _held(campaigns: CampaignStore, campaign_ids: set[str], withdrawn: bool = False) -> set[str]:
    """The campaigns among these that organisers hold back: drafts and paused ones (and, with
    `withdrawn`, withdrawn ones)."""
    statuses = HELD | {CampaignStatus.WITHDRAWN} if withdrawn else HELD
    found = {campaign_id: campaigns.get_campaign(campaign_id) for campaign_id in campaign_ids}
    return {cid for cid, campaign in found.items() if campaign and campaign.status in statuses}


def _start(settings: Settings, campaigns: CampaignStore, reminder: Reminder, now: datetime) -> str:
    """Check the reminder renders in every language, then queue its fan-out."""
    campaign = campaigns.get_campaign(reminder.campaign_id)
    try:
        if campaign is None:
            raise RenderError(f"campaign {reminder.campaign_id} is missing")
        reminders.check_templates(settings, campaign, reminder, now)
    except RenderError as error:
        campaigns.fail_reminder(reminder, str(error), now)
        logger.error(
            "reminder cannot be rendered: nothing sent",
            extra={"reminder": reminder.reminder_id, "error": str(error)},
        )
        return "failed"
    # A campaign launched before runs were recorded, or whose launch was not told: now it is.
    policy_changes.settle_launch(settings, campaigns, campaign.campaign_id, now)
    test = campaign.ab_test_for(reminder)
    phase = ab.TEST if test else ""
    fanouts = _fanouts(reminder, phase)
    if test:
        # Before its fan-out: whatever happens next, the rest's phase is in the due index.
        campaigns.start_ab_test(reminder, test, now + test.wait, now)
    campaigns.start_fanout(reminder, len(fanouts), now)
    queues.enqueue_many(settings.fanout_queue_url, fanouts)
    campaigns.fanout_queued(reminder)
    logger.info(
        "reminder fan-out queued",
        extra={
            "campaign_id": reminder.campaign_id,
            "reminder": reminder.reminder_id,
            "jobs": len(fanouts),
        },
    )
    return "started"


def _fanouts(reminder: Reminder, phase: str) -> list[jobs.FanoutJob]:
    """One fan-out job per audience shard of each home group the reminder reaches."""
    return [
        jobs.FanoutJob(reminder.campaign_id, reminder.reminder_id, group, shard, phase=phase)
        for group in reminder.audience.groups
        for shard in range(AUDIENCE_SHARDS)
    ]


def _start_rest(settings: Settings, campaigns: CampaignStore, phase: ABPhase, now: datetime) -> str:
    """The wait is over: decide the winner from the test share's conversions (once), then fan
    the reminder out again to the rest ("started"). Unless the rest came too late (the campaign
    was paused or withdrawn past the deadline, or past the region's next reminder:
    `plan.rest_overtaken`): then it gives way to that next reminder, and its held people are
    counted skipped as superseded ("superseded"; "moved" if they changed meanwhile: the next
    tick looks again). If the campaign is gone, nothing goes ("cancelled")."""
    campaign = campaigns.get_campaign(phase.campaign_id)
    reminder = campaigns.get_reminder(phase.campaign_id, phase.reminder)
    # The test its share went out with, not what the organiser may have saved since.
    test = phase.test or (campaign.ab_test_for(reminder) if campaign and reminder else None)
    if campaign is None or reminder is None or test is None:
        campaigns.rest_queued(phase, ABPhase.CANCELLED)
        return "cancelled"
    if plan.rest_overtaken(reminder, campaigns.reminders(phase.campaign_id), now):
        if not campaigns.supersede_rest(phase):
            return "moved"
        logger.info(
            "A/B test's rest overtaken by a later reminder: nothing more of it goes",
            extra={"campaign_id": phase.campaign_id, "reminder": phase.reminder},
        )
        return "superseded"
    results = variant_results(campaigns, campaign, test, phase.reminder)
    decided = campaigns.decide_ab(phase, ab.decide(results), results, now)
    fanouts = _fanouts(reminder, ab.REST)
    campaigns.start_rest_fanout(reminder, len(fanouts), now)
    queues.enqueue_many(settings.fanout_queue_url, fanouts)
    campaigns.rest_queued(phase)
    logger.info(
        "A/B test decided: the rest fans out",
        extra={
            "campaign_id": phase.campaign_id,
            "reminder": phase.reminder,
            "winner": decided.winner,
            "reason": decided.reason,
        },
    )
    return "started"


def variant_results(
    campaigns: CampaignStore, campaign: Campaign, test: ab.ABTest, reminder_id: str
) -> list[ab.Result]:
    """Each variant's numbers in the reminder's test share so far (messages sent, people who
    said "I've switched it off" through it), in the organiser's order."""
    counted = campaigns.breakdown(campaign.campaign_id).get("variant", {})
    results = []
    for variant in test.variants:
        numbers = counted.get(ab.breakdown_value(reminder_id, variant.name, ab.TEST), {})
        results.append(ab.Result(variant.name, numbers.get("sent", 0), numbers.get("confirmed", 0)))
    return results
