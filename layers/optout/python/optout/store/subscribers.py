"""The subscribers table: one item per contact, keyed by its subscriber id (a keyed hash of the
contact). Active subscribers also carry ``audience_pk`` = ``<home group>#<shard>`` and
``audience_sk`` = the id: the sparse ``audience`` index lists exactly the people a campaign
reaches, spread over `AUDIENCE_SHARDS` partitions per group so that fan-out can page them in
parallel and no partition takes more than its ~1,000 writes/s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from optout.core import aws
from optout.core.clock import iso, parse_iso
from optout.core.settings import Settings
from optout.domain.models import (
    AudienceMember,
    Consent,
    Membership,
    MembershipStatus,
    Status,
    Subscriber,
)
from optout.domain.organisations import DEFAULT, member_of, memberships_of
from optout.store import layout
from optout.store.dynamo import delete_if, every_item, update_if

AUDIENCE_SHARDS = 16
# A confirmation that loses a race to a concurrent change reads the subscriber again, this often.
ACTIVATE_ATTEMPTS = 3


def audience_shard(subscriber_id: str) -> int:
    """The shard of the audience index a subscriber lives in (stable, evenly spread)."""
    return (
        int.from_bytes(hashlib.sha256(subscriber_id.encode()).digest()[:2], "big") % AUDIENCE_SHARDS
    )


def audience_key(home_group: str, subscriber_id: str) -> str:
    return layout.audience_pk(home_group, audience_shard(subscriber_id))


_AUDIENCE_INDEX_KEYS = ("audience_pk", "audience_sk")
# Items that keep no profile, only the keyed hash of a contact with why and when.
_NO_PROFILE = frozenset({Status.ERASED.value, Status.STOPPED.value})
# What an erasure keeps, and a stop by text keeps of an erasure.
_ERASURE_KEEPS = frozenset({"subscriber_id", "status", "erased_at", "erased_reason"})


# The states list health counts; an erased record is no one's any more and leaves the counts.
COUNTED_STATES = (Status.PENDING, Status.ACTIVE, Status.UNSUBSCRIBED, Status.SUPPRESSED)


@dataclass(frozen=True)
class ListCount:
    """How many subscribers of one region, channel and language are in each counted state."""

    region: str
    channel: str
    language: str
    states: dict[str, int]


@dataclass(frozen=True)
class ListHealth:
    """The counters of list health: subscribers by state, and sign-ups and confirmations by
    the hour (UTC, ``2025-10-27T09`` -> {"signups": n, "confirmed": n})."""

    counts: list[ListCount]
    hours: dict[str, dict[str, int]]


@dataclass(frozen=True)
class Left:
    """What an unsubscribe link ended: the status the record had, and the organisations whose
    messages stop (the active memberships that ended)."""

    status: Status
    organisations: tuple[str, ...]


@dataclass(frozen=True)
class Erased:
    """What an erasure erased: the organisations the person was erased from, those whose
    messages still reach them, and whether the whole record went."""

    organisations: tuple[str, ...]
    still_subscribed: tuple[str, ...]
    whole: bool


class SubscriberStore:
    """Subscribers, and beside them (in the campaigns table, one partition per home group) the
    counters of list health, kept on writes: every method here that changes a person's state,
    region, channel or language reads back the item as it was (in the same request) and moves
    one count from what it was to what it is now, with an atomic ADD. So the counts need no scan
    and two concurrent writes cannot lose one. What they cannot survive is a process that dies
    between the two writes (a count off by one until `recount`), or a write to the table that
    does not come through this class."""

    def __init__(self, settings: Settings) -> None:
        self._table = aws.table(settings.subscribers_table)
        self._counters = aws.table(settings.campaigns_table)

    def get(self, subscriber_id: str) -> Subscriber | None:
        """The subscriber, or None if there is none (never was, erased, or a number that texted
        STOP without being subscribed)."""
        item = self._item(subscriber_id)
        return subscriber_from(item) if item is not None else None

    def stored(self, subscriber_id: str) -> dict[str, Any] | None:
        """Everything kept about a subscriber, as stored (for the person's own privacy page),
        but where they sit in the audience index, which says nothing about them."""
        kept = self.kept(subscriber_id)
        return kept[0] if kept is not None else None

    def kept(self, subscriber_id: str) -> tuple[dict[str, Any], Subscriber] | None:
        """`stored`, with the subscriber it holds (one read)."""
        item = self._item(subscriber_id)
        return (_without_keys(item), subscriber_from(item)) if item is not None else None

    def _item(self, subscriber_id: str) -> dict[str, Any] | None:
        """The subscriber's whole item, unless there is none or it keeps no profile (erased,
        stopped)."""
        item = self._table.get_item(Key={"subscriber_id": subscriber_id}, ConsistentRead=True).get(
            "Item"
        )
        return dict(item) if item and item.get("status") not in _NO_PROFILE else None

    def links_ended_at(self, subscriber_id: str) -> datetime | None:
        """When an erasure ended every link issued to this subscriber id before it, if the
        contact has subscribed again since (a recycled phone number's new owner): links older
        than that must not reach the new record. None when no erasure came before this record."""
        item = self._table.get_item(
            Key={"subscriber_id": subscriber_id},
            ConsistentRead=True,
            ProjectionExpression="#status, erased_at",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        if not item or "erased_at" not in item or item.get("status") == Status.ERASED.value:
            return None
        return parse_iso(str(item["erased_at"]))

    def erase(self, subscriber_id: str, reason: str, now: datetime) -> bool:
        """Remove the contact and profile; keep the id (a keyed hash of the contact, useless
        without the key) with the reason and date, so that the contact stays out until it
        subscribes and confirms again. True if this call erased it.

        A number that texted STOP (`unsubscribe` by text) is left stopped, with when, as a
        number that texts STOP after an erasure is (`keep_stopped`): no text, a confirmation
        included, goes to it until it texts START."""
        current = self._item(subscriber_id)
        if current is None:
            return False
        stopped = "stopped_at" in current
        keeps = (_ERASURE_KEEPS | {"stopped_at"}) if stopped else _ERASURE_KEEPS
        removed = sorted(name for name in current if name not in keeps)
        response = self._table.update_item(
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="SET #status = :erased, erased_at = :now, erased_reason = :reason REMOVE "
            + ", ".join(f"#{index}" for index, _ in enumerate(removed)),
            ExpressionAttributeNames={
                "#status": "status",
                **{f"#{index}": name for index, name in enumerate(removed)},
            },
            ExpressionAttributeValues={
                ":erased": (Status.STOPPED if stopped else Status.ERASED).value,
                ":now": iso(now),
                ":reason": reason,
            },
            ReturnValues="ALL_OLD",
        )
        self._moved(response.get("Attributes"), None, now)
        return True

    def erase_from(
        self, subscriber_id: str, organisations: Collection[str] | None, reason: str, now: datetime
    ) -> Erased | None:
        """Erase the person from `organisations` (None: from every one, the whole record, as
        `erase`). While they keep memberships of others, only those memberships go, with their
        consent evidence, and the record stays for the rest (out of the audience index if none
        of the rest is active); if nothing would be left, the whole record is erased. What was
        erased, or None if there was nothing to erase (no profile, or none of those
        organisations')."""
        for _attempt in range(ACTIVATE_ATTEMPTS):
            item = self._item(subscriber_id)
            if item is None:
                return None
            current = subscriber_from(item)
            held = memberships_of(current)
            chosen = tuple(
                m for m in held if organisations is None or m.organisation in organisations
            )
            kept = tuple(m for m in held if m not in chosen)
            if not chosen:
                return None
            if not kept:
                if self.erase(subscriber_id, reason, now):
                    return Erased(tuple(m.organisation for m in chosen), (), whole=True)
                return None
            # The kept memberships decide the status only of a record they decided it for: a
            # STOP by text (`stopped_at`), a bounce or a complaint stops every organisation and
            # leaves the memberships as they were, and must stay in force for the rest (only
            # START, never an erasure, lifts a stop; nothing lifts a suppression).
            recomputed = (
                current.status in (Status.ACTIVE, Status.PENDING) and "stopped_at" not in item
            )
            status = _status_of(kept) if recomputed else current.status
            # A membership with no consent of its own relies on the record's: if that was an
            # erased one's, and every kept one has its own, the first kept one's takes its place
            # (the erased membership's evidence must go with it).
            consent = current.consent
            if all(m.consent for m in kept) and any(m.consent is None for m in chosen):
                consent = next(m.consent for m in kept if m.consent)
            guard, seen = _memberships_as_read(item)
            active = status is Status.ACTIVE
            response = update_if(
                self._table,
                Key={"subscriber_id": subscriber_id},
                UpdateExpression="SET memberships = :memberships, consent = :consent, "
                "#status = :status"
                + (", audience_pk = :audience, audience_sk = :id" if active else "")
                + ("" if active else " REMOVE audience_pk, audience_sk"),
                ConditionExpression=f"#status = :seen_status AND {guard}"
                + (" AND attribute_not_exists(stopped_at)" if recomputed else ""),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":memberships": memberships_item(kept),
                    ":consent": consent_item(consent),
                    ":status": status.value,
                    ":seen_status": current.status.value,
                    **(
                        {
                            ":audience": audience_key(current.home_group, subscriber_id),
                            ":id": subscriber_id,
                        }
                        if active
                        else {}
                    ),
                    **seen,
                },
            )
            if response is not None:
                self._moved(item, {**item, "status": status.value}, now)
                still = member_of(replace(current, status=status, memberships=kept))
                return Erased(tuple(m.organisation for m in chosen), still, whole=False)
        raise RuntimeError(f"subscriber {subscriber_id} kept changing while being erased")

    def request_confirmation(
        self,
        subscriber: Subscriber,
        resend_after: timedelta,
        now: datetime,
        organisation: str = DEFAULT,
    ) -> bool:
        """Record a subscribe request and reserve the right to send a confirmation.

        One conditional write: it succeeds for a new contact, or for one that is neither active
        nor suppressed nor stopped and was not sent a confirmation within `resend_after`.
        Returns False (and changes nothing) otherwise, so an active subscriber's profile can't
        be changed by anyone who knows their address, nobody can make the bot send more than
        one confirmation per window, an address that bounced or complained is never written to
        again (a confirmation to it would cost the sender's reputation what the suppression
        saved), and a number that texted STOP, subscribed then or not, gets no text until it
        texts START.

        `organisation`: whose form the request came from. The request makes that membership
        pending (`Subscriber.memberships`); a record of the default organisation alone keeps
        no map, as before coalitions. A person active in another organisation keeps their
        record and profile as they are (nobody who knows an address can change an active
        profile) and gains only the pending membership, within the same resend window: the
        window is the address's, whichever form asks. Already an active member: nothing.
        """
        if organisation == DEFAULT and self._request(
            subscriber, now, resend_after, "attribute_not_exists(memberships)", {}
        ):
            return True
        # Another organisation's form, or a person who belongs to several: read, then write
        # only if the record and its memberships are still as read.
        for _attempt in range(ACTIVATE_ATTEMPTS):
            item = self._table.get_item(
                Key={"subscriber_id": subscriber.subscriber_id}, ConsistentRead=True
            ).get("Item")
            done = self._request_membership(subscriber, resend_after, now, organisation, item)
            if done is not None:
                return done
        raise RuntimeError(f"subscriber {subscriber.subscriber_id} kept changing while asking")

    def _request_membership(
        self,
        subscriber: Subscriber,
        resend_after: timedelta,
        now: datetime,
        organisation: str,
        item: dict[str, Any] | None,
    ) -> bool | None:
        """`request_confirmation` for the record as read (`item`); None if it changed since."""
        status = str(item["status"]) if item else ""
        sent_at = str(item.get("confirmation_sent_at", "")) if item else ""
        stopped = bool(item and "stopped_at" in item)
        if status in (Status.SUPPRESSED, Status.STOPPED) or stopped:
            return False
        if sent_at > iso(now - resend_after):
            return False
        profile = subscriber_from(item) if item and status not in _NO_PROFILE else None
        if profile is not None and not profile.memberships and organisation == DEFAULT:
            return False  # what the first write refused: active already
        held = memberships_of(profile) if profile is not None else ()
        theirs = next((m for m in held if m.organisation == organisation), None)
        guard, seen = _memberships_as_read(item)
        if profile is not None and profile.status is Status.ACTIVE:
            if theirs is not None and theirs.status is MembershipStatus.ACTIVE:
                return False  # subscribed already, as "already subscribed" always was
            # The profile stays as it is; the membership records this form's consent.
            asked = Membership(
                organisation,
                MembershipStatus.PENDING,
                requested_at=iso(now),
                consent=subscriber.consent,
            )
            response = update_if(
                self._table,
                Key={"subscriber_id": subscriber.subscriber_id},
                UpdateExpression="SET memberships = :memberships, confirmation_sent_at = :now",
                ConditionExpression=f"#status = :active AND {guard} AND "
                "(attribute_not_exists(confirmation_sent_at) OR confirmation_sent_at <= :cutoff)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":memberships": memberships_item(_with(held, asked)),
                    ":now": iso(now),
                    ":active": Status.ACTIVE.value,
                    ":cutoff": iso(now - resend_after),
                    **seen,
                },
            )
            return True if response is not None else None
        # Not active: the request's profile and consent replace the record's, as they always
        # did; the other memberships keep the consent they had (the record's, until now).
        others = tuple(
            m if m.consent or profile is None else replace(m, consent=profile.consent)
            for m in held
            if m.organisation != organisation
        )
        asked = Membership(organisation, MembershipStatus.PENDING, requested_at=iso(now))
        written = self._request(
            replace(subscriber, memberships=(*others, asked)),
            now,
            resend_after,
            "attribute_not_exists(#subscriber_id)"
            if item is None
            else f"#status = :seen_status AND {guard}",
            {":seen_status": status, **seen} if item is not None else {},
        )
        return True if written else None

    def _request(
        self,
        subscriber: Subscriber,
        now: datetime,
        resend_after: timedelta,
        guard: str,
        guard_values: dict[str, Any],
    ) -> bool:
        """Write a pending subscriber's request over their item, if it is new, or neither
        active nor suppressed nor stopped and not sent a confirmation within `resend_after`,
        and `guard` holds."""
        item = subscriber_item(subscriber)
        names = {f"#{key}": key for key in item if key != "subscriber_id"}
        values = {f":{key}": value for key, value in item.items() if key != "subscriber_id"}
        assignments = [
            f"#{key} = :{key}" for key in item if key not in ("subscriber_id", "created_at")
        ]
        assignments.append("#created_at = if_not_exists(#created_at, :created_at)")
        names["#subscriber_id"] = "subscriber_id"
        names["#status"] = "status"
        values[":active"] = Status.ACTIVE.value
        values[":suppressed"] = Status.SUPPRESSED.value
        values[":stopped"] = Status.STOPPED.value
        values[":cutoff"] = iso(now - resend_after)
        response = update_if(
            self._table,
            Key={"subscriber_id": subscriber.subscriber_id},
            UpdateExpression="SET " + ", ".join(assignments),
            ConditionExpression=(
                f"({guard}) AND (attribute_not_exists(#subscriber_id) OR "
                "(#status <> :active AND #status <> :suppressed AND #status <> :stopped AND "
                "attribute_not_exists(stopped_at) AND "
                "(attribute_not_exists(#confirmation_sent_at) OR "
                "#confirmation_sent_at <= :cutoff)))"
            ),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, **guard_values},
            ReturnValues="ALL_OLD",
        )
        if response is None:
            return False
        self._moved(response.get("Attributes"), item, now)
        return True

    def forget_confirmation_request(self, subscriber_id: str) -> None:
        """Undo the resend reservation of `request_confirmation` (its confirmation could not be
        queued), so that the person can try again at once."""
        self._table.update_item(
            Key={"subscriber_id": subscriber_id}, UpdateExpression="REMOVE confirmation_sent_at"
        )

    def activate(
        self, subscriber_id: str, now: datetime, organisation: str = DEFAULT
    ) -> tuple[Subscriber, bool] | None:
        """Confirm a pending subscriber's membership of `organisation` (idempotent for an
        active one): a pending record becomes active, with that membership (joined now); an
        active record's pending membership becomes active.

        Returns the active subscriber and whether this call made the membership active (False:
        it was already), or None when there is nothing pending or active under this id for
        that organisation (unknown, or unsubscribed since the link was sent).
        """
        # The audience key is computed from the home group read here; a new subscribe request
        # may change a pending subscriber's region between this read and the write. The write
        # therefore holds only if the home group (and the memberships) are still the ones read,
        # and a changed one is read again: otherwise the person would sit in the old region's
        # audience index.
        for _attempt in range(ACTIVATE_ATTEMPTS):
            current = self.get(subscriber_id)
            if current is None or current.status not in (Status.PENDING, Status.ACTIVE):
                return None
            theirs = next(
                (m for m in memberships_of(current) if m.organisation == organisation), None
            )
            if theirs is None or theirs.status is MembershipStatus.UNSUBSCRIBED:
                return None
            if current.status is Status.ACTIVE and theirs.status is MembershipStatus.ACTIVE:
                return current, False
            joined = replace(theirs, status=MembershipStatus.ACTIVE, joined_at=iso(now))
            guard, seen = _memberships_as_read(
                {"memberships": memberships_item(current.memberships)}
                if current.memberships
                else None
            )
            map_values = (
                {":memberships": memberships_item(_with(current.memberships, joined))}
                if current.memberships
                else {}
            )
            if current.status is Status.ACTIVE:  # a member of another organisation already
                response = update_if(
                    self._table,
                    Key={"subscriber_id": subscriber_id},
                    UpdateExpression="SET memberships = :memberships",
                    ConditionExpression=f"#status = :active AND {guard}",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":active": Status.ACTIVE.value,
                        **map_values,
                        **seen,
                    },
                    ReturnValues="ALL_NEW",
                )
                if response is not None:
                    return subscriber_from(response["Attributes"]), True
                continue
            response = update_if(
                self._table,
                Key={"subscriber_id": subscriber_id},
                UpdateExpression=(
                    "SET #status = :active, confirmed_at = :now, audience_pk = :audience, "
                    "audience_sk = :id" + (", memberships = :memberships" if map_values else "")
                ),
                ConditionExpression=f"#status = :pending AND home_group = :home_group AND {guard}",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":active": Status.ACTIVE.value,
                    ":pending": Status.PENDING.value,
                    ":home_group": current.home_group,
                    ":now": iso(now),
                    ":audience": audience_key(current.home_group, subscriber_id),
                    ":id": subscriber_id,
                    **map_values,
                    **seen,
                },
                ReturnValues="ALL_NEW",
            )
            if response is not None:
                self._moved(subscriber_item(current), response["Attributes"], now)
                return subscriber_from(response["Attributes"]), True
            # Confirmed, unsubscribed or moved to another region a moment ago: look again.
        raise RuntimeError(f"subscriber {subscriber_id} kept changing while being confirmed")

    def audience_page(
        self, group: str, shard: int, after: str, limit: int
    ) -> tuple[list[AudienceMember], bool]:
        """Up to `limit` active subscribers of one shard of a home group's audience whose ids
        sort after `after`, as the index lists them; and whether more may follow."""
        condition: Any = Key("audience_pk").eq(layout.audience_pk(group, shard))
        if after:
            condition = condition & Key("audience_sk").gt(after)
        page = self._table.query(
            IndexName="audience", KeyConditionExpression=condition, Limit=limit
        )
        members = [
            AudienceMember(
                subscriber_id=item["audience_sk"],
                region=item.get("region", ""),
                channel=item.get("channel", "email"),
                locale=item.get("locale", ""),
                platforms=tuple(item.get("platforms") or ()),
            )
            for item in page["Items"]
        ]
        return members, "LastEvaluatedKey" in page

    def with_done_campaigns(self, members: list[AudienceMember]) -> list[AudienceMember]:
        """`members` with the campaigns each said "I've switched it off" to, which the audience
        index does not hold (`_projected`: a conversion of the last second may be missed,
        never one made up). Those gone from the table meanwhile are left out; the order is
        kept."""
        found = self._projected([m.subscriber_id for m in members], "done_campaigns")
        return [
            replace(member, done_campaigns=frozenset(found[member.subscriber_id] or ()))
            for member in members
            if member.subscriber_id in found
        ]

    def memberships(self, subscriber_ids: list[str]) -> dict[str, tuple[Membership, ...]]:
        """The memberships of these people (`memberships_from`: none for a record of the
        default organisation only), which the audience index does not hold (`_projected`:
        someone who joined or left in the last second may be read as before; the sender judges
        again). Those gone from the table are left out."""
        found = self._projected(subscriber_ids, "memberships")
        return {subscriber_id: memberships_from(held) for subscriber_id, held in found.items()}

    def _projected(self, subscriber_ids: list[str], attribute: str) -> dict[str, Any]:
        """One attribute of each of these people that exist (None where they have none): read
        100 to a request, that attribute only, eventually consistent (half the cost of a strong
        read)."""
        found: dict[str, Any] = {}
        client = self._table.meta.client
        for start in range(0, len(subscriber_ids), 100):
            keys = [{"subscriber_id": s} for s in subscriber_ids[start : start + 100]]
            request: dict[str, Any] = {
                self._table.name: {
                    "Keys": keys,
                    "ProjectionExpression": "subscriber_id, #attribute",
                    "ExpressionAttributeNames": {"#attribute": attribute},
                }
            }
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table.name, []):
                    found[item["subscriber_id"]] = item.get(attribute)
                request = response.get("UnprocessedKeys") or {}
        return found

    def get_many(self, subscriber_ids: list[str]) -> dict[str, Subscriber]:
        """The subscribers with these ids that exist, read 100 to a request."""
        return {
            subscriber_id: profile
            for subscriber_id, (_status, profile) in self.states(subscriber_ids).items()
            if profile is not None
        }

    def mark_done(self, subscriber_id: str, campaign_id: str, now: datetime) -> bool | None:
        """Record "I've switched it off" for a campaign: True the first time, False after that,
        None if there is no such subscriber (erased)."""
        response = update_if(
            self._table,
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="ADD done_campaigns :campaign SET last_done_at = :now",
            ConditionExpression="attribute_exists(contact)",  # not an erasure's record
            ExpressionAttributeValues={":campaign": {campaign_id}, ":now": iso(now)},
            ReturnValues="ALL_OLD",
        )
        if response is None:
            return None
        return campaign_id not in response.get("Attributes", {}).get("done_campaigns", set())

    def unsubscribe(
        self,
        subscriber_id: str,
        now: datetime,
        *,
        by_text: bool = False,
        organisation: str | None = None,
    ) -> Status | None:
        """Stop everything to this subscriber at once: out of the audience index, status
        unsubscribed. The status they had, if this call changed it (None: already done, or no
        such id). With an `organisation` (the link of one organisation's message), see
        `leave`: the status is active when only that membership ended.

        `by_text`: the number texted STOP. Carriers' rule is then that nothing at all goes to it
        until it texts START, so the stop is kept (`stopped_at`) beside the profile: a subscribe
        request for the number sends no confirmation (`request_confirmation`), and only START
        (`resubscribe`) lifts it. A STOP from someone unsubscribed already, by a link, is kept
        too. An unsubscribe by link keeps no stop: the form may subscribe them again. A STOP
        stops every organisation on the number and leaves the memberships as they were, so
        that START restores exactly what STOP stopped."""
        if not by_text:
            left = self.leave(subscriber_id, now, organisation)
            return left.status if left is not None else None
        record = {"unsubscribed_at": iso(now), "stopped_at": iso(now)}
        left_by_text = self._leave(subscriber_id, Status.UNSUBSCRIBED, record, now)
        if left_by_text is not None:
            return left_by_text
        # Left already (by a link, or a bounce): the stop is kept all the same.
        update_if(
            self._table,
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="SET stopped_at = :now",
            ConditionExpression="attribute_exists(contact) AND #status <> :active "
            "AND attribute_not_exists(stopped_at)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":now": iso(now), ":active": Status.ACTIVE.value},
        )
        return None

    def leave(
        self, subscriber_id: str, now: datetime, organisation: str | None = None
    ) -> Left | None:
        """An unsubscribe link pressed: what ended, if this call ended something (None:
        nothing did, or there is no such profile).

        With an `organisation` the person is an active member of, and another active
        membership left, only that membership ends (`left_at`): the record stays active and in
        the audience index for the others. Otherwise the record leaves as it always did, and
        every active membership is marked left with it, so that a later subscription to one
        organisation never revives another's without its consent. A record of the default
        organisation alone keeps no map, as before coalitions."""
        record = {"unsubscribed_at": iso(now)}
        for _attempt in range(ACTIVATE_ATTEMPTS):
            item = self._item(subscriber_id)
            if item is None:
                return None
            current = subscriber_from(item)
            active = member_of(current)
            if organisation is not None and organisation not in active:
                return None  # not a member of theirs now: nothing of theirs to end
            if not current.memberships:
                status = self._leave(
                    subscriber_id, Status.UNSUBSCRIBED, record, now, memberships=None, seen=item
                )
                if status is not None:
                    return Left(status, active)
                if not self._changed(item):
                    return None
                continue
            guard, seen = _memberships_as_read(item)
            ended = {m for m in active if organisation in (None, m)}
            memberships = tuple(
                replace(m, status=MembershipStatus.UNSUBSCRIBED, left_at=iso(now))
                if m.organisation in ended
                else m
                for m in current.memberships
            )
            if organisation is not None and len(active) > 1:
                response = update_if(
                    self._table,
                    Key={"subscriber_id": subscriber_id},
                    UpdateExpression="SET memberships = :memberships",
                    ConditionExpression=f"#status = :active AND {guard}",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":memberships": memberships_item(memberships),
                        ":active": Status.ACTIVE.value,
                        **seen,
                    },
                )
                if response is not None:
                    return Left(Status.ACTIVE, (organisation,))
                continue
            status = self._leave(
                subscriber_id,
                Status.UNSUBSCRIBED,
                record,
                now,
                memberships=memberships_item(memberships),
                seen=item,
            )
            if status is not None:
                return Left(status, active)
            if not self._changed(item):
                return None
        raise RuntimeError(f"subscriber {subscriber_id} kept changing while unsubscribing")

    def _changed(self, seen: Mapping[str, Any]) -> bool:
        """Whether the subscriber's memberships changed since `seen` was read (a write that
        failed on them is tried again; one that failed on the status is done)."""
        now_item = self._item(str(seen["subscriber_id"])) or {}
        return bool(now_item) and now_item.get("memberships") != seen.get("memberships")

    def suppress(self, subscriber_id: str, reason: str, now: datetime) -> Status | None:
        """Never write to this contact again (a permanent bounce, a complaint); the status they
        had, if this call changed it (None: suppressed already, or no such profile). Every
        organisation's messages stop; the memberships stay as they were."""
        return self._leave(
            subscriber_id,
            Status.SUPPRESSED,
            {"suppressed_reason": reason, "suppressed_at": iso(now)},
            now,
        )

    def _leave(
        self,
        subscriber_id: str,
        status: Status,
        record: dict[str, str],
        now: datetime,
        *,
        memberships: dict[str, Any] | None = None,
        seen: Mapping[str, Any] | None = None,
    ) -> Status | None:
        """Out of the audience index with `status` and why (`record`), unless already so, or
        there is no profile to leave: an erasure or a stop keeps nothing of the contact, and
        must stay all that is kept (a status on it would read as a profile with no contact).
        The status it had, if this call changed it; None if not. `memberships`: the map to
        write with it, if the memberships are still those of `seen` (with `seen` alone: if it
        still has no map)."""
        guard, seen_values = _memberships_as_read(seen) if seen is not None else ("", {})
        response = update_if(
            self._table,
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="SET #status = :status, "
            + ", ".join(f"{name} = :{name}" for name in record)
            + (", memberships = :memberships" if memberships is not None else "")
            + " REMOVE audience_pk, audience_sk",
            ConditionExpression="attribute_exists(contact) AND #status <> :status"
            + (f" AND {guard}" if guard else ""),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":status": status.value,
                **{f":{name}": value for name, value in record.items()},
                **({":memberships": memberships} if memberships is not None else {}),
                **seen_values,
            },
            ReturnValues="ALL_OLD",
        )
        if response is None:
            return None
        old = response.get("Attributes") or {}
        self._moved(old, {**old, "status": status.value}, now)
        return Status(old["status"])

    def resubscribe(
        self, subscriber_id: str, now: datetime, by: str = "", consent: Consent | None = None
    ) -> bool:
        """Someone who unsubscribed by text asked to START again: active once more, the stop
        lifted (see `unsubscribe`), with `consent` (the text's) as their consent record when
        given. True if this call changed it, or if the text `by` names (its inbound message id)
        did before: that START delivered again, whose answer may still be owed. Not for the
        suppressed, nor the unknown."""
        item = self._item(subscriber_id)
        if item is None:
            return False
        if by and item.get("resubscribed_by") == by and item["status"] == Status.ACTIVE.value:
            return True
        current = subscriber_from(item)
        if current.status is not Status.UNSUBSCRIBED:
            return False
        new_consent = {":consent": consent_item(consent)} if consent else {}
        response = update_if(
            self._table,
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="SET #status = :active, resubscribed_at = :now, resubscribed_by = :by, audience_pk = :audience, audience_sk = :id"
            + (", consent = :consent" if consent else "")
            + " REMOVE stopped_at",
            ConditionExpression="#status = :unsubscribed",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":active": Status.ACTIVE.value,
                ":unsubscribed": Status.UNSUBSCRIBED.value,
                ":now": iso(now),
                ":by": by,
                ":audience": audience_key(current.home_group, subscriber_id),
                ":id": subscriber_id,
                **new_consent,
            },
            ReturnValues="ALL_OLD",
        )
        if response is None:
            return False
        old = response.get("Attributes") or {}
        self._moved(old, {**old, "status": Status.ACTIVE.value}, now)
        return True

    def keep_stopped(self, subscriber_id: str, now: datetime) -> bool:
        """A number that is not subscribed (never was, erased, or pending: it never confirmed)
        texted STOP: keep only its id, the keyed hash of the number, as stopped, with when, so
        that nothing is texted to it, a confirmation included, until it texts START (see
        `lift_stop`). A pending profile is removed, as an erasure removes it; an erasure's own
        record stays. True if the number is stopped (by this call or before); False if it is
        subscribed (active, unsubscribed, suppressed), for `unsubscribe` to handle."""
        # Written only if the item is still as read: a subscription confirmed meanwhile is
        # read again, and unsubscribed by the caller, never stripped of its profile.
        for _attempt in range(ACTIVATE_ATTEMPTS):
            current = self._table.get_item(
                Key={"subscriber_id": subscriber_id}, ConsistentRead=True
            ).get("Item")
            seen = str(current["status"]) if current else ""
            if seen == Status.STOPPED.value:
                return True
            if seen not in ("", Status.ERASED.value, Status.PENDING.value):
                return False
            removed = sorted(name for name in current or {} if name not in _ERASURE_KEEPS)
            update = "SET #status = :stopped, stopped_at = :now"
            if removed:
                update += " REMOVE " + ", ".join(f"#{index}" for index in range(len(removed)))
            stopped = update_if(
                self._table,
                Key={"subscriber_id": subscriber_id},
                UpdateExpression=update,
                ConditionExpression="#status = :seen"
                if current
                else "attribute_not_exists(#status)",
                ExpressionAttributeNames={
                    "#status": "status",
                    **{f"#{index}": name for index, name in enumerate(removed)},
                },
                ExpressionAttributeValues={
                    ":stopped": Status.STOPPED.value,
                    ":now": iso(now),
                    **({":seen": seen} if current else {}),
                },
            )
            if stopped is not None:
                self._moved(current, None, now)  # a pending profile removed leaves the counts
                return True
        raise RuntimeError(f"subscriber {subscriber_id} kept changing while being stopped")

    def stopped(self, subscriber_id: str) -> bool:
        """Whether this number texted STOP while not subscribed, and not START since."""
        item = self._table.get_item(
            Key={"subscriber_id": subscriber_id},
            ConsistentRead=True,
            ProjectionExpression="#status",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        return bool(item) and item.get("status") == Status.STOPPED.value

    def lift_stop(self, subscriber_id: str) -> bool:
        """A stopped number (see `keep_stopped`) texted START: texts may reach it again, and a
        subscription from it gets its confirmation. Nothing of the stop is kept; an erasure it
        followed stays as it was. True if this call lifted it."""
        current = self._table.get_item(
            Key={"subscriber_id": subscriber_id}, ConsistentRead=True
        ).get("Item")
        if not current or current.get("status") != Status.STOPPED.value:
            return False
        still_stopped: dict[str, Any] = {
            "ConditionExpression": "#status = :stopped",
            "ExpressionAttributeNames": {"#status": "status"},
        }
        if "erased_at" not in current:
            return delete_if(
                self._table,
                Key={"subscriber_id": subscriber_id},
                ExpressionAttributeValues={":stopped": Status.STOPPED.value},
                **still_stopped,
            )
        erased_again = update_if(
            self._table,
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="SET #status = :erased REMOVE stopped_at",
            ExpressionAttributeValues={
                ":stopped": Status.STOPPED.value,
                ":erased": Status.ERASED.value,
            },
            **still_stopped,
        )
        return erased_again is not None

    def mark_sms_introduced(self, subscriber_id: str) -> None:
        """The first text message (the one that says how to stop) has gone to this number;
        nothing if the number was erased meanwhile (its record keeps nothing more)."""
        update_if(
            self._table,
            Key={"subscriber_id": subscriber_id},
            UpdateExpression="SET sms_introduced = :yes",
            ConditionExpression="attribute_exists(contact)",
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
                    profile = None if status.value in _NO_PROFILE else subscriber_from(item)
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
                batch.put_item(
                    Item=active_item(subscriber) if active else subscriber_item(subscriber)
                )
        # New contacts, as the caller read them: counted as arriving from nowhere.
        for subscriber in subscribers:
            self._moved(None, subscriber_item(subscriber), None)

    def replace_if(
        self,
        subscriber: Subscriber,
        expected: Status,
        memberships_read: tuple[Membership, ...] | None = None,
    ) -> bool:
        """Write a subscriber's profile, consent and status over their item, if its status is
        still `expected` and their memberships still those read (`memberships_read`; None: the
        ones `subscriber` carries), so that a membership left or asked for meanwhile is never
        written over; what only other paths write (done campaigns, the first-text mark) is
        kept. In the audience index when `subscriber` is active. True if written."""
        item = (
            active_item(subscriber)
            if subscriber.status is Status.ACTIVE
            else subscriber_item(subscriber)
        )
        fields = [key for key in item if key != "subscriber_id"]
        read = subscriber.memberships if memberships_read is None else memberships_read
        guard, seen = _memberships_as_read(
            {"memberships": memberships_item(read)} if read else None
        )
        response = update_if(
            self._table,
            Key={"subscriber_id": subscriber.subscriber_id},
            UpdateExpression="SET " + ", ".join(f"#{key} = :{key}" for key in fields),
            ConditionExpression=f"#status = :expected AND {guard}",
            ExpressionAttributeNames={f"#{key}": key for key in fields},
            ExpressionAttributeValues={
                **{f":{key}": item[key] for key in fields},
                ":expected": expected.value,
                **seen,
            },
            ReturnValues="ALL_OLD",
        )
        if response is None:
            return False
        self._moved(response.get("Attributes"), item, None)
        return True

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
        return [subscriber_from(item) for item in page["Items"]], str(following)

    def members_page(
        self, organisation: str, after: str, limit: int
    ) -> tuple[list[Subscriber], str]:
        """One page of a Scan of the whole table (`limit` items at most), filtered on
        membership: the people of it who belong to `organisation` (the default one: every
        record without memberships too), whatever their status; and where the next page
        starts ("" after the last). For an organisation's export."""
        names = {"#organisation": organisation}
        condition = "attribute_exists(memberships.#organisation)"
        if organisation == DEFAULT:
            condition += " OR attribute_not_exists(memberships)"
        request: dict[str, Any] = {
            "FilterExpression": f"attribute_exists(contact) AND ({condition})",
            "ExpressionAttributeNames": names,
            "Limit": limit,
        }
        if after:
            request["ExclusiveStartKey"] = {"subscriber_id": after}
        page = self._table.scan(**request)
        following = page.get("LastEvaluatedKey", {}).get("subscriber_id", "")
        return [subscriber_from(item) for item in page["Items"]], str(following)

    def join(self, subscriber_id: str, membership: Membership) -> Subscriber | None:
        """Add an active membership to an active subscriber (an organisation's import, with
        its proof of consent, of someone active in another): their profile stays as it is. The
        subscriber as written, or None if they are not active, or a member of it already."""
        for _attempt in range(ACTIVATE_ATTEMPTS):
            current = self.get(subscriber_id)
            if current is None or current.status is not Status.ACTIVE:
                return None
            held = memberships_of(current)
            if any(m.organisation == membership.organisation for m in held):
                return None
            guard, seen = _memberships_as_read(
                {"memberships": memberships_item(current.memberships)}
                if current.memberships
                else None
            )
            response = update_if(
                self._table,
                Key={"subscriber_id": subscriber_id},
                UpdateExpression="SET memberships = :memberships",
                ConditionExpression=f"#status = :active AND {guard}",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":memberships": memberships_item(_with(held, membership)),
                    ":active": Status.ACTIVE.value,
                    **seen,
                },
                ReturnValues="ALL_NEW",
            )
            if response is not None:
                return subscriber_from(response["Attributes"])
        raise RuntimeError(f"subscriber {subscriber_id} kept changing while joining")

    def put_active(self, subscriber: Subscriber) -> None:
        """Write an already-confirmed subscriber (demo data and imports with proof of consent)."""
        item = active_item(subscriber)
        response = self._table.put_item(Item=item, ReturnValues="ALL_OLD")
        self._moved(response.get("Attributes"), item, None)

    def _moved(
        self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, now: datetime | None
    ) -> None:
        """Move one count from where the item was (`old`: None, for none) to where it is; at
        `now`, a new pending subscriber is a sign-up and a pending one made active a
        confirmation of that hour."""
        before, after = _counted(old), _counted(new)
        if before != after:
            for place, change in ((before, -1), (after, 1)):
                if place is not None:
                    group, sk, status = place
                    self._counters.update_item(
                        Key={"pk": layout.list_pk(group), "sk": sk},
                        UpdateExpression="ADD #state :change",
                        ExpressionAttributeNames={"#state": status},
                        ExpressionAttributeValues={":change": change},
                    )
        if now is None or after is None:
            return
        was = before[2] if before else None
        event = (
            "signups"
            if after[2] == Status.PENDING.value and was != Status.PENDING.value
            else "confirmed"
            if after[2] == Status.ACTIVE.value and was == Status.PENDING.value
            else None
        )
        if event:
            self._counters.update_item(
                Key={
                    "pk": layout.list_pk(after[0]),
                    "sk": layout.list_hour_sk(f"{now:%Y-%m-%dT%H}"),
                },
                UpdateExpression="ADD #event :one",
                ExpressionAttributeNames={"#event": event},
                ExpressionAttributeValues={":one": 1},
            )

    def list_health(self, home_groups: Iterable[str]) -> ListHealth:
        """The list health counters of these home groups (a query a group, no scan)."""
        counts: list[ListCount] = []
        hours: dict[str, dict[str, int]] = {}
        for group in home_groups:
            items = every_item(
                self._counters.query,
                KeyConditionExpression=Key("pk").eq(layout.list_pk(group)),
                ConsistentRead=True,
            )
            for item in items:
                numbers = {k: int(v) for k, v in item.items() if k not in ("pk", "sk")}
                if item["sk"].startswith(layout.LIST_COUNT):
                    region, channel, language = layout.list_count_of(item["sk"])
                    counts.append(ListCount(region, channel, language, numbers))
                elif item["sk"].startswith(layout.LIST_HOUR):
                    hour = item["sk"].removeprefix(layout.LIST_HOUR)
                    for name, value in numbers.items():
                        hours.setdefault(hour, {}).setdefault(name, 0)
                        hours[hour][name] += value
        return ListHealth(counts, dict(sorted(hours.items())))

    def recount(self, home_groups: Iterable[str]) -> ListHealth:
        """Count every subscriber again (a scan of the whole table) and set the counters of
        `home_groups` to what it finds: the repair after a crash between a write and its count.
        Sign-ups and confirmations by the hour are left as they are."""
        found: dict[tuple[str, str], dict[str, int]] = {}
        for item in every_item(self._table.scan):
            place = _counted(item)
            if place is not None:
                states = found.setdefault(place[:2], {})
                states[place[2]] = states.get(place[2], 0) + 1
        for group in home_groups:
            for counter in self.list_health([group]).counts:
                sk = layout.list_count_sk(counter.region, counter.channel, counter.language)
                if (group, sk) not in found:
                    found[(group, sk)] = {}
        for (group, sk), states in found.items():
            self._counters.put_item(
                Item={
                    "pk": layout.list_pk(group),
                    "sk": sk,
                    **{state.value: states.get(state.value, 0) for state in COUNTED_STATES},
                }
            )
        return self.list_health(home_groups)


def _counted(item: Mapping[str, Any] | None) -> tuple[str, str, str] | None:
    """Where an item is counted: its home group, its counter's sort key, its state; None for
    no item, an erased one, or one in no counted state."""
    if not item or item.get("status") not in {state.value for state in COUNTED_STATES}:
        return None
    sk = layout.list_count_sk(
        str(item.get("region", "")), str(item.get("channel", "")), str(item.get("locale", ""))
    )
    return str(item.get("home_group", "")), sk, str(item["status"])


def _memberships_as_read(item: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """A condition that an item's memberships are still those of `item` as read (none: still
    none), and its values: what a write made from them holds on to."""
    if item and "memberships" in item:
        return "memberships = :seen_memberships", {":seen_memberships": item["memberships"]}
    return "attribute_not_exists(memberships)", {}


def _with(memberships: Iterable[Membership], changed: Membership) -> tuple[Membership, ...]:
    """`memberships` with `changed` in place of its organisation's (or added last)."""
    kept = tuple(m for m in memberships if m.organisation != changed.organisation)
    return (*kept, changed)


def _status_of(memberships: Iterable[Membership]) -> Status:
    """A record's status by its memberships: active with any active, else pending with any
    pending, else unsubscribed."""
    found = {m.status for m in memberships}
    if MembershipStatus.ACTIVE in found:
        return Status.ACTIVE
    if MembershipStatus.PENDING in found:
        return Status.PENDING
    return Status.UNSUBSCRIBED


def _without_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in _AUDIENCE_INDEX_KEYS}


def subscriber_item(subscriber: Subscriber) -> dict[str, Any]:
    item = asdict(subscriber)
    item["status"] = subscriber.status.value
    item.pop("sms_introduced")  # written by mark_sms_introduced only
    item.pop("done_campaigns")  # written by the "I've switched it off" link only
    item.pop("recent_sends")  # written by a reminder's claim only (`DeliveryStore`)
    item["platforms"] = list(subscriber.platforms)
    item["consent"] = consent_item(subscriber.consent)
    # None for a record of the default organisation only: it keeps no map (as before coalitions)
    item["memberships"] = memberships_item(subscriber.memberships) or ""
    return {key: value for key, value in item.items() if value != ""}


def memberships_item(memberships: Iterable[Membership]) -> dict[str, dict[str, Any]]:
    """A person's memberships as their item holds them: a map by organisation id."""
    return {
        m.organisation: {
            key: value
            for key, value in {
                "status": m.status.value,
                "requested_at": m.requested_at,
                "joined_at": m.joined_at,
                "left_at": m.left_at,
                "consent": consent_item(m.consent) if m.consent else "",
            }.items()
            if value != ""
        }
        for m in memberships
    }


def memberships_from(stored: Mapping[str, Any] | None) -> tuple[Membership, ...]:
    """The memberships a stored map holds, in the order they were asked for."""
    found = [
        Membership(
            organisation=str(organisation),
            status=MembershipStatus(fields["status"]),
            requested_at=str(fields.get("requested_at", "")),
            joined_at=str(fields.get("joined_at", "")),
            left_at=str(fields.get("left_at", "")),
            consent=(
                Consent(**{"form_version": "", **fields["consent"]})
                if fields.get("consent")
                else None
            ),
        )
        for organisation, fields in (stored or {}).items()
    ]
    return tuple(sorted(found, key=lambda m: (m.requested_at, m.organisation)))


def consent_item(consent: Consent) -> dict[str, str]:
    """A consent record as the subscriber's item holds it: its fields that are not empty."""
    return {key: value for key, value in asdict(consent).items() if value != ""}


def active_item(subscriber: Subscriber) -> dict[str, Any]:
    """An active subscriber's item: in the audience index of their home group."""
    item = subscriber_item(subscriber)
    item["audience_pk"] = audience_key(subscriber.home_group, subscriber.subscriber_id)
    item["audience_sk"] = subscriber.subscriber_id
    return item


def subscriber_from(item: dict[str, Any]) -> Subscriber:
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
        # No form_version: someone imported without proof, who saw no form of ours.
        consent=Consent(**{"form_version": "", **item["consent"]}),
        created_at=item["created_at"],
        confirmation_sent_at=item.get("confirmation_sent_at", ""),
        confirmed_at=item.get("confirmed_at", ""),
        sms_introduced=bool(item.get("sms_introduced", False)),
        done_campaigns=frozenset(item.get("done_campaigns", ())),
        recent_sends=tuple(item.get("recent_sends", ())),
        memberships=memberships_from(item.get("memberships")),
    )
