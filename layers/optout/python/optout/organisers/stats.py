"""A campaign's numbers, per region: its funnel (audience, sent, clicked, switched off) and
everything else the sender and the feedback counted, as JSON and as CSV.

Counters are written where things happen (the sender once per batch, a click, a conversion,
a bounce); this module only reads and adds them up. The conversion rate is people who said
"I've switched it off" over messages sent, as organisers report it.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

from optout.core.settings import Settings
from optout.store import CampaignStore

FUNNEL = ("audience", "sent", "clicked", "confirmed")
# The columns every report has, in this order; skip reasons follow as they occur.
COLUMNS = (
    "region",
    *FUNNEL,
    "conversion_rate",
    "unsubscribed",
    "bounced",
    "complained",
    "failed",
    "unknown",
    "deferred",
    "skipped",
    "caught_up",  # late joiners sent the latest reminder at once (`sending.catch_up`)
    "deadline_notices",  # "the deadline moved" notices sent (`campaigns.policy_changes`)
    "good_news",  # "the change is dropped" notices sent after a withdrawal (`campaigns.manage`)
)


def campaign_stats(settings: Settings, campaign_id: str) -> dict[str, Any]:
    """Per region and in total: the funnel, outcomes, skips by reason, conversion rate."""
    store = CampaignStore(settings)
    counters = store.stats(campaign_id)
    audience: Counter[str] = Counter()
    for reminder in store.reminders(campaign_id):
        # Everyone a reminder of the region reached: the largest of its reminders' audiences.
        size = reminder.audience_size or 0
        audience[reminder.region] = max(audience[reminder.region], size)
    regions = sorted(set(counters) | set(audience))
    rows = [_row(region, counters.get(region, {}), audience[region]) for region in regions]
    total: Counter[str] = Counter()
    for row in [_row("all", {}, 0), *rows]:  # the first: every column, at 0 before anything is sent
        total.update({k: v for k, v in row.items() if isinstance(v, int)})
    return {
        "campaign_id": campaign_id,
        "regions": rows,
        "total": _with_rate({"region": "all", **total}),
        "timeline": store.timeline(campaign_id),
    }


def as_csv(stats: dict[str, Any]) -> str:
    """The per-region rows and the total as CSV, one column per counter."""
    rows = [*stats["regions"], stats["total"]]
    reasons = sorted({name for row in rows for name in row if name.startswith("skipped_")})
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=[*COLUMNS, *reasons], restval=0, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _row(region: str, counts: dict[str, int], audience: int) -> dict[str, Any]:
    skipped = {name: value for name, value in counts.items() if name.startswith("skipped_")}
    row: dict[str, Any] = {
        "region": region,
        "audience": audience,
        **{name: counts.get(name, 0) for name in COLUMNS[2:] if name != "conversion_rate"},
        "skipped": sum(skipped.values()),
        **skipped,
    }
    return _with_rate(row)


def _with_rate(row: dict[str, Any]) -> dict[str, Any]:
    sent = row.get("sent", 0)
    row["conversion_rate"] = round(row.get("confirmed", 0) / sent, 4) if sent else 0.0
    return row
