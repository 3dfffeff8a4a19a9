"""A campaign's numbers, per region: its funnel (audience, sent, clicked, switched off) and
everything else the sender and the feedback counted, as JSON and as CSV.

Counters are written where things happen (the sender once per batch, a click, a conversion,
a bounce); this module only reads and adds them up. The conversion rate is people who said
"I've switched it off" over messages sent, as organisers report it.

A campaign that several organisations of a coalition share sends each person one message,
attributed to one organisation (`optout.domain.organisations.attributed_to`): its numbers are
the deduplicated whole (the regions and the total, as ever) and, beside them, each
organisation's share (`organisations`: the people its messages went to, and their
outcomes), which add up to the whole. An organiser of one organisation sees the whole and
their own organisation's share only.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

from optout.core.settings import Settings
from optout.domain import ab, regions
from optout.domain.organisations import OWNER, Organiser
from optout.domain.reputation import BOUNCE_RATE_LIMIT, COMPLAINT_RATE_LIMIT, MIN_SENT_FOR_RATES
from optout.store import CampaignStore, SubscriberStore
from optout.store.subscribers import COUNTED_STATES, ListHealth

FUNNEL = ("audience", "sent", "clicked", "confirmed")
BREAKDOWNS = ("reminder", "language", "channel")
# An organisation's share of a shared campaign: its people's outcomes (each person under the
# organisation their message came from; a skip of someone of none: under none) and conversions.
SHARE = ("sent", "failed", "unknown", "skipped", "confirmed")
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
    "deferred_cap",  # of those, held back by the cap across campaigns (`domain.cap`)
    "skipped",
    "scanner_clicks",  # link scanners' visits, kept out of "clicked" (people's)
    "caught_up",  # late joiners sent the latest reminder at once (`sending.catch_up`)
    "deadline_notices",  # "the deadline moved" notices sent (`campaigns.policy_changes`)
    "good_news",  # "the change is dropped" notices sent after a withdrawal (`campaigns.manage`)
)


def campaign_stats(
    settings: Settings, campaign_id: str, *, viewer: Organiser = OWNER
) -> dict[str, Any]:
    """Per region and in total: the funnel, outcomes, skips by reason, conversion rate; and
    for a campaign shared by organisations, each one's share (those `viewer` may see)."""
    store = CampaignStore(settings)
    counters = store.stats(campaign_id)
    breakdown = store.breakdown(campaign_id)
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
        "conversions": conversions(breakdown),
        "ab_tests": ab_tests(store, campaign_id, breakdown),
        "organisations": shares(breakdown, viewer),
    }


def shares(
    breakdown: dict[str, dict[str, dict[str, int]]], viewer: Organiser = OWNER
) -> list[dict[str, Any]]:
    """Each organisation's share of a shared campaign, by id: its messages sent, failed,
    unknown, its people skipped, its conversions and their rate; only `viewer`'s own for an
    organiser of one organisation. Empty for a campaign of the default organisation alone."""
    return [
        _with_rate({"organisation": organisation, **{name: counts.get(name, 0) for name in SHARE}})
        for organisation, counts in sorted(breakdown.get("organisation", {}).items())
        if viewer.may_see(organisation)
    ]


def ab_tests(
    store: CampaignStore, campaign_id: str, breakdown: dict[str, dict[str, dict[str, int]]]
) -> list[dict[str, Any]]:
    """Each A/B-tested reminder whose test share has gone out: per variant, its messages sent,
    conversions ("I've switched it off", people's presses only) and rate in the test share and
    in the rest; the people of the rest held for the result until it is decided; and the
    decision, with its reason in words."""
    campaign = store.get_campaign(campaign_id)
    if campaign is None or not campaign.ab_tests:
        return []
    counted = breakdown.get("variant", {})
    found = []
    for phase in sorted(store.ab_phases(campaign_id), key=lambda p: p.reminder):
        reminder = store.get_reminder(campaign_id, phase.reminder)
        test = phase.test or (campaign.ab_test_for(reminder) if reminder else None)
        if test is None:
            continue

        decided = bool(phase.decided_at)
        found.append(
            {
                "reminder": phase.reminder,
                "region": phase.region,
                "share": test.share,
                "wait_hours": test.wait.total_seconds() / 3600,
                "state": phase.state,
                "test_started_at": phase.test_started_at,
                "rest_due_at": phase.due_at if phase.state == phase.WAITING else "",
                # Once it ends unsent (overtaken), its held people are counted skipped instead.
                "held_for_result": phase.held if phase.state == phase.WAITING else 0,
                "variants": [
                    {"variant": variant.name}
                    | {
                        group: _variant_numbers(counted, phase.reminder, variant.name, group)
                        for group in (ab.TEST, ab.REST)
                    }
                    for variant in test.variants
                ],
                "decision": {
                    "winner": phase.winner,
                    "reason": phase.reason,
                    "significant": phase.significant,
                    "decided_at": phase.decided_at,
                    # What it was decided on: the test share's numbers at the time.
                    "results": [
                        {"variant": r.variant, "sent": r.sent, "confirmed": r.conversions}
                        for r in phase.results
                    ],
                }
                if decided
                else None,
            }
        )
    return found


