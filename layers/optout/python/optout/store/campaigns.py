"""The campaigns table: campaigns, their reminders and counters, and deferred notices.

Campaigns and reminders come and go as `models.Campaign` and `models.Reminder`; send batches
and notices held back in the due index as `DeferredBatch` and `DeferredNotice`. Only this
module knows the items behind them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from optout.core import aws
from optout.core.clock import iso
from optout.core.jobs import NoticeJob, SendJob
from optout.core.settings import Settings
from optout.domain import ab
from optout.domain.models import (
    DEFAULT_ORGANISATION,
    REPLANNABLE,
    Audience,
    Campaign,
    CampaignStatus,
    Reminder,
    ReminderState,
    Segment,
)
from optout.domain.policy import policy_document, policy_from
from optout.store import layout
from optout.store.dynamo import conditional_failed, delete_if, every_item, plain, update_if
from optout.store.layout import campaign_pk

FANOUT_DONE = "#done"  # a shard's progress once all its pages are queued (else: where to resume)


class CampaignStore:
    """Campaigns and their reminders, one partition per campaign (``pk = CAMPAIGN#<id>``):
    the campaign itself (``sk = CAMPAIGN``) and one item per reminder
    (``sk = REMINDER#<region>#<days before, two digits>``).

    A reminder's ``state`` goes pending -> fanning-out, or to skipped (already past when
    planned), superseded (a later one was due at the same tick) or cancelled. Only pending
    reminders carry ``due_pk``, which puts them in the sparse ``due`` index the scheduler reads.
    """

    DUE = "due"

    def __init__(self, settings: Settings) -> None:
        self._table = aws.table(settings.campaigns_table)

    # -- campaigns ------------------------------------------------------------------------

    def campaigns(self) -> list[Campaign]:
        """Every campaign. A scan, filtered: organisers list campaigns rarely, and a
        deployment has tens of them, beside their reminders and counters."""
        items = every_item(self._table.scan, FilterExpression=Attr("sk").eq(layout.CAMPAIGN))
        return [campaign_from(item) for item in items]

    def get_campaign(self, campaign_id: str) -> Campaign | None:
        item = self._table.get_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.CAMPAIGN}
        ).get("Item")
        return campaign_from(item) if item else None

    def save_campaign(self, campaign: Campaign, now: datetime) -> None:
        """Create or update the campaign; `created_at` is kept from the first write."""
        self._update_campaign(campaign.campaign_id, campaign_item(campaign), now)

    def set_status(
        self, campaign_id: str, status: CampaignStatus, now: datetime, reason: str = ""
    ) -> None:
        self._update_campaign(campaign_id, {"status": status.value, "status_reason": reason}, now)

    def set_catch_up(self, campaign_id: str, enabled: bool, now: datetime) -> None:
        self._update_campaign(campaign_id, {"catch_up": enabled}, now)

    def set_ab_tests(self, campaign_id: str, tests: tuple[ab.ABTest, ...], now: datetime) -> None:
        """Replace the campaign's A/B tests (kept apart from what a policy change writes, so a
        re-plan keeps them). Stored as JSON: shares and hours are fractions, which DynamoDB
        would want as decimals."""
        document = json.dumps([ab.document_of(test) for test in tests])
        self._update_campaign(campaign_id, {"ab_tests": document}, now)

    def set_organisations(
        self,
        campaign_id: str,
        members: tuple[str, ...],
        attribution: tuple[str, ...],
        now: datetime,
    ) -> None:
        """Which organisations joined the campaign, and the order its messages are attributed in
        (`Campaign.members`, `Campaign.attribution`)."""
        fields = {"members": list(members), "attribution": list(attribution)}
        self._update_campaign(campaign_id, fields, now)

    def mark_withdrawn(self, campaign_id: str, now: datetime) -> None:
        """Withdrawn, keeping the reason it was last paused for."""
        self._update_campaign(campaign_id, {"status": CampaignStatus.WITHDRAWN.value}, now)

    # -- a campaign's run, from its launch to its finish ------------------------------------

    def mark_launched(self, campaign_id: str, now: datetime, check_at: str) -> Campaign:
        """The campaign just became active (created so, launched, revived after a withdrawal):
        its run starts `now`, the end of an earlier run forgotten, and its finish check waits in
        the due index from `check_at` (its last deadline) on. The campaign as it is now."""
        response = self._table.update_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.CAMPAIGN},
            UpdateExpression="SET launched_at = :now REMOVE finished_at",
            ExpressionAttributeValues={":now": iso(now)},
            ReturnValues="ALL_NEW",
        )
        self._plant_finish_check(campaign_id, iso(now), check_at)
        return campaign_from(response["Attributes"])

    def backfill_launch(self, campaign_id: str, check_at: str) -> Campaign | None:
        """A campaign under way that has no run (launched before runs were recorded, or by a
        call that stopped between its write and its launch's): its run is taken to have started
        when it was created, and its finish check is planted (first: a crash in between leaves
        the same to do again). The campaign as it is now; None if it has a run after all."""
        item = self._table.get_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.CAMPAIGN}, ConsistentRead=True
        ).get("Item")
        if item is None or item.get("launched_at") or not item.get("created_at"):
            return None
        created_at = str(item["created_at"])
        self._plant_finish_check(campaign_id, created_at, check_at)
        response = update_if(
            self._table,
            Key={"pk": campaign_pk(campaign_id), "sk": layout.CAMPAIGN},
            UpdateExpression="SET launched_at = created_at",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(launched_at)",
            ReturnValues="ALL_NEW",
        )
        return campaign_from(response["Attributes"]) if response is not None else None

    def _plant_finish_check(self, campaign_id: str, launched_at: str, check_at: str) -> None:
        """The run's finish check, in the due index from `check_at` on; it also notes that the
        run's launch is not yet told (`launch_told`), and is kept until its finish is told."""
        # An update that makes the whole item (the scheduler, which backfills runs, may update
        # but not put); an earlier run's lease goes with it.
        self._table.update_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.FINISH_CHECK},
            UpdateExpression="SET campaign_id = :campaign, launched_at = :launched, "
            "launch_told = :told, due_pk = :due, due_at = :at REMOVE leased_until",
            ExpressionAttributeValues={
                ":campaign": campaign_id,
                ":launched": launched_at,
                ":told": False,
                ":due": self.DUE,
                ":at": check_at,
            },
        )

    def finish_check(self, campaign_id: str) -> FinishCheck | None:
        """The campaign's finish check: its run's finish not told yet; None if there is none."""
        item = self._table.get_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.FINISH_CHECK}, ConsistentRead=True
        ).get("Item")
        return _finish_check(item) if item else None

    def launch_told(self, check: FinishCheck) -> None:
        """The organisers' tools were told of the run's launch (unless the check is another
        run's by now)."""
        update_if(
            self._table,
            Key=_key(check),
            UpdateExpression="SET launch_told = :told",
            ConditionExpression="launched_at = :launched",
            ExpressionAttributeValues={":told": True, ":launched": check.launched_at},
        )

    def move_finish_check(self, campaign_id: str, check_at: str) -> None:
        """The deadlines of a campaign under way changed: its finish check, if it waits, is
        due at `check_at` (its last deadline) instead."""
        update_if(
            self._table,
            Key={"pk": campaign_pk(campaign_id), "sk": layout.FINISH_CHECK},
            UpdateExpression="SET due_at = :at",
            ConditionExpression="attribute_exists(due_pk)",
            ExpressionAttributeValues={":at": check_at},
        )

    def postpone_finish_check(self, check: FinishCheck, check_at: datetime) -> None:
        """Look again at `check_at` whether the campaign has finished."""
        self._table.update_item(
            Key=_key(check),
            UpdateExpression="SET due_at = :at REMOVE leased_until",
            ExpressionAttributeValues={":at": iso(check_at)},
        )

    def forget_finish_check(self, check: FinishCheck) -> None:
        """The finish check is done with: the campaign's finish told, or it is no longer the
        run it was planted for (a draft again, launched anew, gone). Only that run's: a check
        planted meanwhile for a new run (same key) stays."""
        delete_if(
            self._table,
            Key=_key(check),
            ConditionExpression=Attr("launched_at").eq(check.launched_at),
        )

    def finish(self, campaign_id: str, now: datetime) -> Campaign | None:
        """End the campaign's run `now`, once: the campaign as it is now if this call ended it;
        None if its run had ended already (or there is no such campaign)."""
        response = update_if(
            self._table,
            Key={"pk": campaign_pk(campaign_id), "sk": layout.CAMPAIGN},
            UpdateExpression="SET finished_at = :now",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(finished_at)",
            ExpressionAttributeValues={":now": iso(now)},
            ReturnValues="ALL_NEW",
        )
        return campaign_from(response["Attributes"]) if response is not None else None

    def batch_done(self, campaign_id: str, reminder_id: str, batch: str) -> None:
        """Note a fan-out batch of the reminder done with by the sender: added to a set, so a
        batch delivered again is counted once."""
        self._table.update_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.sent_batches_sk(reminder_id, batch)},
            UpdateExpression="ADD done :batch",
            ExpressionAttributeValues={":batch": {batch}},
        )

    def batches_done(self, campaign_id: str) -> dict[str, int]:
        """Reminder id (``EU-07``) -> how many of its fan-out batches the sender is done with."""
        done: dict[str, int] = {}
        for item in self._query(
            KeyConditionExpression=Key("pk").eq(campaign_pk(campaign_id))
            & Key("sk").begins_with(layout.SENT_BATCHES),
            ConsistentRead=True,
        ):
            reminder = layout.sent_batches_reminder(str(item["sk"]))
            done[reminder] = done.get(reminder, 0) + len(item.get("done", ()))
        return done

    def has_deferred_batches(self, campaign_id: str) -> bool:
        """Whether any send batch of the campaign is held back (over a night, for the cap, or
        while it is paused)."""
        page = self._table.query(
            KeyConditionExpression=Key("pk").eq(campaign_pk(campaign_id))
            & Key("sk").begins_with(layout.DEFERRED_BATCH),
            ConsistentRead=True,
            Limit=1,
        )
        return bool(page["Items"])

    def _update_campaign(self, campaign_id: str, fields: dict[str, Any], now: datetime) -> None:
        values = {**fields, "campaign_id": campaign_id, "updated_at": iso(now)}
        names = {f"#{key}": key for key in values}
        self._table.update_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.CAMPAIGN},
            UpdateExpression="SET "
            + ", ".join(f"#{key} = :{key}" for key in values)
            + ", created_at = if_not_exists(created_at, :updated_at)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":{key}": value for key, value in values.items()},
        )

    # -- reminders ------------------------------------------------------------------------

    def reminders(self, campaign_id: str) -> list[Reminder]:
        """Every reminder of a campaign, by region and days before the deadline."""
        items = self._query(
            KeyConditionExpression=Key("pk").eq(campaign_pk(campaign_id))
            & Key("sk").begins_with(layout.REMINDER),
            ConsistentRead=True,
        )
        return [reminder_from(item) for item in items]

    def get_reminder(self, campaign_id: str, reminder_id: str) -> Reminder | None:
        """A campaign's reminder by its id (``EU-07``); None if there is none."""
        try:
            sk = layout.reminder_sk_of(reminder_id)
        except ValueError:
            return None
        item = self._table.get_item(
            Key={"pk": campaign_pk(campaign_id), "sk": sk}, ConsistentRead=True
        ).get("Item")
        return reminder_from(item) if item else None

    def save_unsent_reminder(self, reminder: Reminder) -> bool:
        """Write a planned reminder unless it has gone out already; True if written."""
        item = reminder_item(reminder)
        if reminder.state == ReminderState.PENDING:
            item["due_pk"] = self.DUE
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR #state IN ("
                + ", ".join(f":{state.name}" for state in REPLANNABLE)
                + ")",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={f":{state.name}": state.value for state in REPLANNABLE},
            )
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True

    def end_reminder(self, reminder: Reminder, state: ReminderState, now: datetime) -> bool:
        """Take an unsent reminder out of the due index for good (cancelled, superseded)."""
        return (
            update_if(
                self._table,
                Key=_key(reminder),
                UpdateExpression="SET #state = :state, ended_at = :now REMOVE due_pk, leased_until",
                ConditionExpression="#state IN (:pending, :skipped)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":state": state.value,
                    ":now": iso(now),
                    ":pending": ReminderState.PENDING.value,
                    ":skipped": ReminderState.SKIPPED.value,
                },
            )
            is not None
        )

    def fail_reminder(self, reminder: Reminder, reason: str, now: datetime) -> None:
        """A reminder that cannot go out (its templates fail): out of the due index, with why."""
        self._table.update_item(
            Key=_key(reminder),
            UpdateExpression="SET #state = :failed, reason = :reason, ended_at = :now REMOVE due_pk, leased_until",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":failed": ReminderState.FAILED.value,
                ":reason": reason,
                ":now": iso(now),
            },
        )

    def due(self, until: datetime) -> Due:
        """Everything in the due index due by `until`, by kind, soonest first."""
        due = Due()
        for item in self._query(
            IndexName="due",
            KeyConditionExpression=Key("due_pk").eq(self.DUE) & Key("due_at").lte(iso(until)),
        ):
            if item["sk"].startswith(layout.REMINDER):
                due.reminders.append(reminder_from(item))
            elif item["sk"].startswith(layout.DEFERRED_BATCH):
                due.batches.append(_deferred_batch(item))
            elif item["sk"].startswith(layout.DEFERRED_NOTICE):
                due.notices.append(_deferred_notice(item))
            elif item["sk"] == layout.FINISH_CHECK:
                due.finish_checks.append(_finish_check(item))
            elif item["sk"].startswith(layout.AB_TEST):
                due.rest_phases.append(_ab_phase(item))
        return due

    def lease(
        self,
        due: Reminder | DeferredBatch | DeferredNotice | FinishCheck | ABPhase,
        now: datetime,
        lease: timedelta,
    ) -> bool:
        """Take the exclusive right to act on something due (fan a reminder out, queue a batch
        or a notice back) for `lease`; False if another tick holds it. A tick that dies mid-way
        leaves the lease to run out, and the next one does it again (the sender's delivery
        claims make a repeated fan-out send nothing twice)."""
        return (
            update_if(
                self._table,
                Key=_key(due),
                UpdateExpression="SET leased_until = :until",
                ConditionExpression=(
                    "due_pk = :due AND (attribute_not_exists(leased_until) OR leased_until <= :now)"
                ),
                ExpressionAttributeValues={
                    ":until": iso(now + lease),
                    ":now": iso(now),
                    ":due": self.DUE,
                },
            )
            is not None
        )

    def start_fanout(self, reminder: Reminder, jobs: int, now: datetime) -> None:
        """Mark a leased reminder as fanning out, before its jobs are queued, so that a worker
        that picks a job up at once finds it started. It stays in the due index, leased, until
        `fanout_queued`: a tick that dies in between is redone by the next, and shards already
        done keep their progress."""
        self._table.update_item(
            Key=_key(reminder),
            UpdateExpression="SET #state = :state, fanout_jobs = :jobs, "
            "fanout_started_at = if_not_exists(fanout_started_at, :now), "
            "audience_size = if_not_exists(audience_size, :zero), batches = if_not_exists(batches, :zero), "
            "shards_done = if_not_exists(shards_done, :zero), progress = if_not_exists(progress, :empty), "
            "batches_tracked = :tracked",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":state": ReminderState.FANNING_OUT.value,
                ":jobs": jobs,
                ":now": iso(now),
                ":zero": 0,
                ":empty": {},
                ":tracked": True,
            },
        )

    def fanout_queued(self, reminder: Reminder) -> None:
        """Every fan-out job of the reminder is queued: it leaves the due index."""
        self._table.update_item(
            Key=_key(reminder),
            UpdateExpression="REMOVE due_pk, leased_until",
        )

    # -- A/B tests: the rest phase and the decision ---------------------------------------

    def start_ab_test(
        self, reminder: Reminder, test: ab.ABTest, rest_due_at: datetime, now: datetime
    ) -> ABPhase:
        """Note that the reminder's test share is going out: its rest phase enters the due index
        at `rest_due_at`, and the test as it is now (variants, share, seed) is frozen on it, for
        the fan-out, the sender, the decision and the stats to split people by, whatever the
        organiser saves afterwards. Once: a tick that starts the test share again (after a
        crash) keeps the first time and the first test. (An update that creates the item: the
        scheduler updates, never puts.) The phase as stored."""
        update_if(
            self._table,
            Key={
                "pk": campaign_pk(reminder.campaign_id),
                "sk": layout.ab_test_sk(reminder.reminder_id),
            },
            UpdateExpression="SET campaign_id = :campaign, #reminder = :reminder, "
            "#region = :region, #state = :state, test_started_at = :now, due_pk = :due, "
            "due_at = :rest, frozen_test = :test",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeNames={
                "#state": "state",
                "#region": "region",
                "#reminder": "reminder",
            },
            ExpressionAttributeValues={
                ":campaign": reminder.campaign_id,
                ":reminder": reminder.reminder_id,
                ":region": reminder.region,
                ":state": ABPhase.WAITING,
                ":now": iso(now),
                ":due": self.DUE,
                ":rest": iso(rest_due_at),
                ":test": json.dumps(ab.document_of(test)),
            },
        )
        phase = self.ab_phase(reminder.campaign_id, reminder.reminder_id)
        assert phase is not None  # just written, or written by the tick before
        return phase

    def ab_phase(self, campaign_id: str, reminder_id: str) -> ABPhase | None:
        """The A/B test of a reminder, once its test share has started; None before."""
        item = self._table.get_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.ab_test_sk(reminder_id)},
            ConsistentRead=True,
        ).get("Item")
        return _ab_phase(item) if item else None

    def ab_phases(self, campaign_id: str) -> list[ABPhase]:
        """Every A/B test of the campaign under way or decided, by reminder."""
        return [
            _ab_phase(item)
            for item in self._query(
                KeyConditionExpression=Key("pk").eq(campaign_pk(campaign_id))
                & Key("sk").begins_with(layout.AB_TEST),
                ConsistentRead=True,
            )
        ]

    def add_ab_held(self, campaign_id: str, reminder_id: str, held: int, page: str) -> None:
        """Count people of the rest the test share's fan-out passed by on one `page` (its shard
        and the cursor it started from), held for the test result. Once a page: a redelivered
        job that pages it again (it died before its checkpoint) counts nobody twice."""
        if not held:
            return
        update_if(
            self._table,
            Key={"pk": campaign_pk(campaign_id), "sk": layout.ab_test_sk(reminder_id)},
            UpdateExpression="ADD held :held, held_pages :page",
            ConditionExpression="NOT contains(held_pages, :one)",
            ExpressionAttributeValues={":held": held, ":page": {page}, ":one": page},
        )

    def add_ab_held_people(self, campaign_id: str, reminder_id: str, ids: list[str]) -> None:
        """Count people of the rest a sender held for the test result (late joiners caught up
        during the wait), by their ids: a batch delivered again counts nobody twice."""
        if ids:
            self._table.update_item(
                Key={"pk": campaign_pk(campaign_id), "sk": layout.ab_test_sk(reminder_id)},
                UpdateExpression="ADD held_people :ids",
                ExpressionAttributeValues={":ids": set(ids)},
            )

    def decide_ab(
        self, phase: ABPhase, decision: ab.Decision, results: list[ab.Result], now: datetime
    ) -> ABPhase:
        """Record the decision, unless one is recorded already (a tick redone after a crash):
        the first stands, and is what this returns, so the rest gets one winner."""
        response = self._table.update_item(
            Key=_key(phase),
            UpdateExpression="SET winner = if_not_exists(winner, :winner), "
            "reason = if_not_exists(reason, :reason), "
            "significant = if_not_exists(significant, :significant), "
            "results = if_not_exists(results, :results), "
            "decided_at = if_not_exists(decided_at, :now)",
            ExpressionAttributeValues={
                ":winner": decision.winner,
                ":reason": decision.reason,
                ":significant": decision.significant,
                ":results": [
                    {"variant": r.variant, "sent": r.sent, "conversions": r.conversions}
                    for r in results
                ],
                ":now": iso(now),
            },
            ReturnValues="ALL_NEW",
        )
        return _ab_phase(response["Attributes"])

    def rest_queued(self, phase: ABPhase, state: str = "") -> None:
        """The rest phase's fan-out is queued (or it ends unsent, `state` saying why): it
        leaves the due index."""
        self._table.update_item(
            Key=_key(phase),
            UpdateExpression="SET #state = :state REMOVE due_pk, leased_until",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":state": state or ABPhase.REST_SENT},
        )

    def supersede_rest(self, phase: ABPhase) -> bool:
        """End a rest phase unsent because a later reminder overtook it (`ABPhase.SUPERSEDED`),
        its held people counted skipped as superseded in its region's counters, in one
        transaction: redone after a crash, it counts them once. False if the phase moved
        meanwhile (ended already, or someone more was held): the next tick, after the lease,
        looks again."""
        items = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": dict(_key(phase)),
                    "UpdateExpression": "SET #state = :superseded REMOVE due_pk, leased_until",
                    "ConditionExpression": "#state = :waiting AND "
                    "(attribute_not_exists(held) OR held = :paged) AND "
                    "(attribute_not_exists(held_people) OR size(held_people) = :late)",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {
                        ":superseded": ABPhase.SUPERSEDED,
                        ":waiting": ABPhase.WAITING,
                        ":paged": phase.held_in_pages,
                        ":late": phase.held_late,
                    },
                }
            }
        ]
        if phase.held:
            items.append(
                {
                    "Update": {
                        "TableName": self._table.name,
                        "Key": {
                            "pk": campaign_pk(phase.campaign_id),
                            "sk": f"{layout.STATS}{phase.region}",
                        },
                        "UpdateExpression": "ADD skipped_superseded :held",
                        "ExpressionAttributeValues": {":held": phase.held},
                    }
                }
            )
        try:
            self._table.meta.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def start_rest_fanout(self, reminder: Reminder, jobs: int, now: datetime) -> None:
        """Mark a reminder fanning out again, for the rest of an A/B test's audience: as many
        jobs again as its test share had (the same shards, paged once more), so it is fanned
        out when both phases' shards are done. Set, not added: redone after a crash, the same."""
        self._table.update_item(
            Key=_key(reminder),
            UpdateExpression="SET #state = :state, fanout_jobs = :jobs, rest_started_at = "
            "if_not_exists(rest_started_at, :now) REMOVE finished_at",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":state": ReminderState.FANNING_OUT.value,
                ":jobs": 2 * jobs,
                ":now": iso(now),
            },
        )

    # -- deferred send batches -----------------------------------------------------------

    def put_deferred(self, job: SendJob, region: str, due_at: datetime | None, reason: str) -> None:
        """Keep a send batch for later: in the due index at `due_at` (the next morning of
        someone's quiet hours), or out of it (None: a paused campaign, resumed by hand)."""
        ids = sorted(job.ids)
        digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:16]
        item: dict[str, Any] = {
            "pk": campaign_pk(job.campaign_id),
            "sk": layout.deferred_batch_sk(job.reminder, digest),
            "campaign_id": job.campaign_id,
            "reminder": job.reminder,
            "region": region,
            "ids": ids,
            "reason": reason,
            "state": "deferred",
        }
        if job.catch_up:
            item["catch_up"] = True
        if due_at is not None:
            item.update(due_pk=self.DUE, due_at=iso(due_at))
        self._table.put_item(Item=item)

    def held_batches(self, campaign_id: str) -> list[DeferredBatch]:
        """Send batches kept while the campaign was paused (deferred, with no time set)."""
        return [
            _deferred_batch(item)
            for item in self._query(
                KeyConditionExpression=Key("pk").eq(campaign_pk(campaign_id))
                & Key("sk").begins_with(layout.DEFERRED_BATCH),
                ConsistentRead=True,
            )
            if "due_pk" not in item
        ]

    def count_held_batches(self, campaign_id: str) -> int:
        return len(self.held_batches(campaign_id))

    def release_held_batches(self, campaign_id: str, now: datetime) -> int:
        """Put every held batch of the campaign back in the due index, due now."""
        held = self.held_batches(campaign_id)
        for batch in held:
            self._table.update_item(
                Key=_key(batch),
                UpdateExpression="SET due_pk = :due, due_at = :now",
                ExpressionAttributeValues={":due": self.DUE, ":now": iso(now)},
            )
        return len(held)

    def put_deferred_notice(self, job: NoticeJob, due_at: datetime) -> None:
        """Keep a notice job (a confirmation text asked for at night) in the due index until
        `due_at`, when the scheduler puts it back on the notice queue. One per person and kind:
        a later request in the same night replaces the earlier one, so the morning brings one
        text, not one per request."""
        self._table.put_item(
            Item={
                "pk": layout.notice_pk(job.subscriber_id),
                "sk": layout.deferred_notice_sk(job.kind),
                "job": asdict(job),
                "state": "deferred",
                "due_pk": self.DUE,
                "due_at": iso(due_at),
            }
        )

    def release_deferred(self, deferred: DeferredBatch | DeferredNotice) -> None:
        """A deferred batch or notice is back on its queue: forget it, unless it was deferred
        again meanwhile (the same batch held back once more by a sender, a later request in
        the same night), which has a time of its own and must stay."""
        try:
            self._table.delete_item(
                Key=_key(deferred),
                ConditionExpression=Attr("due_at").eq(deferred.due_at),
            )
        except ClientError as error:
            if not conditional_failed(error):
                raise

    # -- counters ---------------------------------------------------------------------------

    def add_stats(self, campaign_id: str, region: str, counts: dict[str, int]) -> None:
        """Add a batch's outcome to the campaign's counters for a region (one write a batch)."""
        self._add(campaign_id, f"{layout.STATS}{region}", counts)

    def stats(self, campaign_id: str) -> dict[str, dict[str, int]]:
        """Region -> counters."""
        return self._counters(campaign_id, layout.STATS)

    def add_to_timeline(self, campaign_id: str, now: datetime, counts: dict[str, int]) -> None:
        """Count events of a campaign by the hour they happened in (UTC), for its charts."""
        self._add(campaign_id, f"{layout.TIMELINE}{now:%Y-%m-%dT%H}", counts)

    def timeline(self, campaign_id: str) -> dict[str, dict[str, int]]:
        """Hour ("2025-10-27T09", UTC) -> counts, oldest first."""
        return self._counters(campaign_id, layout.TIMELINE)

    def add_breakdowns(
        self, campaign_id: str, counts: Mapping[tuple[str, str], Mapping[str, int]]
    ) -> None:
        """Add to the campaign's counters by (dimension, value): "reminder", "language" or
        "channel" and one of its values, such as a batch's sends or a conversion. One write,
        however many values: a send batch costs one write here beside its stats."""
        named = [
            (layout.breakdown_name(dimension, value, counter), number)
            for (dimension, value), counters in counts.items()
            for counter, number in counters.items()
            if number
        ]
        if not named:
            return
        self._table.update_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.BREAKDOWN},
            UpdateExpression="ADD " + ", ".join(f"#n{i} :v{i}" for i in range(len(named))),
            ExpressionAttributeNames={f"#n{i}": name for i, (name, _) in enumerate(named)},
            ExpressionAttributeValues={f":v{i}": number for i, (_, number) in enumerate(named)},
        )

    def breakdown(self, campaign_id: str) -> dict[str, dict[str, dict[str, int]]]:
        """Dimension -> value -> counters."""
        item = self._table.get_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.BREAKDOWN}, ConsistentRead=True
        ).get("Item", {})
        found: dict[str, dict[str, dict[str, int]]] = {}
        for name, number in item.items():
            if name not in ("pk", "sk"):
                dimension, value, counter = layout.breakdown_of(name)
                found.setdefault(dimension, {}).setdefault(value, {})[counter] = int(number)
        return found

    def _add(self, campaign_id: str, sk: str, counts: dict[str, int]) -> None:
        """Add to the counters of one item of the campaign (one write, however many)."""
        counts = {name: value for name, value in counts.items() if value}
        if not counts:
            return
        self._table.update_item(
            Key={"pk": campaign_pk(campaign_id), "sk": sk},
            UpdateExpression="ADD " + ", ".join(f"#{name} :{name}" for name in counts),
            ExpressionAttributeNames={f"#{name}": name for name in counts},
            ExpressionAttributeValues={f":{name}": value for name, value in counts.items()},
        )

    def _counters(self, campaign_id: str, prefix: str) -> dict[str, dict[str, int]]:
        """The counter items of the campaign whose sort keys start with `prefix`, by the rest
        of their sort key."""
        items = self._query(
            KeyConditionExpression=Key("pk").eq(campaign_pk(campaign_id))
            & Key("sk").begins_with(prefix),
            ConsistentRead=True,
        )
        return {
            item["sk"].removeprefix(prefix): {
                k: int(v) for k, v in item.items() if k not in ("pk", "sk")
            }
            for item in items
        }

    # -- fan-out progress -----------------------------------------------------------------

    def record_fanout_page(
        self, reminder: Reminder, shard: str, cursor: str, audience: int, batches: int
    ) -> None:
        """Checkpoint a shard after one page: where to resume, and what it added."""
        self._table.update_item(
            Key=_key(reminder),
            UpdateExpression="SET progress.#shard = :cursor ADD audience_size :audience, batches :batches",
            ExpressionAttributeNames={"#shard": shard},
            ExpressionAttributeValues={
                ":cursor": cursor,
                ":audience": audience,
                ":batches": batches,
            },
        )

    def finish_shard(
        self,
        reminder: Reminder,
        shard: str,
        now: datetime,
        audience: int = 0,
        batches: int = 0,
    ) -> None:
        """Mark a shard done (once, however often its job is redelivered) and add its last
        page's counts; the last shard to finish stamps the reminder's finished_at."""
        try:
            response = self._table.update_item(
                Key=_key(reminder),
                UpdateExpression="SET progress.#shard = :done "
                "ADD shards_done :one, audience_size :audience, batches :batches",
                ConditionExpression="attribute_not_exists(progress.#shard) OR progress.#shard <> :done",
                ExpressionAttributeNames={"#shard": shard},
                ExpressionAttributeValues={
                    ":done": FANOUT_DONE,
                    ":one": 1,
                    ":audience": audience,
                    ":batches": batches,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if conditional_failed(error):
                return
            raise
        item = response["Attributes"]
        if item.get("shards_done", 0) >= item.get("fanout_jobs", 0):
            self._table.update_item(
                Key=_key(reminder),
                UpdateExpression="SET finished_at = :now, #state = :state",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":now": iso(now),
                    ":state": ReminderState.FANNED_OUT.value,
                },
            )

    def _query(self, **query: Any) -> list[dict[str, Any]]:
        return every_item(self._table.query, **query)


@dataclass(frozen=True)
class DeferredBatch:
    """A send batch held back: over its readers' night (due at their morning), or while its
    campaign is paused (no time: `due_at` is "")."""

    job: SendJob
    region: str
    due_at: str
    key: Mapping[str, str] = field(repr=False, compare=False)  # the store's own


@dataclass(frozen=True)
class DeferredNotice:
    """A notice job (a confirmation text asked for at night) waiting for the morning, as the
    queue would carry it: the scheduler reads it into its job as a queue body is read."""

    body: dict[str, Any]
    due_at: str
    key: Mapping[str, str] = field(repr=False, compare=False)  # the store's own


@dataclass(frozen=True)
class FinishCheck:
    """A campaign's run to be looked at by the scheduler from `due_at` (its last deadline) on:
    has it finished? `launched_at` names the run (a campaign revived runs again)."""

    campaign_id: str
    launched_at: str
    due_at: str
    key: Mapping[str, str] = field(repr=False, compare=False)  # the store's own
    launch_told: bool = True  # planted before launches were told after a crash: told


@dataclass
class Due:
    """What the due index holds that is due: reminders to fan out, send batches held back over
    someone's night, notices (confirmation texts asked for at night), and campaigns to look at
    whether they have finished."""

    reminders: list[Reminder] = field(default_factory=list)
    batches: list[DeferredBatch] = field(default_factory=list)
    notices: list[DeferredNotice] = field(default_factory=list)
    finish_checks: list[FinishCheck] = field(default_factory=list)
    rest_phases: list[ABPhase] = field(default_factory=list)


@dataclass(frozen=True)
class ABPhase:
    """A reminder's A/B test once its test share went out: waiting (in the due index until the
    wait is over), then decided, its rest sent the winner (or superseded by a later reminder,
    or cancelled with its campaign);
    and how many of the rest were held for the result."""

    WAITING = "waiting"
    REST_SENT = "rest-sent"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"  # overtaken by a later reminder: its people get that one

    campaign_id: str
    reminder: str  # the reminder's id (``EU-07``)
    region: str
    state: str
    due_at: str  # when the rest goes ("" once it left the due index)
    test_started_at: str = ""
    held_in_pages: int = 0  # of the rest, passed by in the test share's fan-out
    held_late: int = 0  # of the rest, held by a sender before the decision (late joiners)
    winner: str = ""
    reason: str = ""
    significant: bool = False
    results: tuple[ab.Result, ...] = ()
    decided_at: str = ""
    # The test as it was when its test share started: what splits its people, whatever the
    # organiser saves later (None on an item written before tests were frozen).
    test: ab.ABTest | None = None
    key: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def held(self) -> int:
        """How many of the rest are held for the result."""
        return self.held_in_pages + self.held_late


def _ab_phase(item: Mapping[str, Any]) -> ABPhase:
    return ABPhase(
        campaign_id=str(item["campaign_id"]),
        reminder=str(item["reminder"]),
        region=str(item.get("region", "")),
        state=str(item.get("state", ABPhase.WAITING)),
        due_at=str(item.get("due_at", "")),
        test_started_at=str(item.get("test_started_at", "")),
        held_in_pages=int(item.get("held", 0)),
        held_late=len(item.get("held_people", ())),
        winner=str(item.get("winner", "")),
        reason=str(item.get("reason", "")),
        significant=bool(item.get("significant", False)),
        results=tuple(
            ab.Result(str(r["variant"]), int(r["sent"]), int(r["conversions"]))
            for r in item.get("results", [])
        ),
        decided_at=str(item.get("decided_at", "")),
        test=ab.stored_test(json.loads(item["frozen_test"])) if item.get("frozen_test") else None,
        key={"pk": item["pk"], "sk": item["sk"]},
    )


def _key(
    record: Reminder | DeferredBatch | DeferredNotice | FinishCheck | ABPhase,
) -> Mapping[str, str]:
    if isinstance(record, Reminder):
        return {
            "pk": campaign_pk(record.campaign_id),
            "sk": layout.reminder_sk(record.region, record.days_before, record.notice),
        }
    return record.key


def _deferred_batch(item: Mapping[str, Any]) -> DeferredBatch:
    job = SendJob(
        str(item["campaign_id"]),
        layout.reminder_id_of(str(item["reminder"])),
        tuple(str(i) for i in item["ids"]),
        catch_up=bool(item.get("catch_up", False)),
    )
    key = {"pk": item["pk"], "sk": item["sk"]}
    return DeferredBatch(job, str(item["region"]), str(item.get("due_at", "")), key)


def _deferred_notice(item: Mapping[str, Any]) -> DeferredNotice:
    key = {"pk": item["pk"], "sk": item["sk"]}
    return DeferredNotice(plain(item["job"]), str(item["due_at"]), key)


def _finish_check(item: Mapping[str, Any]) -> FinishCheck:
    key = {"pk": item["pk"], "sk": item["sk"]}
    return FinishCheck(
        str(item["campaign_id"]),
        str(item.get("launched_at", "")),
        str(item.get("due_at", "")),
        key,
        launch_told=bool(item.get("launch_told", True)),
    )


def campaign_item(campaign: Campaign) -> dict[str, Any]:
    """The campaign's own attributes, as stored (keys and `created_at` are the writer's)."""
    return {
        "platform": campaign.platform,
        "policy": policy_document(campaign.policy),
        "status": campaign.status.value,
        "status_reason": campaign.status_reason,
        "regions": dict(campaign.regions),
        "offsets_days": list(campaign.offsets_days),
        "local_hour": campaign.local_hour,
        "base_url": campaign.base_url,
        "message": campaign.message,
        "catch_up": campaign.catch_up,
        "organisation": campaign.organisation,
        "members": list(campaign.members),
        "attribution": list(campaign.attribution),
    }


def campaign_from(item: Mapping[str, Any]) -> Campaign:
    campaign_id = str(item["campaign_id"])
    return Campaign(
        campaign_id=campaign_id,
        platform=str(item.get("platform", "")),
        policy=policy_from({"id": campaign_id, **plain(item.get("policy", {}))}),
        status=CampaignStatus(item["status"]),
        regions={str(code): str(deadline) for code, deadline in item.get("regions", {}).items()},
        offsets_days=tuple(int(days) for days in item.get("offsets_days", ())),
        local_hour=int(item.get("local_hour", 0)),
        base_url=str(item.get("base_url", "")),
        message=str(item.get("message", "reminder")),
        catch_up=bool(item.get("catch_up", True)),
        status_reason=str(item.get("status_reason", "")),
        created_at=str(item.get("created_at", "")),
        updated_at=str(item.get("updated_at", "")),
        launched_at=str(item.get("launched_at", "")),
        finished_at=str(item.get("finished_at", "")),
        ab_tests=tuple(ab.stored_test(test) for test in json.loads(item.get("ab_tests") or "[]")),
        # Campaigns from before coalitions are the default organisation's.
        organisation=str(item.get("organisation", DEFAULT_ORGANISATION)),
        members=tuple(str(org) for org in item.get("members", ())),
        attribution=tuple(str(org) for org in item.get("attribution", ())),
    )


def reminder_item(reminder: Reminder) -> dict[str, Any]:
    """A planned reminder as written (its fan-out's attributes are added as it goes)."""
    item: dict[str, Any] = {
        **_key(reminder),
        "campaign_id": reminder.campaign_id,
        "region": reminder.region,
        "days_before": reminder.days_before,
        "kind": reminder.kind,
        "deadline": reminder.deadline,
        "due_at": reminder.due_at,
        "state": reminder.state.value,
        "platform": reminder.platform,
        "audience": {key: list(value) for key, value in asdict(reminder.audience).items()},
    }
    if reminder.notice:
        item["notice"] = reminder.notice
    if reminder.segment is not None:
        item["segment"] = asdict(reminder.segment) | {
            "platforms": list(reminder.segment.platforms),
            "locales": list(reminder.segment.locales),
        }
    return item


def reminder_from(item: Mapping[str, Any]) -> Reminder:
    segment = item.get("segment")

    def count(name: str) -> int | None:
        return int(item[name]) if name in item else None

    return Reminder(
        campaign_id=str(item["campaign_id"]),
        region=str(item["region"]),
        days_before=int(item["days_before"]),
        kind=str(item["kind"]),
        due_at=str(item["due_at"]),
        deadline=str(item.get("deadline", "")),
        state=ReminderState(item["state"]),
        platform=str(item.get("platform", "")),
        audience=Audience(**{key: tuple(value) for key, value in item["audience"].items()}),
        segment=None
        if segment is None
        else Segment(
            platforms=tuple(segment.get("platforms") or ()),
            channel=segment.get("channel"),
            locales=tuple(segment.get("locales") or ()),
            converted_in=str(segment.get("converted_in", "")),
        ),
        notice=int(item.get("notice", 0)),
        reason=str(item.get("reason", "")),
        fanout_jobs=count("fanout_jobs"),
        shards_done=count("shards_done"),
        audience_size=count("audience_size"),
        batches=count("batches"),
        progress={str(shard): str(at) for shard, at in item.get("progress", {}).items()},
        finished_at=str(item.get("finished_at", "")),
        batches_tracked=bool(item.get("batches_tracked", False)),
    )
