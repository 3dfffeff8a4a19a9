"""What the dashboard's pages show: campaigns with their deadlines and the time left per
region, each campaign's funnel per region, confirmations over time and conversions by reminder,
language and channel (charts from `optout.organisers.charts`), the reminders due next, and the
policy watches with their status. Pages render these with templates/admin/.

Times are shown in the organiser's zone, the admin function's DASHBOARD_TIME_ZONE (template.yaml's
DashboardTimeZone, UTC unless set), and each chart names it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup

from optout.campaigns import manage
from optout.core import clock
from optout.core.clock import parse_iso
from optout.core.event_types import EVENT_TYPES
from optout.core.settings import Settings
from optout.domain import plan
from optout.domain.locales import SUPPORTED_LOCALES
from optout.domain.models import UNKNOWN_REMINDER, reminder_id
from optout.domain.organisations import DEFAULT, OWNER, Organiser
from optout.events import endpoints
from optout.messages import render
from optout.organisers import charts, stats
from optout.store import CampaignStore, OrganisationStore
from optout.watching import watches

UPCOMING = timedelta(days=60)  # how far ahead "next reminders" looks
HEALTH_SPAN = timedelta(days=90)  # how far back list health's charts look


def overview(settings: Settings, now: datetime, seen_by: Organiser = OWNER) -> dict[str, Any]:
    """The dashboard's front page: every campaign `seen_by` may see, and the reminders due
    next of those."""
    zone = settings.admin.time_zone
    campaigns = []
    for campaign in manage.list_campaigns(settings, seen_by):
        numbers = stats.campaign_stats(settings, campaign["campaign_id"])["total"]
        campaigns.append(
            {
                **campaign,
                "deadlines": _deadlines(campaign["regions"], now, zone),
                "total": numbers,
                "reputation": stats.reputation(numbers),
            }
        )
    seen = {campaign["campaign_id"] for campaign in campaigns}
    health = stats.list_health(settings)
    hours = health["timeline"]
    # From the first sign-up counted (two weeks at least, 90 days at most), to now.
    first = min([parse_iso(f"{hour}:00:00Z") for hour in hours] + [now - timedelta(days=14)])
    since = max(first, now - HEALTH_SPAN)
    return {
        "campaigns": campaigns,
        "health": health,
        "signups_chart": charts.timeline(
            {hour: counts.get("signups", 0) for hour, counts in hours.items()},
            "Sign-ups over time",
            since,
            now,
            zone,
        ),
        "confirmed_chart": charts.timeline(
            {hour: counts.get("confirmed", 0) for hour, counts in hours.items()},
            "Confirmations of sign-ups over time",
            since,
            now,
            zone,
        ),
        "upcoming": [
            due for due in upcoming(settings, now) if seen_by.owner or due["campaign_id"] in seen
        ],
        "now": clock.shown(now, zone),
        "languages": {
            code: render.babel_locale(code).display_name or code for code in SUPPORTED_LOCALES
        },
        "channels": CHANNEL_NAMES,
    }


def campaign_page(
    settings: Settings, campaign_id: str, now: datetime, *, viewer: Organiser = OWNER
) -> dict[str, Any]:
    """One campaign: its deadlines, funnel chart, confirmations over time, plan and actions;
    the organisations' shares `viewer` may see."""
    zone = settings.admin.time_zone
    campaign = manage.show_campaign(settings, campaign_id)
    planned = [reminder for reminders in campaign["plan"].values() for reminder in reminders]
    numbers = stats.campaign_stats(settings, campaign_id, viewer=viewer)
    rows = [(row["region"], [row[stage] for stage in stats.FUNNEL]) for row in numbers["regions"]]
    if not rows:  # nothing planned or counted yet: each region of the campaign says so
        rows = [(region, [0] * len(stats.FUNNEL)) for region in campaign["regions"]]
    kinds = {
        reminder_id(
            region, reminder["days_before"]
        ): f"{region} {reminder['kind'].replace('-', ' ')}"
        for region, reminders in campaign["plan"].items()
        for reminder in reminders
    }
    kinds[UNKNOWN_REMINDER] = "a link sent before links named their reminder"
    by = numbers["conversions"]
    confirmations = {
        hour: counts.get("confirmed", 0) for hour, counts in numbers["timeline"].items()
    }
    since = (
        parse_iso(campaign["created_at"]) if campaign["created_at"] else now - timedelta(days=14)
    )
    until = max([now, *(parse_iso(deadline) for deadline in campaign["regions"].values())])
    return {
        "campaign": campaign,
        "deadlines": _deadlines(campaign["regions"], now, zone),
        "stats": numbers,
        "stages": stats.FUNNEL,
        "time_zone": zone,
        "funnel_chart": charts.funnel(rows, _stage_names(), "Funnel per region"),
        "timeline_chart": charts.timeline(
            confirmations, "Confirmations over time", since, min(until, now), zone
        ),
        "reminder_chart": _conversion_bars(
            by["by_reminder"], "reminder", "Switched off, by reminder", kinds
        ),
        "language_chart": _conversion_bars(
            by["by_language"],
            "language",
            "Switched off, by language",
            {code: render.babel_locale(code).display_name or code for code in SUPPORTED_LOCALES},
        ),
        "channel_chart": _conversion_bars(
            by["by_channel"], "channel", "Switched off, by channel", CHANNEL_NAMES
        ),
        "reminder_names": kinds,
        "good_news": _good_news(settings, campaign),
        "plan": [
            {**reminder, "region": region, "due": clock.shown(parse_iso(reminder["due_at"]), zone)}
            for region, reminders in campaign["plan"].items()
            for reminder in sorted(reminders, key=lambda r: r["due_at"])
        ],
        "reminder_kinds": list(
            dict.fromkeys(r["kind"] for r in sorted(planned, key=lambda r: -r["days_before"]))
        ),
        "languages": [(code, render.babel_locale(code).display_name) for code in SUPPORTED_LOCALES],
        "now": clock.shown(now),
        # The organisations the coalition owner may open it to (none added: no form at all).
        "may_join": [
            organisation.organisation_id
            for organisation in OrganisationStore(settings).organisations()
            if organisation.organisation_id != campaign["organisation"]
        ]
        + ([DEFAULT] if campaign["organisation"] != DEFAULT else []),
    }