def conversions(breakdown: dict[str, dict[str, dict[str, int]]]) -> dict[str, list[dict[str, Any]]]:
    """Who switched it off, by the reminder whose done link they pressed, by language and by
    channel: for each value, messages sent, conversions and their rate (0 when none sent).
    A conversion through a link minted before done links named their reminder is counted
    under the reminder "unknown"."""
    found: dict[str, list[dict[str, Any]]] = {}
    for dimension in BREAKDOWNS:
        found[f"by_{dimension}"] = [
            _with_rate(
                {
                    dimension: value,
                    "sent": counts.get("sent", 0),
                    "confirmed": counts.get("confirmed", 0),
                }
            )
            for value, counts in sorted(breakdown.get(dimension, {}).items())
        ]
    return found


def _variant_numbers(
    counted: dict[str, dict[str, int]], reminder: str, variant: str, group: str
) -> dict[str, Any]:
    counts = counted.get(ab.breakdown_value(reminder, variant, group), {})
    return _with_rate({"sent": counts.get("sent", 0), "confirmed": counts.get("confirmed", 0)})


def as_csv(stats: dict[str, Any]) -> str:
    """The per-region rows and the total as CSV, one column per counter. A shared campaign's
    CSV has an ``organisation`` column too: "all" on the regions and the total (the
    deduplicated whole), and a row per organisation's share after them (region "all")."""
    rows = [*stats["regions"], stats["total"]]
    reasons = sorted({name for row in rows for name in row if name.startswith("skipped_")})
    columns = [*COLUMNS, *reasons]
    if stats.get("organisations"):
        columns.insert(1, "organisation")
        rows = [{**row, "organisation": "all"} for row in rows]
        rows += [{"region": "all", **share} for share in stats["organisations"]]
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=columns, restval=0, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def ab_tests_csv(stats: dict[str, Any]) -> str:
    """The A/B tests as CSV, a table of its own (``?format=csv&table=ab_tests``; the regions'
    CSV stays one table, as spreadsheets and ``csv.DictReader`` read it): a row per variant of
    each test and group (test share, rest), with the decision. Only the header before any test
    share has gone out."""
    out = io.StringIO()
    tests = csv.writer(out, lineterminator="\n")
    tests.writerow(AB_COLUMNS)
    for test in stats.get("ab_tests", []):
        decision = test["decision"] or {}
        for variant in test["variants"]:
            for group in (ab.TEST, ab.REST):
                numbers = variant[group]
                tests.writerow(
                    [
                        test["reminder"],
                        variant["variant"],
                        group,
                        numbers["sent"],
                        numbers["confirmed"],
                        numbers["conversion_rate"],
                        decision.get("winner", ""),
                        decision.get("reason", "waiting for the test result"),
                    ]
                )
    return out.getvalue()


AB_COLUMNS = (
    "reminder",
    "variant",
    "group",
    "sent",
    "confirmed",
    "conversion_rate",
    "winner",
    "reason",
)


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


STATES = tuple(state.value for state in COUNTED_STATES)


def list_health(settings: Settings) -> dict[str, Any]:
    """Subscribers by state (pending, active, unsubscribed, suppressed) in all, per region,
    channel and language, from counters kept on writes (`SubscriberStore`); sign-ups and
    confirmations by the hour (UTC), and the confirmation rate (confirmed / signed up)."""
    return _health(SubscriberStore(settings).list_health(regions.GROUPS))


