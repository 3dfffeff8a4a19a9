"""Who may use /admin.

An organiser proves who they are with the admin token: as ``Authorization: Bearer <token>``
(the API, the CLI), or once on the dashboard's sign-in form, which answers with a session
cookie. The session is a purpose-bound token (`optout.core.tokens`) signed with a key derived
from the admin token itself, so rotating the admin token ends every session at once; it names a
random session id recorded in the deliveries table, so signing out ends that one. Wrong tokens
are counted per network address: after ten in fifteen minutes, it is refused without a look.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie

from optout.core import keys, tokens
from optout.core.errors import (
    TokenError,
    TooManyRequests,
    Unauthorized,
)
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.core.tokens import SESSION_COOKIE
from optout.domain.organisations import OWNER, Organiser
from optout.store import DeliveryStore, layout, seconds_left_in_window

# The window in which an address may present `Settings.admin.wrong_tokens_per_address` wrong
# admin tokens (template.yaml's WrongAdminTokensPerAddress) before it is refused without a look.
WRONG_TOKENS_WINDOW = timedelta(minutes=15)
_ORGANISER = "organiser"  # the one part of a session token: sessions carry no identity


def authorise(
    settings: Settings, headers: Mapping[str, str], now: datetime, address: str = ""
) -> Organiser:
    """Who a request comes from, and how it proved it: by a bearer token (the API) or the
    dashboard's session cookie. Unauthorized otherwise; TooManyRequests for an `address` (the
    client's network address) that has presented wrong tokens too often. `headers` are
    lower-cased."""
    if "authorization" in headers:
        with _throttled(settings, address, now):
            check_bearer(settings, headers["authorization"])
        return OWNER
    check_session(settings, _session_cookie(headers), now)
    return replace(OWNER, how="session")


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
