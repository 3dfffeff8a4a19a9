"""The jobs on the three queues, as the code passes them around.

Each is a frozen dataclass. A handler reads its queue's message bodies into them at its edge
(`read`), so that a malformed body fails there with a message naming what is wrong, before any
work starts (SQS then retries it and, after the attempts template.yaml allows, keeps it in the
queue's dead-letter queue for a person to read; the handler logs why, as the batch processor
reports a failed record without its reason); `body` is what goes on a queue.

- `FanoutJob` (fan-out queue): one audience shard of one reminder, from the scheduler.
- `SendJob` (send queue): a packed batch of subscriber ids for one reminder.
- `SubscribeJob`, `NoticeJob` and `CatchUpJob` (notice queue): a subscribe request from the
  form, the confirmation it reserved (imports queue `NoticeJob`s directly), and people who
  just became active, to be caught up with the campaigns under way.
- `ChangeNoticeJob` and `ForwardJob` (notice queue): a change the policy watch found, to be
  emailed to the organisers and sent to one ally.
- `EventJob` and `DeliveryJob` (events queue): an event for the organisers' endpoints
  (`optout.core.events`), and its delivery to one of them (`optout.events.delivery`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar, get_type_hints


class MalformedJob(ValueError):
    """A queue message that is not the job its queue carries."""


@dataclass(frozen=True)
class FanoutJob:
    campaign_id: str
    reminder: str  # the reminder's id (``EU-07``)
    group: str  # the home group whose audience it pages
    shard: int  # one of the group's `store.AUDIENCE_SHARDS` partitions
    cursor: str = ""  # a continuation's place: the last subscriber id its predecessor queued
    # An A/B-tested reminder's phase (`optout.domain.ab`): "test" pages only its test share,
    # "rest" the others after the wait; "" (every other reminder) everyone.
    phase: str = ""


@dataclass(frozen=True)
class SendJob:
    campaign_id: str
    reminder: str  # the reminder's id (``EU-07``)
    ids: tuple[str, ...]  # subscriber ids, up to `fanout.IDS_PER_MESSAGE`
    catch_up: bool = False  # late joiners caught up (`sending.catch_up`): counted apart
    # A fan-out batch's id (`batch_id` of its ids), kept by its continuations: the sender
    # notes it done once, for the scheduler to know the reminder's batches have all gone.
    # Empty for a batch held back and queued again, or for late joiners.
    batch: str = ""


def batch_id(ids: tuple[str, ...]) -> str:
    """The id of a fan-out batch of these subscribers: a redelivered fan-out page queues the
    same batches under the same ids."""
    return hashlib.sha256(",".join(sorted(ids)).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SubscribeJob:
    """A subscribe request, queued by the form so that its answer does not wait for a write
    and tells nobody whether the contact was known."""

    KIND: ClassVar[str] = "subscribe"
    channel: str
    contact: str
    region: str
    locale: str
    timezone: str
    platforms: tuple[str, ...]
    source: str
    requested_at: str
    base_url: str
    kind: str = KIND
    # The consent wording the form showed (`messages.consent`), and its privacy notice link;
    # "" in a job queued before these were recorded.
    wording_locale: str = ""
    privacy_notice_url: str = ""
    # Whose form it was (`optout.domain.organisations`); "": the default organisation's.
    organisation: str = ""


@dataclass(frozen=True)
class NoticeJob:
    """The confirmation message a subscribe request (or an import) reserved."""

    KIND: ClassVar[str] = "confirm"
    subscriber_id: str
    requested_at: str  # the request's time: only the request that reserved it sends it
    base_url: str
    kind: str = KIND
    organisation: str = ""  # whose membership it confirms; "": the default organisation's


@dataclass(frozen=True)
class CatchUpJob:
    """People who just became active (confirmed, imported with proof, texted START), to be
    sent the latest reminder of each campaign under way that reaches them."""

    KIND: ClassVar[str] = "catch-up"
    subscriber_ids: tuple[str, ...]
    activated_at: str
    kind: str = KIND


@dataclass(frozen=True)
class ChangeNoticeJob:
    """A change the policy watch found, to be emailed to the organisers."""

    KIND: ClassVar[str] = "change-notice"
    change_id: str
    kind: str = KIND


@dataclass(frozen=True)
class ForwardJob:
    """A change the policy watch found, to be sent to one of its watch's allies: the one at
    `url` (at position `ally` when it was queued; a job queued before jobs named the URL has
    only the position); `attempt` counts the tries before this one."""

    KIND: ClassVar[str] = "change-forward"
    change_id: str
    ally: int
    attempt: int = 0
    url: str = ""
    kind: str = KIND


@dataclass(frozen=True)
class EventJob:
    """An event for the organisers' endpoints, as `optout.core.events.emit` queued it: `body`
    is the exact payload every endpoint is sent."""

    KIND: ClassVar[str] = "event"
    event_id: str
    type: str
    body: str
    kind: str = KIND


@dataclass(frozen=True)
class DeliveryJob:
    """One event for one endpoint, fanned out from its `EventJob` (or replayed). `attempt`
    counts the tries before this one; `not_before` is when the next may be made (a wait longer
    than SQS's 900 s of delay is made in hops, the job queued again until then), `give_up_at`
    when retrying stops (three days after it was fanned out or replayed); both ISO times, ""
    for at once."""

    KIND: ClassVar[str] = "event-delivery"
    event_id: str
    endpoint_id: str
    give_up_at: str
    attempt: int = 0
    not_before: str = ""
    kind: str = KIND


Notice = SubscribeJob | NoticeJob | CatchUpJob | ChangeNoticeJob | ForwardJob
EventsJob = EventJob | DeliveryJob
Job = FanoutJob | SendJob | Notice | EventsJob
J = TypeVar(
    "J",
    FanoutJob,
    SendJob,
    SubscribeJob,
    NoticeJob,
    CatchUpJob,
    ChangeNoticeJob,
    ForwardJob,
    EventJob,
    DeliveryJob,
)
_NOTICES: tuple[type[Notice], ...] = (
    SubscribeJob,
    NoticeJob,
    CatchUpJob,
    ChangeNoticeJob,
    ForwardJob,
)


def body(job: Job) -> str:
    """The job as a queue message's body (JSON, keys sorted)."""
    return json.dumps(asdict(job), sort_keys=True)


def read(kind: type[J], message: str | dict[str, Any]) -> J:
    """A job of `kind` from a message body (or its parsed JSON); MalformedJob says what is
    missing or of the wrong type. Fields it does not know are ignored, so that a job written
    by a newer version still reads."""
    values = _parsed(kind, message)
    hints = get_type_hints(kind)
    problems: list[str] = []
    arguments: dict[str, Any] = {}
    for field in fields(kind):
        if field.name not in values:
            if field.default is MISSING:
                problems.append(f"{field.name} is missing")
            continue
        value, expected = values[field.name], hints[field.name]
        if (
            (expected is int and isinstance(value, int) and not isinstance(value, bool))
            or (expected is str and isinstance(value, str))
            or (expected is bool and isinstance(value, bool))
        ):
            arguments[field.name] = value
        elif expected == tuple[str, ...] and isinstance(value, list | tuple):
            if all(isinstance(item, str) for item in value):
                arguments[field.name] = tuple(value)
            else:
                problems.append(f"{field.name} must be a list of strings")
        else:
            # The type, not the value: a notice job carries a contact, and this message is logged.
            problems.append(
                f"{field.name} must be {_described(expected)}, not {type(value).__name__}"
            )
    expected_kind = getattr(kind, "KIND", None)
    if expected_kind is not None and arguments.get("kind", expected_kind) != expected_kind:
        problems.append(f"kind must be {expected_kind!r}, not {arguments['kind']!r}")
    if problems:
        raise MalformedJob(f"not a {kind.__name__}: " + "; ".join(problems))
    return kind(**arguments)


def read_notice(message: str) -> Notice:
    """A job from the notice queue, which carries several kinds."""
    values = _parsed(NoticeJob, message)
    for kind in _NOTICES:
        if values.get("kind") == kind.KIND:
            return read(kind, values)  # type: ignore[type-var]
    raise MalformedJob(f"unknown notice kind {values.get('kind')!r}")


def read_events_job(message: str) -> EventsJob:
    """A job from the events queue: an event, or its delivery to one endpoint."""
    values = _parsed(EventJob, message)
    if values.get("kind") == DeliveryJob.KIND:
        return read(DeliveryJob, values)
    return read(EventJob, values)


def _parsed(kind: type, message: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(message, dict):
        return message
    try:
        values = json.loads(message)
    except json.JSONDecodeError as error:
        raise MalformedJob(f"not a {kind.__name__}: not JSON ({error})") from None
    if not isinstance(values, dict):
        raise MalformedJob(f"not a {kind.__name__}: a JSON object is expected")
    return values


def _described(expected: object) -> str:
    names = {"str": "a string", "int": "a whole number", "bool": "true or false"}
    return names.get(getattr(expected, "__name__", ""), "a list of strings")
