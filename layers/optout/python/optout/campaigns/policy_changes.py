"""Campaigns from policy changes: a campaign per policy, a reminder per region and offset.

Applying a change is idempotent, so a webhook delivered twice, or a retry after a crash,
leaves the same campaign. A change re-plans only the reminders that have not gone out.

A change that moves a region's deadline after reminders of that region went out also plans a
deadline notice there (`plan.deadline_notice`): a reminder of its own kind, due at once, to
the region's audience, through the same scheduler, fan-out and sender (so its texts wait for
the morning, and its delivery claims, apart from every reminder's, send it once a person).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from optout.core import events
from optout.core.clock import iso, parse_iso
from optout.core.events import EventType
from optout.core.observability import MetricUnit, logger, metrics
from optout.core.settings import Settings
from optout.domain import event_data, plan, policy
from optout.domain.models import (
    DEFAULT_ORGANISATION,
    HELD,
    Campaign,
    CampaignStatus,
    Reminder,
    ReminderState,
)
from optout.domain.policy import WITHDRAWN, PolicyChange
from optout.store import CampaignStore, DeliveryStore, FinishCheck, layout


def apply(
    settings: Settings,
    change: PolicyChange,
    *,
    base_url: str,
    now: datetime,
    status: CampaignStatus = CampaignStatus.ACTIVE,
    organisation: str = DEFAULT_ORGANISATION,
) -> dict[str, Any]:
    """Create, update or withdraw the campaign of `change`; a summary of what changed. A new
    campaign gets `status` ("draft": planned, but nothing is sent until it is launched) and is
    `organisation`'s; an update keeps a draft a draft and a paused campaign paused, and keeps
    whose campaign it is and which organisations joined it."""
    if change.type == WITHDRAWN:
        return withdraw(settings, change.policy.id, now)
    store = CampaignStore(settings)
    campaign_id = change.policy.id
    existing = store.get_campaign(campaign_id)
    if existing is not None and existing.status in HELD:
        status = existing.status
    planned = _plan(change, now)  # before anything is written: a plan that fails writes nothing
    before = store.reminders(campaign_id) if existing is not None else []
    notices = _deadline_notices(existing, change, before, now)
    # Written before the campaign's new deadlines: a crash in between leaves the change to be
    # applied again, and `plan.deadline_notice` finds the notice already planned.
    for notice in notices.values():
        store.save_unsent_reminder(notice)
    campaign = Campaign(
        campaign_id=campaign_id,
        platform=change.platform,
        policy=change.policy,
        status=status,
        regions={entry.region.code: iso(entry.deadline) for entry in change.regions},
        offsets_days=change.offsets_days,
        local_hour=change.local_hour,
        base_url=base_url,
        catch_up=change.catch_up,
        status_reason=existing.status_reason if existing else "",
        organisation=existing.organisation if existing else organisation,
        members=existing.members if existing else (),
        attribution=existing.attribution if existing else (),
    )
    launch = status == CampaignStatus.ACTIVE and (
        existing is None or existing.status == CampaignStatus.WITHDRAWN
    )
    if launch and existing is not None:
        # A revival's run is recorded before the campaign is active again: a retry after a
        # crash in between finds it withdrawn still, and revives it again.
        store.mark_launched(campaign_id, now, last_deadline(campaign, now))
    store.save_campaign(campaign, now)
    if launch and existing is None:
        # A crash before this leaves an active campaign with no run: `settle_launch` below,
        # on the retry, takes it to have launched when it was created, as this would have.
        store.mark_launched(campaign_id, now, last_deadline(campaign, now))
    kept = [
        reminder_id
        for reminder_id, reminder in planned.items()
        if not store.save_unsent_reminder(reminder)
    ]
    cancelled = [
        reminder.reminder_id
        for reminder in store.reminders(campaign_id)
        if reminder.reminder_id not in planned
        and reminder.reminder_id not in notices
        and _replaced(reminder, campaign, notices)
        and store.end_reminder(reminder, ReminderState.CANCELLED, now)
    ]
    if not launch and existing is not None and existing.regions != campaign.regions:
        store.move_finish_check(campaign_id, last_deadline(campaign, now))
    settle_launch(settings, store, campaign_id, now)
    summary = {
        "campaign_id": campaign_id,
        "status": status,
        "planned": len(planned) - len(kept),
        "already_sent": len(kept),
        "cancelled": len(cancelled),
    }
    if notices:  # only then: every answer given before deadline notices existed stays the same
        summary["deadline_notices"] = len(notices)
    logger.info("campaign planned", extra=summary)
    metrics.add_metric(name="CampaignPlanned", unit=MetricUnit.Count, value=1)
    return summary


def receive(
    settings: Settings, webhook_id: str, body: bytes, *, base_url: str, now: datetime
) -> dict[str, Any]:
    """Apply a verified policy-change delivery once: a repeated webhook id (senders retry for
    days, with fresh timestamps) answers as before and changes nothing. The body is validated
    first, so a bad one writes nothing; the id is recorded after the change is applied, which
    is idempotent, so a crash in between is healed by the sender's retry."""
    change = policy.parse(body, now)
    seen = DeliveryStore(settings)
    key = layout.webhook_delivery(webhook_id)
    if seen.get(key) is not None:
        return {"campaign_id": change.policy.id, "status": "duplicate"}
    status = CampaignStatus.DRAFT if change.draft else CampaignStatus.ACTIVE
    summary = apply(settings, change, base_url=base_url, now=now, status=status)
    seen.claim(key, now, kind="webhook", campaign_id=change.policy.id)
    return summary