def list_health_report(settings: Settings) -> dict[str, Any]:
    """List health as `GET /admin/list-health` answers it: `list_health`, and each campaign's
    bounce and complaint rates against the limits that pause it (`reputation`)."""
    store = CampaignStore(settings)
    campaigns = []
    for campaign in sorted(store.campaigns(), key=lambda c: c.created_at or "", reverse=True):
        total: Counter[str] = Counter()
        for counts in store.stats(campaign.campaign_id).values():
            total.update({name: counts.get(name, 0) for name in ("sent", "bounced", "complained")})
        rates = reputation(total)
        judged = rates["judged"]
        campaigns.append(
            {
                "campaign_id": campaign.campaign_id,
                "status": campaign.status,
                **rates,
                "bounced": total["bounced"],
                "complained": total["complained"],
                # as `feedback.inbound` judges it when it pauses a campaign
                "bounce_over_limit": judged and rates["bounce_rate"] > BOUNCE_RATE_LIMIT,
                "complaint_over_limit": judged and rates["complaint_rate"] > COMPLAINT_RATE_LIMIT,
            }
        )
    return {**list_health(settings), "campaigns": campaigns}


def recount(settings: Settings) -> dict[str, Any]:
    """Count every subscriber again (`SubscriberStore.recount`, a scan of the whole table) and
    set the list health counters to it; `list_health` as it is now, and under `corrected` each
    counter that was wrong, with what it said and what it says now."""
    store = SubscriberStore(settings)
    before = _by_place(store.list_health(regions.GROUPS))
    after = store.recount(regions.GROUPS)
    corrected = [
        {
            "region": region,
            "channel": channel,
            "language": language,
            "state": state,
            "was": before.get((region, channel, language), {}).get(state, 0),
            "now": count,
        }
        for (region, channel, language), states in sorted(_by_place(after).items())
        for state, count in states.items()
        if before.get((region, channel, language), {}).get(state, 0) != count
    ]
    return {**_health(after), "corrected": corrected}


def _by_place(health: ListHealth) -> dict[tuple[str, str, str], dict[str, int]]:
    places: dict[tuple[str, str, str], dict[str, int]] = {}
    for count in health.counts:
        states = places.setdefault((count.region, count.channel, count.language), {})
        for state in STATES:
            states[state] = states.get(state, 0) + count.states.get(state, 0)
    return places


def _health(health: ListHealth) -> dict[str, Any]:
    by: dict[str, dict[str, Counter[str]]] = {"region": {}, "channel": {}, "language": {}}
    total: Counter[str] = Counter(dict.fromkeys(STATES, 0))
    for count in health.counts:
        for dimension, value in (
            ("region", count.region),
            ("channel", count.channel),
            ("language", count.language),
        ):
            row = by[dimension].setdefault(value, Counter(dict.fromkeys(STATES, 0)))
            row.update({state: count.states.get(state, 0) for state in STATES})
        total.update({state: count.states.get(state, 0) for state in STATES})
    signups = sum(hour.get("signups", 0) for hour in health.hours.values())
    confirmed = sum(hour.get("confirmed", 0) for hour in health.hours.values())
    return {
        "total": dict(total),
        **{
            f"by_{dimension}": [
                {dimension: value, **rows[value]}
                for value in sorted(rows)
                if any(rows[value].values())
            ]
            for dimension, rows in by.items()
        },
        "timeline": health.hours,
        "signups": signups,
        "confirmed": confirmed,
        "confirmation_rate": round(confirmed / signups, 4) if signups else 0.0,
    }


def reputation(total: dict[str, Any]) -> dict[str, Any]:
    """A campaign's bounce and complaint rates beside the limits that pause it, and whether it
    has sent enough for them to count (fewer than `MIN_SENT_FOR_RATES`: one bounce is noise)."""
    sent = total.get("sent", 0)
    return {
        "sent": sent,
        "bounce_rate": round(total.get("bounced", 0) / sent, 4) if sent else 0.0,
        "complaint_rate": round(total.get("complained", 0) / sent, 5) if sent else 0.0,
        "bounce_limit": BOUNCE_RATE_LIMIT,
        "complaint_limit": COMPLAINT_RATE_LIMIT,
        "judged": sent >= MIN_SENT_FOR_RATES,
        "min_sent": MIN_SENT_FOR_RATES,
    }
