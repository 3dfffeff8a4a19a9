"""The only package that speaks DynamoDB: one module per table, table names from the settings
(template.yaml).

- `subscribers`: one item per contact, and the sparse audience index fan-out pages.
- `campaigns`: campaigns, their reminders (the scheduler's due index), counters and notices.
- `deliveries`: one claim per message, so that none goes out twice, and per webhook id; short
  links, rate-limit windows, clicks.
- `watches`: policy watches, the versions of their sources, the changes found.
- `organisations`: the coalition's organisations (in the campaigns table).
- `events`: the organisers' endpoints, the events kept for replay, their logs and dead letters.
- `dynamo`: what they share (conditional writes; items as JSON has them).
"""

from optout.store.campaigns import (
    FANOUT_DONE,
    ABPhase,
    CampaignStore,
    DeferredBatch,
    DeferredNotice,
    FinishCheck,
)
from optout.store.deliveries import CHANGED, LEFT, DeliveryStore, seconds_left_in_window
from optout.store.dynamo import plain
from optout.store.events import EventStore, Kept
from optout.store.organisations import OrganisationStore
from optout.store.subscribers import AUDIENCE_SHARDS, SubscriberStore
from optout.store.watches import VersionTooLarge, WatchStore

__all__ = [
    "AUDIENCE_SHARDS",
    "CHANGED",
    "FANOUT_DONE",
    "LEFT",
    "ABPhase",
    "CampaignStore",
    "DeferredBatch",
    "DeferredNotice",
    "DeliveryStore",
    "EventStore",
    "FinishCheck",
    "Kept",
    "OrganisationStore",
    "SubscriberStore",
    "VersionTooLarge",
    "WatchStore",
    "plain",
    "seconds_left_in_window",
]
