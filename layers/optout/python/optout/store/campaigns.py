"""The campaigns table: campaigns, their reminders and counters, and deferred notices."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from optout.core import aws
from optout.core.clock import iso
from optout.core.jobs import NoticeJob, SendJob
from optout.core.settings import Settings
from optout.domain.models import REPLANNABLE, CampaignStatus, ReminderState
from optout.store import layout
from optout.store.dynamo import conditional_failed, every_item, update_if
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

    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign item. A scan, filtered: organisers list campaigns rarely, and a
        deployment has tens of them, beside their reminders and counters."""
        return every_item(self._table.scan, FilterExpression=Attr("sk").eq(layout.CAMPAIGN))

    def get_campaign(self, campaign_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": campaign_pk(campaign_id), "sk": layout.CAMPAIGN}
        ).get("Item")
        return dict(item) if item else None

    def save_campaign(self, campaign_id: str, fields: dict[str, Any], now: datetime) -> None:
        """Create or update the campaign item; `created_at` is kept from the first write."""
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

    def reminders(self, campaign_id: str) -> list[dict[str, Any]]:
        """Every reminder of a campaign, by region and days before the deadline."""
        items = self._query(
            KeyConditionExpression=Key("pk").eq(campaign_pk(campaign_id))
            & Key("sk").begins_with(layout.REMINDER),
            ConsistentRead=True,
        )
        return [layout.with_reminder_id(item) for item in items]

    def get_reminder(self, campaign_id: str, reminder_id: str) -> dict[str, Any] | None:
        """A campaign's reminder by its id (``EU-07``); None if there is none."""
        try:
            sk = layout.reminder_sk_of(reminder_id)
        except ValueError:
            return None
        item = self._table.get_item(
            Key={"pk": campaign_pk(campaign_id), "sk": sk}, ConsistentRead=True
        ).get("Item")
        return layout.with_reminder_id(item) if item else None

    def save_unsent_reminder(self, campaign_id: str, reminder: dict[str, Any]) -> bool:
        """Write a planned reminder unless it has gone out already; True if written."""
        item = {
            "pk": campaign_pk(campaign_id),
            "sk": layout.reminder_sk(reminder["region"], reminder["days_before"]),
            "campaign_id": campaign_id,
            **{key: value for key, value in reminder.items() if key != "reminder_id"},
        }
        if item["state"] == ReminderState.PENDING:
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

    def end_reminder(self, reminder: dict[str, Any], state: ReminderState, now: datetime) -> bool:
        """Take an unsent reminder out of the due index for good (cancelled, superseded)."""
        return (
            update_if(
                self._table,
                Key={"pk": reminder["pk"], "sk": reminder["sk"]},
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

    def fail_reminder(self, reminder: dict[str, Any], reason: str, now: datetime) -> None:
        """A reminder that cannot go out (its templates fail): out of the due index, with why."""
        self._table.update_item(
            Key={"pk": reminder["pk"], "sk": reminder["sk"]},
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
                due.reminders.append(layout.with_reminder_id(item))
            elif item["sk"].startswith(layout.DEFERRED_BATCH):
                due.batches.append(layout.with_batch_reminder_id(item))
            elif item["sk"].startswith(layout.DEFERRED_NOTICE):
                due.notices.append(item)
        return due

    def lease_reminder(self, reminder: dict[str, Any], now: datetime, lease: timedelta) -> bool:
        """Take the exclusive right to fan a reminder out for `lease`; False if another tick
        holds it. A tick that dies mid-way leaves the lease to run out, and the next one redoes
        the fan-out (the sender's delivery claims make a repeated fan-out send nothing twice)."""
        return (
            update_if(
                self._table,
                Key={"pk": reminder["pk"], "sk": reminder["sk"]},
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

    def start_fanout(self, reminder: dict[str, Any], jobs: int, now: datetime) -> None:
        """Mark a leased reminder as fanning out, before its jobs are queued, so that a worker
        that picks a job up at once finds it started. It stays in the due index, leased, until
        `fanout_queued`: a tick that dies in between is redone by the next, and shards already
        done keep their progress."""
        self._table.update_item(
            Key={"pk": reminder["pk"], "sk": reminder["sk"]},
            UpdateExpression="SET #state = :state, fanout_jobs = :jobs, "
            "fanout_started_at = if_not_exists(fanout_started_at, :now), "
            "audience_size = if_not_exists(audience_size, :zero), batches = if_not_exists(batches, :zero), "
            "shards_done = if_not_exists(shards_done, :zero), progress = if_not_exists(progress, :empty)",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":state": ReminderState.FANNING_OUT.value,
                ":jobs": jobs,
                ":now": iso(now),
                ":zero": 0,
                ":empty": {},
            },
        )

    def fanout_queued(self, reminder: dict[str, Any]) -> None:
        """Every fan-out job of the reminder is queued: it leaves the due index."""
        self._table.update_item(
            Key={"pk": reminder["pk"], "sk": reminder["sk"]},
            UpdateExpression="REMOVE due_pk, leased_until",
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
        if due_at is not None:
            item.update(due_pk=self.DUE, due_at=iso(due_at))
        self._table.put_item(Item=item)

    def held_batches(self, campaign_id: str) -> list[dict[str, Any]]:
        """Send batches kept while the campaign was paused (deferred, with no time set)."""
        return [
            item
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
        for item in held:
            self._table.update_item(
                Key={"pk": item["pk"], "sk": item["sk"]},
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

    def release_deferred(self, item: dict[str, Any]) -> None:
        """A deferred batch or notice is back on its queue: forget it, unless it was deferred
        again meanwhile (the same batch held back once more by a sender, a later request in
        the same night), which has a time of its own and must stay."""
        try:
            self._table.delete_item(
                Key={"pk": item["pk"], "sk": item["sk"]},
                ConditionExpression=Attr("due_at").eq(item["due_at"]),
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

    def set_status(
        self, campaign_id: str, status: CampaignStatus, now: datetime, reason: str = ""
    ) -> None:
        self.save_campaign(campaign_id, {"status": status.value, "status_reason": reason}, now)

    # -- fan-out progress -----------------------------------------------------------------

    def record_fanout_page(
        self, reminder: dict[str, Any], shard: str, cursor: str, audience: int, batches: int
    ) -> None:
        """Checkpoint a shard after one page: where to resume, and what it added."""
        self._table.update_item(
            Key={"pk": reminder["pk"], "sk": reminder["sk"]},
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
        reminder: dict[str, Any],
        shard: str,
        now: datetime,
        audience: int = 0,
        batches: int = 0,
    ) -> None:
        """Mark a shard done (once, however often its job is redelivered) and add its last
        page's counts; the last shard to finish stamps the reminder's finished_at."""
        try:
            response = self._table.update_item(
                Key={"pk": reminder["pk"], "sk": reminder["sk"]},
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
                Key={"pk": reminder["pk"], "sk": reminder["sk"]},
                UpdateExpression="SET finished_at = :now, #state = :state",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":now": iso(now),
                    ":state": ReminderState.FANNED_OUT.value,
                },
            )

    def _query(self, **query: Any) -> list[dict[str, Any]]:
        return every_item(self._table.query, **query)


@dataclass
class Due:
    """What the due index holds that is due: reminders to fan out, send batches held back over
    someone's night, and notices (confirmation texts asked for at night)."""

    reminders: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
