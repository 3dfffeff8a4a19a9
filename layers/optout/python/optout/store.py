"""The only module that speaks DynamoDB. Table names come from the settings (template.yaml).

Subscribers table: one item per contact, keyed by its subscriber id (a keyed hash of the
contact). Active subscribers also carry ``audience_pk`` = ``<home group>#<shard>`` and
``audience_sk`` = the id: the sparse ``audience`` index lists exactly the people a campaign
reaches, spread over `AUDIENCE_SHARDS` partitions per group so that fan-out can page them in
parallel and no partition takes more than its ~1,000 writes/s.

Deliveries table: one item per message the bot means to send, claimed with a conditional put
before sending so that no message goes out twice; items expire through TTL.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from optout import aws
from optout.clock import iso
from optout.models import Consent, Status, Subscriber
from optout.settings import Settings

AUDIENCE_SHARDS = 16
# A confirmation that loses a race to a concurrent change reads the subscriber again, this often.
ACTIVATE_ATTEMPTS = 3


def audience_shard(subscriber_id: str) -> int:
    """The shard of the audience index a subscriber lives in (stable, evenly spread)."""
    return (
        int.from_bytes(hashlib.sha256(subscriber_id.encode()).digest()[:2], "big") % AUDIENCE_SHARDS
    )


def audience_key(home_group: str, subscriber_id: str) -> str:
    return f"{home_group}#{audience_shard(subscriber_id):02d}"


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _update_if(table: Any, **request: Any) -> dict[str, Any] | None:
    """A conditional UpdateItem: its response, or None when the condition did not hold."""
    try:
        return dict(table.update_item(**request))
    except ClientError as error:
        if _conditional_failed(error):
            return None
        raise


class SubscriberStore:
    def __init__(self, settings: Settings) -> None:
        self._table = aws.table(settings.subscribers_table)

    def get(self, subscriber_id: str) -> Subscriber | None:
        """The subscriber, or None if there is none (never was, or erased)."""
        item = self._table.get_item(Key={"subscriber_id": subscriber_id}, ConsistentRead=True).get(
            "Item"
        )
        return _subscriber(item) if item and item.get("status") != Status.ERASED.value else None

    def stored(self, subscriber_id: str) -> dict[str, Any] | None:
        """Everything kept about a subscriber, as stored (for the person's own privacy page)."""
        item = self._table.get_item(Key={"subscriber_id": subscriber_id}, ConsistentRead=True).get(
            "Item"
        )
        return dict(item) if item and item.get("status") != Status.ERASED.value else None

    def erase(self, subscriber_id: str, reason: str, now: datetime) -> bool:
        """Remove the contact and profile; keep the id (a keyed hash of the contact, useless
        without the key) with the reason and date, so that the contact stays out until it
        subscribes and confirms again. True if this call erased it."""
        kept = {"subscriber_id", "status", "erased_at", "erased_reason"}
        current = self.stored(subscriber_id)
        if current is None:
            return False
        removed = sorted(name for name in current if name not in kept)
        self._table.update_item(
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="SET #status = :erased, erased_at = :now, erased_reason = :reason REMOVE "
            + ", ".join(f"#{index}" for index, _ in enumerate(removed)),
            ExpressionAttributeNames={
                "#status": "status",
                **{f"#{index}": name for index, name in enumerate(removed)},
            },
            ExpressionAttributeValues={
                ":erased": Status.ERASED.value,
                ":now": iso(now),
                ":reason": reason,
            },
        )
        return True

    def request_confirmation(
        self, subscriber: Subscriber, resend_after: timedelta, now: datetime
    ) -> bool:
        """Record a subscribe request and reserve the right to send a confirmation.

        One conditional write: it succeeds for a new contact, or for one that is neither active
        nor suppressed and was not sent a confirmation within `resend_after`. Returns False (and
        changes nothing) otherwise, so an active subscriber's profile can't be changed by anyone
        who knows their address, nobody can make the bot send more than one confirmation per
        window, and an address that bounced or complained is never written to again (a
        confirmation to it would cost the sender's reputation what the suppression saved).
        """
        item = _item(subscriber)
        names = {f"#{key}": key for key in item if key != "subscriber_id"}
        values = {f":{key}": value for key, value in item.items() if key != "subscriber_id"}
        assignments = [
            f"#{key} = :{key}" for key in item if key not in ("subscriber_id", "created_at")
        ]
        assignments.append("#created_at = if_not_exists(#created_at, :created_at)")
        names["#subscriber_id"] = "subscriber_id"
        values[":active"] = Status.ACTIVE.value
        values[":suppressed"] = Status.SUPPRESSED.value
        values[":cutoff"] = iso(now - resend_after)
        return (
            _update_if(
                self._table,
                Key={"subscriber_id": subscriber.subscriber_id},
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression=(
                    "attribute_not_exists(#subscriber_id) OR "
                    "(#status <> :active AND #status <> :suppressed AND "
                    "(attribute_not_exists(#confirmation_sent_at) OR "
                    "#confirmation_sent_at <= :cutoff))"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            is not None
        )

    def forget_confirmation_request(self, subscriber_id: str) -> None:
        """Undo the resend reservation of `request_confirmation` (its confirmation could not be
        queued), so that the person can try again at once."""
        self._table.update_item(
            Key={"subscriber_id": subscriber_id}, UpdateExpression="REMOVE confirmation_sent_at"
        )

    def activate(self, subscriber_id: str, now: datetime) -> Subscriber | None:
        """Confirm a pending subscriber (idempotent for an active one).

        Returns the active subscriber, or None when there is nobody pending or active under
        this id (unknown, or unsubscribed since the link was sent).
        """
        # The audience key is computed from the home group read here; a new subscribe request
        # may change a pending subscriber's region between this read and the write. The write
        # therefore holds only if the home group is still the one read, and a changed one is
        # read again: otherwise the person would sit in the old region's audience index.
        for _attempt in range(ACTIVATE_ATTEMPTS):
            current = self.get(subscriber_id)
            if current is None or current.status not in (Status.PENDING, Status.ACTIVE):
                return None
            if current.status is Status.ACTIVE:
                return current
            response = _update_if(
                self._table,
                Key={"subscriber_id": subscriber_id},
                UpdateExpression=(
                    "SET #status = :active, confirmed_at = :now, audience_pk = :audience, "
                    "audience_sk = :id"
                ),
                ConditionExpression="#status = :pending AND home_group = :home_group",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":active": Status.ACTIVE.value,
                    ":pending": Status.PENDING.value,
                    ":home_group": current.home_group,
                    ":now": iso(now),
                    ":audience": audience_key(current.home_group, subscriber_id),
                    ":id": subscriber_id,
                },
                ReturnValues="ALL_NEW",
            )
            if response is not None:
                return _subscriber(response["Attributes"])
            # Confirmed, unsubscribed or moved to another region a moment ago: look again.
        raise RuntimeError(f"subscriber {subscriber_id} kept changing while being confirmed")

    def audience_page(
        self, shard: str, after: str, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` active subscribers of an audience shard (``EU#07``) whose ids sort
        after `after`, with their platforms and region; and whether more may follow."""
        condition: Any = Key("audience_pk").eq(shard)
        if after:
            condition = condition & Key("audience_sk").gt(after)
        page = self._table.query(
            IndexName="audience", KeyConditionExpression=condition, Limit=limit
        )
        return page["Items"], "LastEvaluatedKey" in page

    def get_many(self, subscriber_ids: list[str]) -> dict[str, Subscriber]:
        """The subscribers with these ids that exist, read 100 to a request."""
        found: dict[str, Subscriber] = {}
        client = self._table.meta.client
        for start in range(0, len(subscriber_ids), 100):
            keys = [
                {"subscriber_id": sid} for sid in dict.fromkeys(subscriber_ids[start : start + 100])
            ]
            request = {self._table.name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table.name, []):
                    if item.get("status") != Status.ERASED.value:
                        found[item["subscriber_id"]] = _subscriber(item)
                request = response.get("UnprocessedKeys") or {}
        return found

    def mark_done(self, subscriber_id: str, campaign_id: str, now: datetime) -> bool | None:
        """Record "I've switched it off" for a campaign: True the first time, False after that,
        None if there is no such subscriber (erased)."""
        response = _update_if(
            self._table,
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="ADD done_campaigns :campaign SET last_done_at = :now",
            ConditionExpression="attribute_exists(subscriber_id)",
            ExpressionAttributeValues={":campaign": {campaign_id}, ":now": iso(now)},
            ReturnValues="ALL_OLD",
        )
        if response is None:
            return None
        return campaign_id not in response.get("Attributes", {}).get("done_campaigns", set())

    def unsubscribe(self, subscriber_id: str, now: datetime) -> bool:
        """Stop everything to this subscriber at once: out of the audience index, status
        unsubscribed. True if this call changed it (False: already done, or no such id)."""
        return self._leave(subscriber_id, Status.UNSUBSCRIBED, {"unsubscribed_at": iso(now)})

    def suppress(self, subscriber_id: str, reason: str, now: datetime) -> bool:
        """Never write to this contact again (a permanent bounce, a complaint); True if this
        call changed it."""
        return self._leave(
            subscriber_id,
            Status.SUPPRESSED,
            {"suppressed_reason": reason, "suppressed_at": iso(now)},
        )

    def _leave(self, subscriber_id: str, status: Status, record: dict[str, str]) -> bool:
        """Out of the audience index with `status` and why (`record`), unless already so."""
        return (
            _update_if(
                self._table,
                Key={"subscriber_id": subscriber_id},
                UpdateExpression="SET #status = :status, "
                + ", ".join(f"{name} = :{name}" for name in record)
                + " REMOVE audience_pk, audience_sk",
                ConditionExpression="attribute_exists(subscriber_id) AND #status <> :status",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": status.value,
                    **{f":{name}": value for name, value in record.items()},
                },
            )
            is not None
        )

    def resubscribe(self, subscriber_id: str, now: datetime) -> bool:
        """Someone who unsubscribed by text asked to START again: active once more. True if
        this call changed it (not for the suppressed, nor the unknown)."""
        current = self.get(subscriber_id)
        if current is None or current.status is not Status.UNSUBSCRIBED:
            return False
        return (
            _update_if(
                self._table,
                Key={"subscriber_id": subscriber_id},
                UpdateExpression="SET #status = :active, resubscribed_at = :now, audience_pk = :audience, audience_sk = :id",
                ConditionExpression="#status = :unsubscribed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":active": Status.ACTIVE.value,
                    ":unsubscribed": Status.UNSUBSCRIBED.value,
                    ":now": iso(now),
                    ":audience": audience_key(current.home_group, subscriber_id),
                    ":id": subscriber_id,
                },
            )
            is not None
        )

    def mark_sms_introduced(self, subscriber_id: str) -> None:
        """The first text message (the one that says how to stop) has gone to this number."""
        self._table.update_item(
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="SET sms_introduced = :yes",
            ExpressionAttributeValues={":yes": True},
        )

    def states(self, subscriber_ids: list[str]) -> dict[str, tuple[Status, Subscriber | None]]:
        """The status of each id that has an item, erased ones included (whose profile is
        gone: None), read 100 to a request. Ids never seen are left out."""
        found: dict[str, tuple[Status, Subscriber | None]] = {}
        client = self._table.meta.client
        unique = list(dict.fromkeys(subscriber_ids))
        for start in range(0, len(unique), 100):
            keys = [{"subscriber_id": sid} for sid in unique[start : start + 100]]
            request = {self._table.name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table.name, []):
                    status = Status(item["status"])
                    profile = None if status is Status.ERASED else _subscriber(item)
                    found[item["subscriber_id"]] = (status, profile)
                request = response.get("UnprocessedKeys") or {}
        return found

    def put_new_many(self, subscribers: list[Subscriber]) -> None:
        """Write subscribers whose contacts had no item when last read, 25 to a request
        (BatchWriteItem, which retries what DynamoDB left unprocessed), active ones in the
        audience index. Unconditional: BatchWriteItem takes no conditions (see the caller)."""
        with self._table.batch_writer() as batch:
            for subscriber in subscribers:
                active = subscriber.status is Status.ACTIVE
                batch.put_item(Item=_active_item(subscriber) if active else _item(subscriber))

    def replace_if(self, subscriber: Subscriber, expected: Status) -> bool:
        """Write a subscriber's profile, consent and status over their item, if its status is
        still `expected`; what only other paths write (done campaigns, the first-text mark) is
        kept. In the audience index when `subscriber` is active. True if written."""
        item = _active_item(subscriber) if subscriber.status is Status.ACTIVE else _item(subscriber)
        fields = [key for key in item if key != "subscriber_id"]
        return (
            _update_if(
                self._table,
                Key={"subscriber_id": subscriber.subscriber_id},
                UpdateExpression="SET " + ", ".join(f"#{key} = :{key}" for key in fields),
                ConditionExpression="#status = :expected",
                ExpressionAttributeNames={f"#{key}": key for key in fields},
                ExpressionAttributeValues={
                    **{f":{key}": item[key] for key in fields},
                    ":expected": expected.value,
                },
            )
            is not None
        )

    def active_page(self, after: str, limit: int) -> tuple[list[Subscriber], str]:
        """One page of a Scan of the whole table, filtered on status (so it reads the
        unsubscribed and pending too, `limit` items at most): the active subscribers in it, and
        where the next page starts ("" after the last). For exports, not for sending, which
        pages the audience index instead."""
        request: dict[str, Any] = {
            "FilterExpression": Attr("status").eq(Status.ACTIVE.value),
            "Limit": limit,
        }
        if after:
            request["ExclusiveStartKey"] = {"subscriber_id": after}
        page = self._table.scan(**request)
        following = page.get("LastEvaluatedKey", {}).get("subscriber_id", "")
        return [_subscriber(item) for item in page["Items"]], str(following)

    def put_active(self, subscriber: Subscriber) -> None:
        """Write an already-confirmed subscriber (demo data and imports with proof of consent)."""
        self._table.put_item(Item=_active_item(subscriber))


class CampaignStore:
    """Campaigns and their reminders, one partition per campaign (``pk = CAMPAIGN#<id>``):
    the campaign itself (``sk = CAMPAIGN``) and one item per reminder
    (``sk = REMINDER#<region>#<days before, two digits>``).

    A reminder's ``state`` goes pending -> fanning-out, or to skipped (already past when
    planned), superseded (a later one was due at the same tick) or cancelled. Only pending
    reminders carry ``due_pk``, which puts them in the sparse ``due`` index the scheduler reads.
    """

    DUE = "due"
    DEFERRED_NOTICE = "NOTICE#"  # sort key prefix of a deferred notice (pk NOTICE#<subscriber>)
    UNSENT = ("pending", "skipped", "cancelled")  # the states a re-plan may still change

    def __init__(self, settings: Settings) -> None:
        self._table = aws.table(settings.campaigns_table)

    # -- campaigns ------------------------------------------------------------------------

    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign item. A scan, filtered: organisers list campaigns rarely, and a
        deployment has tens of them, beside their reminders and counters."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"FilterExpression": Attr("sk").eq("CAMPAIGN")}
        while True:
            page = self._table.scan(**request)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_campaign(self, campaign_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": _campaign_pk(campaign_id), "sk": "CAMPAIGN"}).get(
            "Item"
        )
        return dict(item) if item else None

    def save_campaign(self, campaign_id: str, fields: dict[str, Any], now: datetime) -> None:
        """Create or update the campaign item; `created_at` is kept from the first write."""
        values = {**fields, "campaign_id": campaign_id, "updated_at": iso(now)}
        names = {f"#{key}": key for key in values}
        self._table.update_item(
            Key={"pk": _campaign_pk(campaign_id), "sk": "CAMPAIGN"},
            UpdateExpression="SET "
            + ", ".join(f"#{key} = :{key}" for key in values)
            + ", created_at = if_not_exists(created_at, :updated_at)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":{key}": value for key, value in values.items()},
        )

    # -- reminders ------------------------------------------------------------------------

    def reminders(self, campaign_id: str) -> list[dict[str, Any]]:
        """Every reminder of a campaign, by region and days before the deadline."""
        return self._query(
            KeyConditionExpression=Key("pk").eq(_campaign_pk(campaign_id))
            & Key("sk").begins_with("REMINDER#"),
            ConsistentRead=True,
        )

    def get_reminder(self, campaign_id: str, sk: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": _campaign_pk(campaign_id), "sk": sk}, ConsistentRead=True
        ).get("Item")
        return dict(item) if item else None

    def save_unsent_reminder(self, campaign_id: str, reminder: dict[str, Any]) -> bool:
        """Write a planned reminder unless it has gone out already; True if written."""
        item = {"pk": _campaign_pk(campaign_id), "campaign_id": campaign_id, **reminder}
        if item["state"] == "pending":
            item["due_pk"] = self.DUE
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR #state IN (:pending, :skipped, :cancelled)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":pending": "pending",
                    ":skipped": "skipped",
                    ":cancelled": "cancelled",
                },
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def end_reminder(self, reminder: dict[str, Any], state: str, now: datetime) -> bool:
        """Take an unsent reminder out of the due index for good (cancelled, superseded)."""
        return (
            _update_if(
                self._table,
                Key={"pk": reminder["pk"], "sk": reminder["sk"]},
                UpdateExpression="SET #state = :state, ended_at = :now REMOVE due_pk, leased_until",
                ConditionExpression="#state IN (:pending, :skipped)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":state": state,
                    ":now": iso(now),
                    ":pending": "pending",
                    ":skipped": "skipped",
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
            ExpressionAttributeValues={":failed": "failed", ":reason": reason, ":now": iso(now)},
        )

    def due_reminders(self, until: datetime) -> list[dict[str, Any]]:
        """Everything in the due index due by `until`: reminders not yet fanned out, deferred
        send batches and deferred notices (sort keys ``REMINDER#...``, ``DEFERRED#...`` and
        ``NOTICE#...``)."""
        return self._query(
            IndexName="due",
            KeyConditionExpression=Key("due_pk").eq(self.DUE) & Key("due_at").lte(iso(until)),
        )

    def lease_reminder(self, reminder: dict[str, Any], now: datetime, lease: timedelta) -> bool:
        """Take the exclusive right to fan a reminder out for `lease`; False if another tick
        holds it. A tick that dies mid-way leaves the lease to run out, and the next one redoes
        the fan-out (the sender's delivery claims make a repeated fan-out send nothing twice)."""
        return (
            _update_if(
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
                ":state": "fanning-out",
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

    def put_deferred(
        self, job: dict[str, Any], region: str, due_at: datetime | None, reason: str
    ) -> None:
        """Keep a send batch for later: in the due index at `due_at` (the next morning of
        someone's quiet hours), or out of it (None: a paused campaign, resumed by hand)."""
        ids = sorted(job["ids"])
        digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:16]
        item: dict[str, Any] = {
            "pk": _campaign_pk(job["campaign_id"]),
            "sk": f"DEFERRED#{job['reminder']}#{digest}",
            "campaign_id": job["campaign_id"],
            "reminder": job["reminder"],
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
                KeyConditionExpression=Key("pk").eq(_campaign_pk(campaign_id))
                & Key("sk").begins_with("DEFERRED#"),
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

    def put_deferred_notice(self, job: dict[str, Any], due_at: datetime) -> None:
        """Keep a notice job (a confirmation text asked for at night) in the due index until
        `due_at`, when the scheduler puts it back on the notice queue. One per person and kind:
        a later request in the same night replaces the earlier one, so the morning brings one
        text, not one per request."""
        self._table.put_item(
            Item={
                "pk": f"NOTICE#{job['subscriber_id']}",
                "sk": f"{self.DEFERRED_NOTICE}{job['kind']}",
                "job": job,
                "state": "deferred",
                "due_pk": self.DUE,
                "due_at": iso(due_at),
            }
        )

    def release_deferred(self, item: dict[str, Any]) -> None:
        """A deferred batch or notice is back on its queue: forget it."""
        self._table.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})

    # -- counters ---------------------------------------------------------------------------

    def add_stats(self, campaign_id: str, region: str, counts: dict[str, int]) -> None:
        """Add a batch's outcome to the campaign's counters for a region (one write a batch)."""
        self._add(campaign_id, f"STATS#{region}", counts)

    def stats(self, campaign_id: str) -> dict[str, dict[str, int]]:
        """Region -> counters."""
        return self._counters(campaign_id, "STATS#")

    def add_to_timeline(self, campaign_id: str, now: datetime, counts: dict[str, int]) -> None:
        """Count events of a campaign by the hour they happened in (UTC), for its charts."""
        self._add(campaign_id, f"TIMELINE#{now:%Y-%m-%dT%H}", counts)

    def timeline(self, campaign_id: str) -> dict[str, dict[str, int]]:
        """Hour ("2025-10-27T09", UTC) -> counts, oldest first."""
        return self._counters(campaign_id, "TIMELINE#")

    def _add(self, campaign_id: str, sk: str, counts: dict[str, int]) -> None:
        """Add to the counters of one item of the campaign (one write, however many)."""
        counts = {name: value for name, value in counts.items() if value}
        if not counts:
            return
        self._table.update_item(
            Key={"pk": _campaign_pk(campaign_id), "sk": sk},
            UpdateExpression="ADD " + ", ".join(f"#{name} :{name}" for name in counts),
            ExpressionAttributeNames={f"#{name}": name for name in counts},
            ExpressionAttributeValues={f":{name}": value for name, value in counts.items()},
        )

    def _counters(self, campaign_id: str, prefix: str) -> dict[str, dict[str, int]]:
        """The counter items of the campaign whose sort keys start with `prefix`, by the rest
        of their sort key."""
        items = self._query(
            KeyConditionExpression=Key("pk").eq(_campaign_pk(campaign_id))
            & Key("sk").begins_with(prefix),
            ConsistentRead=True,
        )
        return {
            item["sk"].removeprefix(prefix): {
                k: int(v) for k, v in item.items() if k not in ("pk", "sk")
            }
            for item in items
        }

    def set_status(self, campaign_id: str, status: str, now: datetime, reason: str = "") -> None:
        self.save_campaign(campaign_id, {"status": status, "status_reason": reason}, now)

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
            if _conditional_failed(error):
                return
            raise
        item = response["Attributes"]
        if item.get("shards_done", 0) >= item.get("fanout_jobs", 0):
            self._table.update_item(
                Key={"pk": reminder["pk"], "sk": reminder["sk"]},
                UpdateExpression="SET finished_at = :now, #state = :state",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":now": iso(now), ":state": "fanned-out"},
            )

    def _query(self, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._table.query(**query)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


FANOUT_DONE = "#done"
LEFT = "left"  # a claim refused: the subscriber is no longer reached by the campaign


def _campaign_pk(campaign_id: str) -> str:
    return f"CAMPAIGN#{campaign_id}"


class DeliveryStore:
    """Claims on messages: a conditional put makes "send at most once" hold across retries."""

    def __init__(self, settings: Settings) -> None:
        self._table = aws.table(settings.deliveries_table)
        self._subscribers_table = settings.subscribers_table
        self._ttl = timedelta(days=settings.deliveries_ttl_days)

    def claim_or_state(
        self, key: str, now: datetime, *, subscriber_id: str, campaign_id: str, **attributes: Any
    ) -> str | None:
        """Claim the message `key` for a reminder of `campaign_id` to `subscriber_id`: None if
        this call claimed it; `LEFT` if the subscriber is no longer reached (unsubscribed,
        suppressed, erased, or done with the campaign since the sender read them); else the
        state the earlier claim is in ("sent", "failed", or "claimed": sent or not, nobody
        knows).

        One transaction checks the subscriber and puts the claim, so that an unsubscribe or an
        "I've switched it off" that lands while a batch is in flight stops that message."""
        item = {
            "pk": key,
            "state": "claimed",
            "claimed_at": iso(now),
            "expires_at": int((now + self._ttl).timestamp()),
            "campaign_id": campaign_id,
            **attributes,
        }
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self._subscribers_table,
                            "Key": {"subscriber_id": subscriber_id},
                            "ConditionExpression": "#status = :active AND NOT contains(done_campaigns, :campaign)",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":active": Status.ACTIVE.value,
                                ":campaign": campaign_id,
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            codes = [str(reason.get("Code", "")) for reason in reasons]
            if len(codes) == 2 and codes[1] == "ConditionalCheckFailed":
                # DynamoDB returns the old item, in its wire format, with the failure.
                old: dict[str, Any] = dict(reasons[1].get("Item") or {})
                state = old.get("state", {}).get("S") if old else (self.get(key) or {}).get("state")
                return str(state or "claimed")
            if codes and codes[0] == "ConditionalCheckFailed":
                return LEFT
            raise  # a conflict with another write of the same items: the batch is retried
        return None

    def record_sent_many(self, sent: list[tuple[str, str, dict[str, Any]]], now: datetime) -> None:
        """Record sent messages (key, provider message id, claim attributes), 25 a request."""
        expires_at = int((now + self._ttl).timestamp())
        with self._table.batch_writer() as batch:
            for key, message_id, attributes in sent:
                batch.put_item(
                    Item={
                        "pk": key,
                        "state": "sent",
                        "message_id": message_id,
                        "sent_at": iso(now),
                        "expires_at": expires_at,
                        **attributes,
                    }
                )

    def claim(self, key: str, now: datetime, **attributes: Any) -> bool:
        """Claim the message `key`; False if it was claimed before (sent, or in doubt)."""
        item = {
            "pk": key,
            "state": "claimed",
            "claimed_at": iso(now),
            "expires_at": int((now + self._ttl).timestamp()),
            **attributes,
        }
        try:
            self._table.put_item(Item=item, ConditionExpression=Attr("pk").not_exists())
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def record_sent(self, key: str, message_id: str, now: datetime) -> None:
        self._table.update_item(
            Key={"pk": key},
            UpdateExpression="SET #state = :sent, message_id = :id, sent_at = :now",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":sent": "sent", ":id": message_id, ":now": iso(now)},
        )

    def record_failed(self, key: str, reason: str, now: datetime, state: str = "failed") -> None:
        """A claimed message that did not go out ("failed"), or may have ("unknown"), and why."""
        self._table.update_item(
            Key={"pk": key},
            UpdateExpression="SET #state = :state, reason = :reason, failed_at = :now",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":state": state, ":reason": reason, ":now": iso(now)},
        )

    def put_short_links(self, links: dict[str, dict[str, str]], expires: datetime) -> None:
        """Store short codes of done links (code -> campaign, region, subscriber), 25 a request."""
        with self._table.batch_writer(overwrite_by_pkeys=["pk"]) as batch:
            for code, names in links.items():
                batch.put_item(
                    Item={"pk": f"short#{code}", "expires_at": int(expires.timestamp()), **names}
                )

    def short_link(self, code: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": f"short#{code}"}).get("Item")
        return dict(item) if item else None

    def count_in_window(self, key: str, window: timedelta, now: datetime) -> int:
        """Count one more event in the current window of `key` (a rate limit); the count."""
        start = int(now.timestamp()) // int(window.total_seconds()) * int(window.total_seconds())
        response = self._table.update_item(
            Key={"pk": f"{key}#{start}"},
            UpdateExpression="ADD hits :one SET expires_at = :expires",
            ExpressionAttributeValues={
                ":one": 1,
                ":expires": start + 2 * int(window.total_seconds()),
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["hits"])

    def record_click(self, key: str, now: datetime, **attributes: str) -> bool:
        """Count a click on a tracked link (`attributes` say whose and which); True if it is
        the first click on that link."""
        assignments = "".join(f", #{name} = :{name}" for name in attributes)
        response = self._table.update_item(
            Key={"pk": key},
            UpdateExpression="ADD clicks :one SET first_at = if_not_exists(first_at, :now), "
            f"last_at = :now, expires_at = :expires{assignments}",
            ExpressionAttributeNames={f"#{name}": name for name in attributes},
            ExpressionAttributeValues={
                ":one": 1,
                ":now": iso(now),
                ":expires": int((now + self._ttl).timestamp()),
                **{f":{name}": value for name, value in attributes.items()},
            },
            ReturnValues="UPDATED_OLD",
        )
        return "clicks" not in response.get("Attributes", {})

    def release(self, key: str) -> None:
        """Give a claim back after a send failed before the provider accepted the message, so
        that the queue's retry can send it."""
        self._table.delete_item(Key={"pk": key}, ConditionExpression=Attr("state").eq("claimed"))

    def get(self, key: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": key}, ConsistentRead=True).get("Item")
        return dict(item) if item else None


def _item(subscriber: Subscriber) -> dict[str, Any]:
    item = asdict(subscriber)
    item["status"] = subscriber.status.value
    item.pop("sms_introduced")  # written by mark_sms_introduced only
    item.pop("done_campaigns")  # written by the "I've switched it off" link only
    item["platforms"] = list(subscriber.platforms)
    item["consent"] = {key: value for key, value in item["consent"].items() if value != ""}
    return {key: value for key, value in item.items() if value != ""}


def _active_item(subscriber: Subscriber) -> dict[str, Any]:
    """An active subscriber's item: in the audience index of their home group."""
    item = _item(subscriber)
    item["audience_pk"] = audience_key(subscriber.home_group, subscriber.subscriber_id)
    item["audience_sk"] = subscriber.subscriber_id
    return item


def _subscriber(item: dict[str, Any]) -> Subscriber:
    return Subscriber(
        subscriber_id=item["subscriber_id"],
        channel=item["channel"],
        contact=item["contact"],
        region=item["region"],
        home_group=item["home_group"],
        locale=item["locale"],
        timezone=item["timezone"],
        platforms=tuple(item.get("platforms", ())),
        status=Status(item["status"]),
        consent=Consent(**item["consent"]),
        created_at=item["created_at"],
        confirmation_sent_at=item.get("confirmation_sent_at", ""),
        confirmed_at=item.get("confirmed_at", ""),
        sms_introduced=bool(item.get("sms_introduced", False)),
        done_campaigns=frozenset(item.get("done_campaigns", ())),
    )


def plain(value: Any) -> Any:
    """An item's values as JSON has them: DynamoDB's Decimals as int or float, sets as lists."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(item) for item in value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
