"""Who may use /admin, and what organisers do to campaigns by hand.

An organiser proves who they are with the admin token: as ``Authorization: Bearer <token>``
(the API, the CLI), or once on the dashboard's sign-in form, which answers with a session
cookie. The session is a purpose-bound token (`optout.tokens`) signed with a key derived from
the admin token itself, so rotating the admin token ends every session at once; it names a
random session id recorded in the deliveries table, so signing out ends that one. Wrong tokens
are counted per network address: after ten in fifteen minutes, it is refused without a look.

Campaigns made here are the same as the webhook's: the same document, validated by the same
schema, planned by the same code. Editing a campaign's text is allowed until its first
reminder has gone out; after that, what people read must stay what was sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from typing import Any

from optout import campaigns, keys, policy, tokens
from optout.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    TokenError,
    TooManyRequests,
    Unauthorized,
)
from optout.models import STARTED, CampaignStatus
from optout.observability import logger
from optout.policy import EDITABLE_TEXT
from optout.settings import Settings
from optout.store import CampaignStore, DeliveryStore, layout, plain, seconds_left_in_window
from optout.tokens import SESSION_COOKIE

# The window in which an address may present `Settings.admin.wrong_tokens_per_address` wrong
# admin tokens (template.yaml's WrongAdminTokensPerAddress) before it is refused without a look.
WRONG_TOKENS_WINDOW = timedelta(minutes=15)
_ORGANISER = "organiser"  # the one part of a session token: sessions carry no identity


# -- who is asking --------------------------------------------------------------------------


def authorise(
    settings: Settings, headers: Mapping[str, str], now: datetime, address: str = ""
) -> str:
    """How a request proved it comes from an organiser: "bearer" (the API) or "session" (the
    dashboard's cookie). Unauthorized otherwise; TooManyRequests for an `address` (the
    client's network address) that has presented wrong tokens too often. `headers` are
    lower-cased."""
    if "authorization" in headers:
        with _throttled(settings, address, now):
            check_bearer(settings, headers["authorization"])
        return "bearer"
    check_session(settings, _session_cookie(headers), now)
    return "session"


def check_bearer(settings: Settings, authorization: str | None) -> None:
    """Accept `Authorization: Bearer <admin token>`; anything else is Unauthorized."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not _is_admin_token(settings, presented.strip()):
        raise Unauthorized("an admin token is needed")


def sign_in(settings: Settings, presented: str, now: datetime, address: str = "") -> str:
    """A dashboard session for someone who typed the admin token; Unauthorized otherwise.
    Each session has a random id, recorded until it expires or its organiser signs out."""
    with _throttled(settings, address, now):
        if not _is_admin_token(settings, presented.strip()):
            logger.warning("admin sign-in refused")
            raise Unauthorized("that is not the admin token")
    expires = now + tokens.LIFETIMES[tokens.Purpose.ADMIN]
    session_id = secrets.token_urlsafe(18)
    DeliveryStore(settings).open_session(session_id, expires, now)
    return tokens.mint(
        _session_keyring(settings), tokens.Purpose.ADMIN, [_ORGANISER, session_id], expires
    )


def sign_out(settings: Settings, headers: Mapping[str, str], now: datetime) -> None:
    """End the session of the request's cookie, so that a copy of it no longer signs in."""
    session_id = _session_id(settings, _session_cookie(headers), now)
    if session_id:
        DeliveryStore(settings).close_session(session_id)


def check_session(settings: Settings, session: str | None, now: datetime) -> None:
    """Accept a session cookie signed with the current admin token, not yet expired and not
    signed out."""
    session_id = _session_id(settings, session, now)
    if session_id is None or not DeliveryStore(settings).session_open(session_id, now):
        raise Unauthorized("your session has ended: sign in again")


def _session_id(settings: Settings, session: str | None, now: datetime) -> str | None:
    if not session or not keys.admin_tokens(settings):
        return None
    try:
        parts = tokens.verify(_session_keyring(settings), session, tokens.Purpose.ADMIN, now)
    except TokenError:
        return None
    return parts[1] if len(parts) == 2 and parts[0] == _ORGANISER else None


def _session_cookie(headers: Mapping[str, str]) -> str | None:
    cookies = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except CookieError:
        return None
    session = cookies.get(SESSION_COOKIE)
    return session.value if session else None


@contextmanager
def _throttled(settings: Settings, address: str, now: datetime) -> Iterator[None]:
    """Refuse an address that presented too many wrong tokens in the current window before
    comparing another, and count each wrong one: guessing the token by trying is stopped
    after a handful (the limit is per keyed hash of the address, which is not kept)."""
    store = DeliveryStore(settings)
    key = layout.rate_limit("admin", keys.contact_id(settings, "address", address or "unknown"))
    if (
        store.counted_in_window(key, WRONG_TOKENS_WINDOW, now)
        >= settings.admin.wrong_tokens_per_address
    ):
        raise TooManyRequests(
            "too many wrong admin tokens from your network; try again later",
            retry_after=seconds_left_in_window(WRONG_TOKENS_WINDOW, now),
        )
    try:
        yield
    except Unauthorized:
        store.count_in_window(key, WRONG_TOKENS_WINDOW, now)
        raise


def _is_admin_token(settings: Settings, presented: str) -> bool:
    # Every configured token is compared, in constant time, whatever matches first.
    matches = [
        hmac.compare_digest(presented.encode(), token.encode())
        for token in keys.admin_tokens(settings)
    ]
    return bool(presented) and any(matches)


def _session_keyring(settings: Settings) -> tokens.Keyring:
    current = keys.admin_tokens(settings)[0]
    key = hashlib.sha256(b"optout-admin-session:" + current.encode()).digest()
    return tokens.Keyring("a1", {"a1": key})


# -- campaigns ------------------------------------------------------------------------------


def list_campaigns(settings: Settings) -> list[dict[str, Any]]:
    """Every campaign, newest first, with its regions' deadlines."""
    found = CampaignStore(settings).campaigns()
    return sorted(
        (_summary(item) for item in found), key=lambda c: c["created_at"] or "", reverse=True
    )


def show_campaign(settings: Settings, campaign_id: str) -> dict[str, Any]:
    """A campaign, its plan per region (each reminder's state and counts) and its counters."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    regions: dict[str, list[dict[str, Any]]] = {code: [] for code in campaign["regions"]}
    for reminder in sorted(store.reminders(campaign_id), key=lambda r: r["due_at"]):
        regions.setdefault(reminder["region"], []).append(_reminder_view(reminder))
    return {
        **_summary(campaign),
        "policy": plain(campaign["policy"]),
        "plan": regions,
        "stats": store.stats(campaign_id),
        "held_batches": store.count_held_batches(campaign_id),
    }


def create_campaign(
    settings: Settings, body: bytes, *, base_url: str, now: datetime, draft: bool = False
) -> dict[str, Any]:
    """A campaign from a policy-change document, exactly as the webhook would make it; as a
    draft, it is planned but sends nothing until it is launched."""
    change = policy.parse(body, now)
    if CampaignStore(settings).get_campaign(change.policy.id) is not None:
        raise Conflict(f"campaign {change.policy.id!r} exists: edit it instead")
    status = CampaignStatus.DRAFT if draft or change.draft else CampaignStatus.ACTIVE
    return campaigns.apply(settings, change, base_url=base_url, now=now, status=status)


def launch(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """Start a draft: its due reminders go out at the next tick (the latest of each region)."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    if campaign["status"] != CampaignStatus.DRAFT:
        raise Conflict(f"the campaign is {campaign['status']}, not a draft")
    store.set_status(campaign_id, CampaignStatus.ACTIVE, now)
    logger.info("campaign launched", extra={"campaign_id": campaign_id})
    return {"campaign_id": campaign_id, "status": CampaignStatus.ACTIVE}


def edit_text(
    settings: Settings, campaign_id: str, changes: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Change what reminders say (title, summary, steps, links, translations), until the
    first reminder has gone out. The result is validated as a whole by the webhook schema."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    unknown = sorted(set(changes) - set(EDITABLE_TEXT))
    if unknown:
        raise InvalidInput({name: "cannot be edited here" for name in unknown})
    started = [r for r in store.reminders(campaign_id) if r["state"] in STARTED]
    if started:
        raise Conflict("reminders have gone out: their text can no longer change")
    document = {
        "type": policy.CHANGED,
        "platform": campaign["platform"],
        "policy": {**plain(campaign["policy"]), **changes, "id": campaign_id},
        "regions": [
            {"region": code, "effective_at": deadline}
            for code, deadline in campaign["regions"].items()
        ],
        "plan": {
            "offsets_days": [int(days) for days in campaign["offsets_days"]],
            "local_hour": int(campaign["local_hour"]),
        },
    }
    change = policy.parse(json.dumps(document).encode(), now)
    return campaigns.apply(settings, change, base_url=campaign["base_url"], now=now)


def pause(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """Stop sending: due reminders wait, batches already queued are held, nothing is lost."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    if campaign["status"] != CampaignStatus.ACTIVE:
        raise Conflict(f"the campaign is {campaign['status']}, not active")
    store.set_status(campaign_id, CampaignStatus.PAUSED, now, "paused by an organiser")
    logger.info("campaign paused", extra={"campaign_id": campaign_id})
    return {"campaign_id": campaign_id, "status": CampaignStatus.PAUSED}


def resume(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """Send again: held batches go back in the due index (the next tick sends them), and due
    reminders go out, the latest of each region only, as after any pause in the schedule."""
    store = CampaignStore(settings)
    campaign = _existing(store, campaign_id)
    if campaign["status"] != CampaignStatus.PAUSED:
        raise Conflict(f"the campaign is {campaign['status']}, not paused")
    store.set_status(campaign_id, CampaignStatus.ACTIVE, now)
    released = store.release_held_batches(campaign_id, now)
    logger.info("campaign resumed", extra={"campaign_id": campaign_id, "batches": released})
    return {
        "campaign_id": campaign_id,
        "status": CampaignStatus.ACTIVE,
        "held_batches_released": released,
    }


def cancel(settings: Settings, campaign_id: str, now: datetime) -> dict[str, Any]:
    """End the campaign: no reminder that has not gone out will."""
    _existing(CampaignStore(settings), campaign_id)
    return campaigns.withdraw(settings, campaign_id, now)


def _existing(store: CampaignStore, campaign_id: str) -> dict[str, Any]:
    campaign = store.get_campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    return campaign


def _summary(campaign: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "campaign_id": campaign["campaign_id"],
        "title": campaign["policy"].get("title", ""),
        "platform": campaign["platform"],
        "status": campaign["status"],
        "status_reason": campaign.get("status_reason", ""),
        "regions": dict(sorted(campaign["regions"].items(), key=lambda pair: pair[1])),
        "created_at": campaign.get("created_at"),
        "updated_at": campaign.get("updated_at"),
    }


def _reminder_view(reminder: Mapping[str, Any]) -> dict[str, Any]:
    shown = ("kind", "days_before", "due_at", "deadline", "state", "reason")
    counts = ("audience_size", "batches", "shards_done", "fanout_jobs")
    view = {name: plain(reminder[name]) for name in shown if name in reminder}
    view.update({name: int(reminder[name]) for name in counts if name in reminder})
    return view