def withdraw(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """Cancel every reminder of a campaign that has not gone out. A campaign under way (active
    or paused) finishes: the organisers' tools are told (``campaign.finished``, withdrawn)."""
    store = CampaignStore(settings)
    existing = store.get_campaign(campaign_id)
    if existing is None:
        return {"campaign_id": campaign_id, "status": "unknown", "cancelled": 0}
    if _under_way(existing) and not existing.launched_at:
        # Launched before runs were recorded: its run is taken to have begun at its creation.
        store.backfill_launch(campaign_id, last_deadline(existing, now))
    store.mark_withdrawn(campaign_id, now)
    cancelled = sum(
        store.end_reminder(reminder, ReminderState.CANCELLED, now)
        for reminder in store.reminders(campaign_id)
    )
    # Batches held while it was paused go to the sender, which counts them skipped_withdrawn
    # (kept, they would hold the finish of a later run for ever).
    store.release_held_batches(campaign_id, now)
    check = store.finish_check(campaign_id)
    # Decided from what is stored, not from what this call found: a retry after a crash
    # between the withdrawal and its event finds the run's check still there, and tells it.
    withdrawn = store.get_campaign(campaign_id)
    if (
        check is not None
        and withdrawn is not None
        and withdrawn.message == "reminder"  # an ad-hoc send is no campaign to the tools
        and existing.status != CampaignStatus.DRAFT  # a draft never ran
        and withdrawn.launched_at == check.launched_at
    ):
        store.finish(campaign_id, now)
        tell_finished(settings, store, check, event_data.WITHDRAWN)
    logger.info("campaign withdrawn", extra={"campaign_id": campaign_id, "cancelled": cancelled})
    answer: dict[str, Any] = {
        "campaign_id": campaign_id,
        "status": CampaignStatus.WITHDRAWN,
        "cancelled": cancelled,
    }
    if good_news_available(store.get_campaign(campaign_id), store.reminders(campaign_id)):
        # Only then: organisers may tell those reached that nothing needs doing (`manage`)
        answer["good_news_available"] = True
    return answer


def settle_launch(
    settings: Settings, store: CampaignStore, campaign_id: str, now: datetime
) -> None:
    """Tell the organisers' tools of the campaign's run (``campaign.launched``) if it is under
    way and its launch was not told yet, as its finish check records: a call that stopped
    between its write and its event, redone, tells it under the same key (the events function
    keeps one). A campaign under way with no run (launched before runs were recorded, or a
    creation that stopped before its run was) is taken to have launched when it was created:
    its finish check is planted, and its launch told then."""
    campaign = store.get_campaign(campaign_id)
    if campaign is None or not _under_way(campaign):
        return
    if not campaign.launched_at:
        campaign = store.backfill_launch(campaign_id, last_deadline(campaign, now)) or campaign
    check = store.finish_check(campaign_id)
    if (
        check is None
        or check.launch_told
        or check.launched_at != campaign.launched_at
        or campaign.finished_at
    ):
        return
    events.emit(
        settings,
        EventType.CAMPAIGN_LAUNCHED,
        event_data.campaign_launched(campaign, campaign.launched_at),
        parse_iso(campaign.launched_at),
        key=event_data.campaign_key(campaign),
    )
    store.launch_told(check)


def tell_finished(
    settings: Settings, store: CampaignStore, check: FinishCheck, reason: str
) -> bool:
    """The run `check` names has ended (``finished_at`` stored): tell the organisers' tools
    (``campaign.finished``), then forget the check, which until then says the finish is
    untold; True if told. The event is made from what is stored, so a retry tells the same."""
    campaign = store.get_campaign(check.campaign_id)
    if campaign is None or not campaign.finished_at or campaign.launched_at != check.launched_at:
        return False
    events.emit(
        settings,
        EventType.CAMPAIGN_FINISHED,
        event_data.campaign_finished(campaign, campaign.finished_at, reason),
        parse_iso(campaign.finished_at),
        key=event_data.campaign_key(campaign),
    )
    store.forget_finish_check(check)
    return True


def _under_way(campaign: Campaign) -> bool:
    """Whether a campaign is one the organisers' tools are told of as running: active or
    paused, and no ad-hoc send."""
    return (
        campaign.status in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED)
        and campaign.message == "reminder"
    )


