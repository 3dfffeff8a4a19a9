"""The watches table: policy watches, the versions of their sources, the changes found.

Watches, versions and changes come and go as `optout.domain.watches` records; only this module
knows the items behind them. A version's text is stored compressed: a privacy policy of 100 KB
of text takes about 25 KB, well within an item's 400 KB. The version a watch compares against
has no expiry, however long the watch is paused; once a newer one replaces it, it is kept
`retention` more (`expires_at`, the table's time to live).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from optout.core import aws
from optout.core.settings import Settings
from optout.domain.watches import Ally, SeenChange, Source, Version, Watch, WatchStatus
from optout.store import layout
from optout.store.dynamo import conditional_failed, delete_if, every_item, plain, update_if

# Below DynamoDB's 400 KB an item, with room for the version's other attributes.
MAX_COMPRESSED_TEXT = 350 * 1024
MAX_KEY = 1000  # characters of an id: DynamoDB refuses a sort key over 1 KB


class VersionTooLarge(ValueError):
    """A source's text that cannot be kept, even compressed."""


class WatchStore:
    """One partition of watches (``pk = WATCHES``, ``sk = <watch id>``), one of changes
    (``pk = CHANGES``, ``sk = <change id>``, which sorts by time), and one of versions per watch
    (``pk = VERSIONS#<watch id>``, ``sk = <fetched at>``)."""

    def __init__(self, settings: Settings) -> None:
        self._table = aws.table(settings.watching.table)
        self._retention = timedelta(days=settings.watching.retention_days)

    # -- watches ----------------------------------------------------------------------------

    def watches(self) -> list[Watch]:
        items = every_item(self._table.query, KeyConditionExpression=Key("pk").eq(layout.WATCHES))
        return [_watch_from(item) for item in items]

    def get(self, watch_id: str) -> Watch | None:
        if len(watch_id) > MAX_KEY:
            return None  # no watch has one (DynamoDB would refuse the key)
        item = self._table.get_item(Key=layout.watch_key(watch_id)).get("Item")
        return _watch_from(item) if item else None

    def create(self, watch: Watch) -> bool:
        """Save a new watch; False if one has its id."""
        try:
            self._table.put_item(
                Item={**layout.watch_key(watch.watch_id), **_watch_item(watch)},
                ConditionExpression=Attr("pk").not_exists(),
            )
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True

    def set_paused(self, watch_id: str, paused: bool) -> bool:
        """False if there is no such watch."""
        return self._update_watch(watch_id, {"paused": paused})

    def edit(self, before: Watch, after: Watch) -> bool:
        """Save what an organiser changed of a watch: its title, about, setting URL, terms and
        allies, and nothing else, so its baseline, status and pause stay as the watcher left
        them. When the allies change, on condition that they are still `before`'s, secrets and
        problems included: an edit never undoes another, nor a problem recorded meanwhile.
        False when that condition failed or the watch is gone."""
        values: dict[str, Any] = {
            "title": after.title,
            "about": after.about,
            "setting_url": after.setting_url,
            "terms": list(after.terms),
        }
        condition: ConditionBase = Attr("pk").exists()
        if after.allies != before.allies:
            values["allies"] = [asdict(ally) for ally in after.allies]
            condition &= Attr("allies").eq([asdict(ally) for ally in before.allies])
        return self._update_watch(after.watch_id, values, condition)

    def delete(self, watch_id: str) -> bool:
        """Forget the watch; its versions expire with the retention, its changes stay."""
        return delete_if(
            self._table, Key=layout.watch_key(watch_id), ConditionExpression=Attr("pk").exists()
        )

    def record_check(
        self,
        watch: Watch,
        status: WatchStatus,
        *,
        etag: str = "",
        last_modified: str = "",
    ) -> bool:
        """A check that found no change (or failed): its status and the source's validators.
        False if the watch is gone."""
        return self._update_watch(
            watch.watch_id,
            {"status": asdict(status), "etag": etag, "last_modified": last_modified},
        )

    def record_version(
        self,
        watch: Watch,
        version: Version,
        status: WatchStatus,
        now: datetime,
        *,
        change: SeenChange | None = None,
        etag: str = "",
        last_modified: str = "",
    ) -> bool:
        """Keep a new version, and the change found against the previous one, as the watch's
        new baseline, in one transaction: on condition that the watch still compares against
        the version it was read with, so that two checks running together record one change.
        False when that condition failed (another check got there first, or the watch is gone).
        Raises `VersionTooLarge` before writing anything. The version replaced starts its
        retention."""
        text = zlib.compress(version.text.encode("utf-8"), 9)
        if len(text) > MAX_COMPRESSED_TEXT:
            raise VersionTooLarge(
                f"the text is too long to keep: {len(text) // 1024} KB compressed, at most "
                f"{MAX_COMPRESSED_TEXT // 1024} KB"
            )
        name = self._table.name
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": name,
                    "Item": {
                        **layout.version_key(version.watch_id, version.fetched_at),
                        **{k: v for k, v in asdict(version).items() if k != "text"},
                        "text": text,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": name,
                    "Key": layout.watch_key(watch.watch_id),
                    "UpdateExpression": "SET last_version = :version, last_digest = :digest, "
                    "#status = :status, etag = :etag, last_modified = :modified",
                    "ConditionExpression": "attribute_exists(pk) AND last_version = :before",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":version": version.fetched_at,
                        ":digest": version.digest,
                        ":status": asdict(status),
                        ":etag": etag,
                        ":modified": last_modified,
                        ":before": watch.last_version,
                    },
                }
            },
        ]
        if change is not None:
            items.append(
                {
                    "Put": {
                        "TableName": name,
                        "Item": {**layout.change_key(change.change_id), **_change_item(change)},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self._table.meta.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _lost_a_race(error):
                return False
            raise  # refused for another reason (too large, throttled): the run reports it
        if watch.last_version:
            # After the transaction, not in it: a baseline already gone must not refuse the
            # new one. Should this fail, the old version is kept for ever, never lost.
            update_if(
                self._table,
                Key=layout.version_key(watch.watch_id, watch.last_version),
                UpdateExpression="SET expires_at = :expires",
                ConditionExpression=Attr("pk").exists(),
                ExpressionAttributeValues={":expires": self._expires(now)},
            )
        return True

    def set_ally_problem(self, watch_id: str, index: int, url: str, problem: str) -> bool:
        """Why the events to the watch's ally `index` (at `url`) fail; "" once one arrives.
        False if the watch or that ally is gone."""
        return (
            update_if(
                self._table,
                Key=layout.watch_key(watch_id),
                UpdateExpression=f"SET allies[{index}].problem = :problem",
                ConditionExpression=Attr(f"allies[{index}].url").eq(url),
                ExpressionAttributeValues={":problem": problem},
            )
            is not None
        )

    # -- versions ---------------------------------------------------------------------------

    def version(self, watch_id: str, fetched_at: str) -> Version | None:
        if len(watch_id) + len(fetched_at) > MAX_KEY:
            return None
        item = self._table.get_item(Key=layout.version_key(watch_id, fetched_at)).get("Item")
        if not item:
            return None
        values = plain({k: v for k, v in item.items() if k not in {"pk", "sk", "expires_at"}})
        values["text"] = zlib.decompress(bytes(item["text"])).decode("utf-8")
        return Version(**values)

    def versions(self, watch_id: str) -> list[dict[str, Any]]:
        """The versions kept, newest first, without their text: fetched_at, digest, url."""
        items = every_item(
            self._table.query,
            KeyConditionExpression=Key("pk").eq(layout.versions_pk(watch_id)),
            ProjectionExpression="fetched_at, digest, #url, expires_at",
            ExpressionAttributeNames={"#url": "url"},
            ScanIndexForward=False,
        )
        return [plain(item) for item in items]

    # -- changes ----------------------------------------------------------------------------

    def changes(self, limit: int = 100) -> list[SeenChange]:
        """The latest changes, newest first."""
        page = self._table.query(
            KeyConditionExpression=Key("pk").eq(layout.CHANGES),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_change_from(item) for item in page["Items"]]

    def get_change(self, change_id: str) -> SeenChange | None:
        if len(change_id) > MAX_KEY:
            return None  # no change has one (DynamoDB would refuse the key)
        item = self._table.get_item(Key=layout.change_key(change_id)).get("Item")
        return _change_from(item) if item else None

    def untold_changes(self, limit: int = 50) -> list[SeenChange]:
        """Recent changes whose notices were never queued (the watcher stopped in between)."""
        return [change for change in self.changes(limit) if not change.told]

    def mark_told(self, change_id: str) -> None:
        self._table.update_item(
            Key=layout.change_key(change_id),
            UpdateExpression="SET told = :yes",
            ExpressionAttributeValues={":yes": True},
        )

    def set_draft(self, change_id: str, campaign_id: str) -> bool:
        """Note the campaign drafted from the change; False if one was already."""
        return (
            update_if(
                self._table,
                Key=layout.change_key(change_id),
                UpdateExpression="SET draft_campaign_id = :campaign",
                ConditionExpression=Attr("pk").exists() & Attr("draft_campaign_id").eq(""),
                ExpressionAttributeValues={":campaign": campaign_id},
            )
            is not None
        )

    def add_follow_up(self, change_id: str, campaign_id: str, send_id: str) -> bool:
        """Note the "check it again" send to a campaign's converters; False if there was one."""
        return (
            update_if(
                self._table,
                Key=layout.change_key(change_id),
                UpdateExpression="SET follow_ups.#campaign = :send",
                ConditionExpression=Attr("pk").exists()
                & Attr(f"follow_ups.{campaign_id}").not_exists(),
                ExpressionAttributeNames={"#campaign": campaign_id},
                ExpressionAttributeValues={":send": send_id},
            )
            is not None
        )

    # -- helpers ----------------------------------------------------------------------------

    def _update_watch(
        self, watch_id: str, values: dict[str, Any], condition: ConditionBase | None = None
    ) -> bool:
        # Placeholders of our own: boto3 names a condition's own #n0 and :v0, :v1...
        names = {f"#set{index}": name for index, name in enumerate(values)}
        return (
            update_if(
                self._table,
                Key=layout.watch_key(watch_id),
                UpdateExpression="SET "
                + ", ".join(f"#set{index} = :set{index}" for index in range(len(values))),
                ConditionExpression=Attr("pk").exists() if condition is None else condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    f":set{index}": value for index, value in enumerate(values.values())
                },
            )
            is not None
        )

    def _expires(self, now: datetime) -> int:
        return int((now + self._retention).timestamp())


def _lost_a_race(error: ClientError) -> bool:
    """A transaction refused because a condition failed or another write held an item: what
    two runs writing the same change meet. Anything else (an item too large, throttling) is not
    a race, and must not pass for one."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    codes = {str(reason.get("Code")) for reason in error.response.get("CancellationReasons", [])}
    return bool(codes) and codes <= {"None", "ConditionalCheckFailed", "TransactionConflict"}


def _watch_item(watch: Watch) -> dict[str, Any]:
    item = asdict(watch)
    item["terms"] = list(watch.terms)
    item["allies"] = [asdict(ally) for ally in watch.allies]
    return item


def _watch_from(item: dict[str, Any]) -> Watch:
    values = plain({k: v for k, v in item.items() if k not in {"pk", "sk"}})
    return Watch(
        **{
            **values,
            "source": Source(**values["source"]),
            "status": WatchStatus(**values.get("status", {})),
            "terms": tuple(values.get("terms", ())),
            "allies": tuple(Ally(**ally) for ally in values.get("allies", ())),
        }
    )


def _change_item(change: SeenChange) -> dict[str, Any]:
    item = asdict(change)
    # DynamoDB keeps no float: the score as a string of its four places.
    item["score"] = f"{change.score:.4f}"
    item["follow_ups"] = dict(change.follow_ups)
    return item


def _change_from(item: dict[str, Any]) -> SeenChange:
    values = plain({k: v for k, v in item.items() if k not in {"pk", "sk"}})
    return SeenChange(
        **{
            **values,
            "added": tuple(values["added"]),
            "removed": tuple(values["removed"]),
            "terms": tuple(values["terms"]),
            "score": float(values["score"]),
        }
    )