def watches_page(
    settings: Settings, now: datetime, created: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The watches: each with its status (failing ones first, with their reason) and its
    times in the organiser's zone; after a watch was created, that watch with its allies'
    secrets, shown this once."""
    zone = settings.admin.time_zone
    return {
        "watches": [_with_times(watch, zone) for watch in watches.list_watches(settings)],
        "created": created,
        "now": clock.shown(now, zone),
    }


def watch_page(
    settings: Settings, watch_id: str, base_url: str, edited: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One watch: its source, status, allies, terms, and the versions kept of its source, with
    the form that edits it; after an edit, what it answered (its new allies' secrets, shown
    this once)."""
    zone = settings.admin.time_zone
    watch = _with_times(watches.show(settings, watch_id, base_url=base_url), zone)
    for kept in watch["versions"]:
        kept["fetched"] = clock.shown(parse_iso(kept["fetched_at"]), zone)
    return {"watch": watch, "edited": edited}


def webhooks_page(
    settings: Settings, created: dict[str, Any] | None = None, seen_by: Organiser = OWNER
) -> dict[str, Any]:
    """The endpoints for events out `seen_by` may see (paused ones first), with the form that
    registers one; after one was registered, its secret, shown this once."""
    zone = settings.admin.time_zone
    found = endpoints.list_endpoints(settings, seen_by)
    return {
        "endpoints": [_endpoint_times(e, zone) for e in found],
        "created": created,
        "event_types": EVENT_TYPES,
    }


def webhook_page(
    settings: Settings, endpoint: dict[str, Any], rotated: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One endpoint: its settings, its recent attempts with their answers, its dead letters
    (each with a replay button), and the forms that edit it and replay a range; after its
    secret was rotated, the new one, shown this once."""
    zone = settings.admin.time_zone
    shown = _endpoint_times(endpoint, zone)
    for row in [*shown["attempts"], *shown["dead_letters"]]:
        row["when"] = clock.shown(parse_iso(row["at"]), zone)
    return {"endpoint": shown, "rotated": rotated, "event_types": EVENT_TYPES}


def _endpoint_times(endpoint: dict[str, Any], zone: str) -> dict[str, Any]:
    moments = ("created_at", "paused_at", "failing_since", "last_delivered_at")
    times = {
        name: clock.shown(parse_iso(endpoint[name]), zone) for name in moments if endpoint[name]
    }
    return {**endpoint, "times": times}


def _with_times(watch: dict[str, Any], zone: str) -> dict[str, Any]:
    """`times`: the status's moments that are set, each as `_when` shows it."""
    status = watch["status"]
    moments = ("checked_at", "ok_at", "next_check_at")
    times = {name: clock.shown(parse_iso(status[name]), zone) for name in moments if status[name]}
    return {**watch, "times": times}


def _good_news(settings: Settings, campaign: dict[str, Any]) -> dict[str, Any] | None:
    """Who the good news of a withdrawal would reach, while the organiser may still send it:
    the regions that had reminders out, each with how many people its latest reminder reached,
    and the regions that had none (they hear nothing)."""
    if not campaign["good_news_available"]:
        return None
    latest = plan.good_news(CampaignStore(settings).reminders(campaign["campaign_id"]))
    told = [reminder.region for reminder in latest]
    return {
        "regions": _listed(told),
        "count": len(told),
        "reached": sum(reminder.audience_size or 0 for reminder in latest),
        "by_region": ", ".join(f"{r.region} {r.audience_size or 0:,}" for r in latest),
        "silent": _listed(sorted(set(campaign["regions"]) - set(told))),
    }


def _listed(names: list[str]) -> str:
    """ "EU", "EU and CH", "EU, EEA and CH"."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def upcoming(settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Reminders due from now on (and any overdue), soonest first."""
    due = CampaignStore(settings).due(now + UPCOMING).reminders
    return [
        {
            "campaign_id": item.campaign_id,
            "region": item.region,
            "kind": item.kind,
            "due": clock.shown(parse_iso(item.due_at), settings.admin.time_zone),
            "in": _in(parse_iso(item.due_at), now),
        }
        for item in sorted(due, key=lambda item: item.due_at)
    ]


def _deadlines(regions: dict[str, str], now: datetime, zone: str) -> list[dict[str, Any]]:
    return [
        {
            "region": region,
            "deadline": clock.shown(parse_iso(at), zone),
            "left": _time_left(parse_iso(at), now),
        }
        for region, at in sorted(regions.items(), key=lambda pair: pair[1])
    ]


CHANNEL_NAMES = {"email": "email", "sms": "text message"}


def _conversion_bars(
    rows: list[dict[str, Any]], dimension: str, title: str, names: dict[str, str]
) -> Markup:
    """A bar per value: how many switched it off, and that as a share of what was sent."""
    shown = [
        (
            names.get(row[dimension], row[dimension]),
            row["confirmed"],
            f"{row['conversion_rate']:.1%} of {row['sent']:,} sent" if row["sent"] else "",
        )
        for row in rows
        if row["confirmed"] or row["sent"]
    ]
    return charts.bars(shown, title, "nobody has switched it off yet")


def _time_left(moment: datetime, now: datetime) -> str:
    """ "12 days 5 h left", "5 h 20 min left", or "passed 2 days ago": a countdown to read."""
    # Babel on first use, as in `optout.messages.render`: the admin API's JSON answers need none of it.
    from babel.dates import format_timedelta

    if moment <= now:
        return "passed " + format_timedelta(now - moment, locale="en") + " ago"
    return _duration(moment - now) + " left"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _in(moment: datetime, now: datetime) -> str:
    return "in " + _duration(moment - now) if moment > now else "due now"


def _stage_names() -> list[str]:
    return ["people reached", "messages sent", "clicked a link", "switched it off"]