def last_deadline(campaign: Campaign, now: datetime) -> str:
    """The latest deadline of the campaign's regions (`now` if it has none yet)."""
    return max(campaign.regions.values(), default=iso(now))


def good_news_available(campaign: Campaign | None, reminders: list[Reminder]) -> bool:
    """Whether organisers may send the good news of a withdrawn change: it is withdrawn, it
    had reminders out, and the good news has not been planned yet."""
    return (
        campaign is not None
        and campaign.status == CampaignStatus.WITHDRAWN
        and campaign.message == "reminder"
        and bool(plan.good_news(reminders))
    )


def _replaced(reminder: Reminder, campaign: Campaign, notices: dict[str, Reminder]) -> bool:
    """Whether a reminder left out of a new plan ends (if it has not gone out): a regular one
    always; a deadline notice only when its region is gone, or has a newer notice, which
    tells the date it told no longer."""
    if not reminder.notice:
        return True
    return reminder.region not in campaign.regions or any(
        notice.region == reminder.region for notice in notices.values()
    )


def _deadline_notices(
    existing: Campaign | None, change: PolicyChange, before: list[Reminder], now: datetime
) -> dict[str, Reminder]:
    """Reminder id -> deadline notice, for each region whose deadline `change` moves after
    its reminders went out. Ad-hoc sends have no deadline to move."""
    if existing is None or existing.message != "reminder":
        return {}
    audiences = plan.audiences(entry.region for entry in change.regions)
    notices = {}
    for entry in change.regions:
        code, deadline = entry.region.code, iso(entry.deadline)
        if code not in existing.regions:
            continue
        told = plan.deadline_notice(
            [r for r in before if r.region == code], existing.regions[code], deadline
        )
        if told is None:
            continue
        number, kind = told
        notice = Reminder(
            campaign_id=existing.campaign_id,
            region=code,
            days_before=0,
            kind=kind,
            due_at=iso(now),
            deadline=deadline,
            state=ReminderState.PENDING,
            platform=change.platform,
            audience=audiences[code],
            notice=number,
        )
        notices[notice.reminder_id] = notice
    if notices:
        logger.info("deadline moved: notices planned", extra={"notices": sorted(notices)})
    return notices


def _plan(change: PolicyChange, now: datetime) -> dict[str, Reminder]:
    """Reminder id -> reminder, for every region of the change."""
    audiences = plan.audiences(entry.region for entry in change.regions)
    planned = (
        Reminder(
            campaign_id=change.policy.id,
            region=entry.region.code,
            days_before=reminder.days_before,
            kind=reminder.kind,
            deadline=iso(reminder.deadline),
            due_at=iso(reminder.due_at),
            state=reminder.state,
            platform=change.platform,
            audience=audiences[entry.region.code],
        )
        for entry in change.regions
        for reminder in plan.plan_region(
            entry.region, entry.deadline, now, change.offsets_days, change.local_hour
        )
    )
    return {reminder.reminder_id: reminder for reminder in planned}
