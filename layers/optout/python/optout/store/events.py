"""The events table: the organisers' endpoints, each event kept for replay, and per endpoint a
log of recent delivery attempts and its dead letters.

Endpoints come and go as `optout.domain.endpoints` records; only this module knows the items
behind them. An event is two items: one found by its id (its body, and whether it was fanned
out), one in its day's partition, sorted by time, for a range replayed. Events, attempts and
dead letters expire `retention` after they were written (`expires_at`, the table's time to
live); endpoints never do.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from optout.core import aws
from optout.core.clock import iso
from optout.core.settings import Settings
from optout.domain.endpoints import (
    ACTIVE,
    PAUSED,
    Attempt,
    DeadLetter,
    Endpoint,
    EndpointEdit,
    KeptEvent,
)
from optout.domain.models import DEFAULT_ORGANISATION
from optout.store import layout
from optout.store.dynamo import conditional_failed, delete_if, every_item, plain, update_if

MAX_KEY = 200  # characters of an id looked up: no endpoint or event has a longer one


class Kept(StrEnum):
    NEW = "new"  # kept now: fan it out
    UNFINISHED = "unfinished"  # kept before, never fanned out to the end: fan it out again
    DONE = "done"  # kept and fanned out before: nothing to do


class EventStore:
    def __init__(self, settings: Settings) -> None:
        self._table = aws.table(settings.events.table)
        self._retention = timedelta(days=settings.events.retention_days)

    # -- endpoints --------------------------------------------------------------------------

    def endpoints(self) -> list[Endpoint]:
        items = every_item(self._table.query, KeyConditionExpression=Key("pk").eq(layout.ENDPOINTS))
        return [_endpoint_from(item) for item in items]

    def get(self, endpoint_id: str) -> Endpoint | None:
        if not endpoint_id or len(endpoint_id) > MAX_KEY:
            return None
        item = self._table.get_item(Key=layout.endpoint_key(endpoint_id), ConsistentRead=True).get(
            "Item"
        )
        return _endpoint_from(item) if item else None

    def create(self, endpoint: Endpoint) -> bool:
        """Save a new endpoint; False if one has its id."""
        try:
            self._table.put_item(
                Item={**layout.endpoint_key(endpoint.endpoint_id), **_endpoint_item(endpoint)},
                ConditionExpression=Attr("pk").not_exists(),
            )
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True

    def edit(self, endpoint_id: str, edit: EndpointEdit) -> Endpoint | None:
        """Change what an organiser may change; the endpoint as it is now, None if gone."""
        values: dict[str, Any] = {}
        if edit.url is not None:
            values["url"] = edit.url
        if edit.types is not None:
            values["types"] = list(edit.types)
        if edit.own_crm is not None:
            values["own_crm"] = edit.own_crm
        if edit.description is not None:
            values["description"] = edit.description
        return self._update(endpoint_id, values)

    def rotate(self, endpoint_id: str, secret: str, previous: str, until: datetime) -> bool:
        """A new secret, the one it replaces still signing until `until`."""
        values = {"secret": secret, "previous_secret": previous, "previous_until": iso(until)}
        return self._update(endpoint_id, values) is not None

    def pause(self, endpoint_id: str, reason: str, now: datetime) -> Endpoint | None:
        """Pause an active endpoint; the endpoint paused, or None when it was not active (paused
        already, or gone): only one caller pauses it, and tells the organisers."""
        response = update_if(
            self._table,
            Key=layout.endpoint_key(endpoint_id),
            UpdateExpression="SET #status = :paused, paused_reason = :reason, paused_at = :at",
            ConditionExpression=Attr("pk").exists() & Attr("status").eq(ACTIVE),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":paused": PAUSED, ":reason": reason, ":at": iso(now)},
            ReturnValues="ALL_NEW",
        )
        return _endpoint_from(response["Attributes"]) if response else None

    def resume(self, endpoint_id: str) -> Endpoint | None:
        """Active again, its run of failures forgotten; None if gone."""
        return self._update(
            endpoint_id,
            {"status": ACTIVE, "paused_reason": "", "paused_at": "", "failing_since": ""},
        )

    def delete(self, endpoint_id: str) -> bool:
        """Forget the endpoint; its log and dead letters expire with the retention."""
        if not endpoint_id or len(endpoint_id) > MAX_KEY:
            return False
        return delete_if(
            self._table,
            Key=layout.endpoint_key(endpoint_id),
            ConditionExpression=Attr("pk").exists(),
        )

    def delivered(self, endpoint_id: str, now: datetime) -> None:
        """A 2xx: the endpoint's run of failures, if any, ends."""
        update_if(
            self._table,
            Key=layout.endpoint_key(endpoint_id),
            UpdateExpression="SET last_delivered_at = :at, failing_since = :none",
            ConditionExpression=Attr("pk").exists(),
            ExpressionAttributeValues={":at": iso(now), ":none": ""},
        )

    def claim_probe(self, endpoint_id: str, now: datetime, until: datetime) -> bool:
        """Take the one try a failing endpoint is given at a time, until `until` (or
        `end_probe`); False if another delivery holds it. The lease is an attribute of the
        endpoint's item, so it is shared by every run of the events function."""
        return (
            update_if(
                self._table,
                Key=layout.endpoint_key(endpoint_id),
                UpdateExpression="SET probing_until = :until",
                ConditionExpression=Attr("pk").exists()
                & (Attr("probing_until").not_exists() | Attr("probing_until").lte(iso(now))),
                ExpressionAttributeValues={":until": iso(until)},
            )
            is not None
        )

    def end_probe(self, endpoint_id: str) -> None:
        """Give back the try `claim_probe` took, for the next delivery to make."""
        update_if(
            self._table,
            Key=layout.endpoint_key(endpoint_id),
            UpdateExpression="REMOVE probing_until",
            ConditionExpression=Attr("pk").exists(),
        )

    def failed(self, endpoint_id: str, now: datetime) -> Endpoint | None:
        """A failed attempt: the endpoint's run of failures starts now unless it started
        before; the endpoint as it is now, None if gone."""
        response = update_if(
            self._table,
            Key=layout.endpoint_key(endpoint_id),
            UpdateExpression="SET failing_since = :at",
            ConditionExpression=Attr("pk").exists()
            & (Attr("failing_since").not_exists() | Attr("failing_since").eq("")),
            ExpressionAttributeValues={":at": iso(now)},
            ReturnValues="ALL_NEW",
        )
        return _endpoint_from(response["Attributes"]) if response else self.get(endpoint_id)

    def _update(self, endpoint_id: str, values: dict[str, Any]) -> Endpoint | None:
        if not endpoint_id or len(endpoint_id) > MAX_KEY:
            return None
        if not values:
            return self.get(endpoint_id)
        names = {f"#{name}": name for name in values}
        response = update_if(
            self._table,
            Key=layout.endpoint_key(endpoint_id),
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in values),
            ConditionExpression=Attr("pk").exists(),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":{name}": value for name, value in values.items()},
            ReturnValues="ALL_NEW",
        )
        return _endpoint_from(response["Attributes"]) if response else None

    # -- events -----------------------------------------------------------------------------

    def keep(self, event: KeptEvent, now: datetime) -> Kept:
        """Keep an event for replay, once: the same id kept again changes nothing. Whether it
        is new, or was kept before but not fanned out to the end (`fanned_out`), so the caller
        fans it out, or was done before."""
        expires = self._expires(now)
        try:
            self._table.put_item(
                Item={
                    **layout.event_key(event.event_id),
                    **asdict(event),
                    "fanned_out": False,
                    "expires_at": expires,
                },
                ConditionExpression=Attr("pk").not_exists(),
            )
        except ClientError as error:
            if not conditional_failed(error):
                raise
            item = self._table.get_item(
                Key=layout.event_key(event.event_id), ConsistentRead=True
            ).get("Item", {})
            if item.get("fanned_out"):
                return Kept.DONE
            kept = Kept.UNFINISHED
        else:
            kept = Kept.NEW
        # By time, for a range replayed; written again as it was when a run stopped before.
        self._table.put_item(
            Item={
                **layout.event_day_key(event.at, event.event_id),
                "event_id": event.event_id,
                "type": event.type,
                "at": event.at,
                "expires_at": expires,
            }
        )
        return kept

    def fanned_out(self, event_id: str) -> None:
        update_if(
            self._table,
            Key=layout.event_key(event_id),
            UpdateExpression="SET fanned_out = :yes",
            ConditionExpression=Attr("pk").exists(),
            ExpressionAttributeValues={":yes": True},
        )

    def event(self, event_id: str) -> KeptEvent | None:
        if not event_id or len(event_id) > MAX_KEY:
            return None
        # Consistent: a delivery job can run a moment after the fan-out kept the event.
        item = self._table.get_item(Key=layout.event_key(event_id), ConsistentRead=True).get("Item")
        return _event_from(item) if item else None

    def events_between(self, start: datetime, end: datetime, limit: int) -> list[KeptEvent]:
        """The events kept that happened from `start` to `end` (both included), oldest first,
        at most `limit` (and one more, for the caller to tell there are more)."""
        found: list[KeptEvent] = []
        day = start.date()
        low, high = iso(start), iso(end)
        while day <= end.date() and len(found) <= limit:
            items = every_item(
                self._table.query,
                KeyConditionExpression=Key("pk").eq(layout.events_day_pk(day.isoformat()))
                & Key("sk").between(low, high + "~"),
            )
            for item in items:
                if low <= item["at"] <= high and len(found) <= limit:
                    kept = self.event(item["event_id"])
                    if kept is not None:
                        found.append(kept)
            day += timedelta(days=1)
        return found

    # -- the log of attempts, and dead letters ----------------------------------------------

    def log(self, attempt: Attempt, now: datetime) -> None:
        self._table.put_item(
            Item={
                **layout.attempt_key(
                    attempt.endpoint_id,
                    attempt.at,
                    attempt.event_id,
                    attempt.attempt,
                    secrets.token_hex(4),
                ),
                **asdict(attempt),
                "expires_at": self._expires(now),
            }
        )

    def attempts(self, endpoint_id: str, limit: int = 50) -> list[Attempt]:
        """The endpoint's latest attempts, newest first."""
        items = self._table.query(
            KeyConditionExpression=Key("pk").eq(layout.attempts_pk(endpoint_id)),
            ScanIndexForward=False,
            Limit=limit,
        )["Items"]
        return [Attempt(**_fields(Attempt, item)) for item in items]

    def dead_letter(self, letter: DeadLetter, now: datetime) -> None:
        self._table.put_item(
            Item={
                **layout.dead_letter_key(letter.endpoint_id, letter.at, letter.event_id),
                **asdict(letter),
                "expires_at": self._expires(now),
            }
        )

    def dead_letters(self, endpoint_id: str, limit: int = 50) -> list[DeadLetter]:
        """The endpoint's latest dead letters, newest first."""
        items = self._table.query(
            KeyConditionExpression=Key("pk").eq(layout.dead_letters_pk(endpoint_id)),
            ScanIndexForward=False,
            Limit=limit,
        )["Items"]
        return [DeadLetter(**_fields(DeadLetter, item)) for item in items]

    def keep_until(self, event_ids: list[str], until: datetime) -> None:
        """Keep these events at least until `until`: a replay's retries run for three days
        from now, and must not find their event expired halfway."""
        expires = int(until.timestamp())
        for event_id in event_ids:
            update_if(
                self._table,
                Key=layout.event_key(event_id),
                UpdateExpression="SET expires_at = :expires",
                ConditionExpression=Attr("pk").exists() & Attr("expires_at").lt(expires),
                ExpressionAttributeValues={":expires": expires},
            )

    def _expires(self, now: datetime) -> int:
        return int((now + self._retention).timestamp())


def _fields(kind: type, item: dict[str, Any]) -> dict[str, Any]:
    names = {field.name for field in fields(kind)}
    return {name: value for name, value in plain(item).items() if name in names}


def _endpoint_item(endpoint: Endpoint) -> dict[str, Any]:
    item = asdict(endpoint)
    item["types"] = list(endpoint.types)
    if endpoint.organisation == DEFAULT_ORGANISATION:
        del item["organisation"]  # as before coalitions: read back as the default one's
    return item


def _endpoint_from(item: dict[str, Any]) -> Endpoint:
    values = _fields(Endpoint, item)
    values["types"] = tuple(values.get("types", ()))
    return Endpoint(**values)


def _event_from(item: dict[str, Any]) -> KeptEvent:
    return KeptEvent(**_fields(KeptEvent, item))
