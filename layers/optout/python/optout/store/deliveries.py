"""The deliveries table, keyed by ``pk`` alone; every item expires through TTL.

Mostly claims: one item per message the bot means to send, put before sending so that none goes
out twice, and webhook ids seen, so that a replayed webhook changes nothing. Beside them, the
short codes of "I've switched it off" links (``short#<code>``), rate-limit windows and the first
click on each tracked link.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final, Literal

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from optout.core import aws
from optout.core.clock import iso, parse_iso
from optout.core.settings import Settings
from optout.domain.cap import Reservation
from optout.domain.models import DEFAULT_ORGANISATION, ClaimState, Status
from optout.store import layout
from optout.store.dynamo import conditional_failed, update_if

LEFT: Final = "left"  # a claim refused: the subscriber is no longer reached by the campaign
CHANGED: Final = "changed"  # a claim refused: the subscriber's count for the cap changed


# The claim's check that the person still belongs to the organisation its message comes from;
# a record with no memberships is the default organisation's member (as before coalitions).
_MEMBER_OF_IT = "memberships.#org.#status = :active"
_MEMBER_OF_DEFAULT = f"(attribute_not_exists(memberships) OR {_MEMBER_OF_IT})"


class DeliveryStore:
    """A claim is a put on condition that there is none yet, so "at most once" holds across
    retries. `claim_or_state` claims a message to a person (`optout.sending.send_once` is its one
    caller: a reminder's claim is also a transaction that checks the subscriber is still
    reached); webhook ids use `claim`."""

    def __init__(self, settings: Settings) -> None:
        self._table = aws.table(settings.deliveries_table)
        self._subscribers_table = settings.subscribers_table
        self._ttl = timedelta(days=settings.deliveries_ttl_days)

    def claim_or_state(
        self,
        key: str,
        now: datetime,
        *,
        subscriber_id: str | None = None,
        reservation: Reservation | None = None,
        **attributes: Any,
    ) -> ClaimState | Literal["left", "changed"] | None:
        """Claim the message `key`: None if this call claimed it, else the state the earlier
        claim is in (sent, failed, unknown, or claimed: sent or not, nobody knows).

        With `subscriber_id` (a reminder, whose `campaign_id` is among the attributes), one
        transaction checks the subscriber and puts the claim, so that an unsubscribe or an
        "I've switched it off" that lands while a batch is in flight stops that message: `LEFT`
        if they are no longer reached (unsubscribed, suppressed, erased, or done with the
        campaign since the sender read them). With a `reservation` too, the same transaction
        counts the message against the cap across campaigns (`domain.cap`): `CHANGED` if their
        count changed since the sender read it (another campaign's message): read, decide again."""
        item = self._claim_item(key, now, **attributes)
        if subscriber_id is None:
            try:
                self._table.put_item(
                    Item=item,
                    ConditionExpression=Attr("pk").not_exists(),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if not conditional_failed(error):
                    raise
                return self._earlier_state(key, error.response.get("Item"))
            return None
        # Whose message it is (a coalition's organisation; none named: the default one's).
        organisation = str(attributes.get("organisation", DEFAULT_ORGANISATION))
        try:
            self._table.meta.client.transact_write_items(
                TransactItems=[
                    self._still_reached(
                        subscriber_id, attributes["campaign_id"], organisation, reservation
                    ),
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
                return self._earlier_state(key, reasons[1].get("Item"))
            if codes and codes[0] == "ConditionalCheckFailed":
                if reservation is not None and self._still_reachable(
                    subscriber_id, attributes["campaign_id"], organisation
                ):
                    return CHANGED
                return LEFT
            raise  # a conflict with another write of the same items: the batch is retried
        return None

    def _still_reached(
        self,
        subscriber_id: str,
        campaign_id: str,
        organisation: str,
        reservation: Reservation | None,
    ) -> dict[str, Any]:
        """The transaction's check of the subscriber: still active, still an active member of
        the organisation the message comes from (a record without memberships is the default
        one's), and not done with the campaign; with a `reservation`, also the write of their
        count, if it is as read."""
        check: dict[str, Any] = {
            "TableName": self._subscribers_table,
            "Key": {"subscriber_id": subscriber_id},
            "ConditionExpression": "#status = :active AND NOT contains(done_campaigns, :campaign)"
            + " AND "
            + (_MEMBER_OF_DEFAULT if organisation == DEFAULT_ORGANISATION else _MEMBER_OF_IT),
            "ExpressionAttributeNames": {"#status": "status", "#org": organisation},
            "ExpressionAttributeValues": {
                ":active": Status.ACTIVE.value,
                ":campaign": campaign_id,
            },
        }
        if reservation is None:
            return {"ConditionCheck": check}
        check["ConditionExpression"] += " AND " + _sends_as(reservation.before, check)
        check["UpdateExpression"] = "SET recent_sends = :after"
        check["ExpressionAttributeValues"][":after"] = list(reservation.after)
        return {"Update": check}

    def _still_reachable(self, subscriber_id: str, campaign_id: str, organisation: str) -> bool:
        """After a refused reservation: whether it was the count that changed, not the person."""
        item = (
            aws.table(self._subscribers_table)
            .get_item(Key={"subscriber_id": subscriber_id}, ConsistentRead=True)
            .get("Item")
        )
        if not item or item.get("status") != Status.ACTIVE.value:
            return False
        memberships = item.get("memberships")
        member = (
            organisation == DEFAULT_ORGANISATION
            if memberships is None
            else (memberships.get(organisation) or {}).get("status") == "active"
        )
        return member and campaign_id not in item.get("done_campaigns", set())

    def give_back(self, subscriber_id: str, reservation: Reservation) -> None:
        """Undo a reservation whose message the provider certainly did not take, if nothing
        was counted since (else it stays: one message fewer that day, never one more)."""
        request: dict[str, Any] = {"ExpressionAttributeValues": {}}
        condition = _sends_as(reservation.after, request)
        update_if(
            aws.table(self._subscribers_table),
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="SET recent_sends = :before",
            ConditionExpression=condition,
            ExpressionAttributeValues={
                **request["ExpressionAttributeValues"],
                ":before": list(reservation.before),
            },
        )

    def _earlier_state(self, key: str, old: Any) -> ClaimState:
        """The state of the claim a put found: DynamoDB returns the old item, in its wire
        format, with the failure (read again if it did not)."""
        state = (
            old.get("state", {}).get("S")
            if isinstance(old, dict) and old
            else (self.get(key) or {}).get("state")
        )
        return ClaimState(state or ClaimState.CLAIMED)

    def record_sent_many(self, sent: list[tuple[str, str, dict[str, Any]]], now: datetime) -> None:
        """Record sent messages (key, provider message id, claim attributes), 25 a request."""
        expires_at = int((now + self._ttl).timestamp())
        with self._table.batch_writer() as batch:
            for key, message_id, attributes in sent:
                batch.put_item(
                    Item={
                        "pk": key,
                        "state": ClaimState.SENT.value,
                        "message_id": message_id,
                        "sent_at": iso(now),
                        "expires_at": expires_at,
                        **attributes,
                    }
                )

    def claim(self, key: str, now: datetime, **attributes: Any) -> bool:
        """Claim `key` (a webhook id seen); False if it was claimed before."""
        try:
            self._table.put_item(
                Item=self._claim_item(key, now, **attributes),
                ConditionExpression=Attr("pk").not_exists(),
            )
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True

    def _claim_item(self, key: str, now: datetime, **attributes: Any) -> dict[str, Any]:
        return {
            "pk": key,
            "state": ClaimState.CLAIMED.value,
            "claimed_at": iso(now),
            "expires_at": int((now + self._ttl).timestamp()),
            **attributes,
        }

    def record_sent(self, key: str, message_id: str, now: datetime) -> None:
        """A claimed message the provider took, with its message id."""
        self._table.update_item(
            Key={"pk": key},
            UpdateExpression="SET #state = :sent, message_id = :id, sent_at = :now",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":sent": ClaimState.SENT.value,
                ":id": message_id,
                ":now": iso(now),
            },
        )

    def record_failed(
        self, key: str, reason: str, now: datetime, state: ClaimState = ClaimState.FAILED
    ) -> None:
        """A claimed message that did not go out (failed), or may have (unknown), and why."""
        self._table.update_item(
            Key={"pk": key},
            UpdateExpression="SET #state = :state, reason = :reason, failed_at = :now",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":state": state.value,
                ":reason": reason,
                ":now": iso(now),
            },
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
        start = _window_start(window, now)
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

    def counted_in_window(self, key: str, window: timedelta, now: datetime) -> int:
        """How many events `count_in_window` has counted in the current window of `key`."""
        item = self.get(f"{key}#{_window_start(window, now)}")
        return int(item["hits"]) if item else 0

    def open_session(self, session_id: str, expires: datetime, now: datetime) -> None:
        """Record an organiser's dashboard session, which lives until `expires` or sign-out."""
        self._table.put_item(
            Item={
                "pk": f"session#{session_id}",
                "opened_at": iso(now),
                "expires_at": int(expires.timestamp()),
            },
            ConditionExpression=Attr("pk").not_exists(),
        )

    def session_open(self, session_id: str, now: datetime) -> bool:
        """Whether the session is open: recorded, not signed out, not past its expiry (the
        table's TTL removes expired items only eventually)."""
        item = self.get(f"session#{session_id}")
        return item is not None and int(item["expires_at"]) > int(now.timestamp())

    def close_session(self, session_id: str) -> None:
        self._table.delete_item(Key={"pk": f"session#{session_id}"})

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

    def reminder_sent_at(
        self, campaign_id: str, reminder: str, subscriber_id: str
    ) -> datetime | None:
        """When the reminder (its id, ``EU-07``) went to the subscriber, by email or text; None
        if it is not on record (never sent, or expired)."""
        for channel in ("email", "sms"):
            item = self._table.get_item(
                Key={
                    "pk": layout.reminder_delivery_named(
                        campaign_id, reminder, subscriber_id, channel
                    )
                },
                ProjectionExpression="sent_at, claimed_at",
            ).get("Item")
            if item:
                return parse_iso(str(item.get("sent_at") or item["claimed_at"]))
        return None

    def variant_sent(
        self, campaign_id: str, reminder: str, subscriber_id: str, channel: str
    ) -> tuple[str, str] | None:
        """The variant of an A/B-tested reminder that went to the subscriber, and their group
        in its test (`domain.ab.TEST` or `REST`), as the claim recorded them; None if none."""
        item = self._table.get_item(
            Key={
                "pk": layout.reminder_delivery_named(campaign_id, reminder, subscriber_id, channel)
            },
            ProjectionExpression="variant, ab_group",
        ).get("Item")
        if not item or not item.get("variant"):
            return None
        return str(item["variant"]), str(item.get("ab_group", ""))

    def release(self, key: str) -> None:
        """Give a claim back after a send the provider certainly did not take, so that the
        caller's retry can send it (only a claim still "claimed": never a recorded one)."""
        self._table.delete_item(
            Key={"pk": key}, ConditionExpression=Attr("state").eq(ClaimState.CLAIMED.value)
        )

    def get(self, key: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": key}, ConsistentRead=True).get("Item")
        return dict(item) if item else None


def _window_start(window: timedelta, now: datetime) -> int:
    seconds = int(window.total_seconds())
    return int(now.timestamp()) // seconds * seconds


def seconds_left_in_window(window: timedelta, now: datetime) -> int:
    """Until the window of `count_in_window` that holds `now` ends and counting starts again."""
    return _window_start(window, now) + int(window.total_seconds()) - int(now.timestamp())


def _sends_as(sends: tuple[str, ...], request: dict[str, Any]) -> str:
    """A condition that a subscriber's count for the cap is `sends` (adding its value to
    `request`): an empty count may also be no attribute at all (nobody counted yet)."""
    if not sends:
        request["ExpressionAttributeValues"][":none"] = 0
        return "(attribute_not_exists(recent_sends) OR size(recent_sends) = :none)"
    request["ExpressionAttributeValues"][":sends"] = list(sends)
    return "recent_sends = :sends"
