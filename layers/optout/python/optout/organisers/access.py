"""Who may use /admin.

The coalition owner proves who they are with the admin token; an organisation's organisers with
a token the owner gave them (`oot_...`, kept only as a keyed hash: `optout.store.organisations`).
Either goes as ``Authorization: Bearer <token>`` (the API, the CLI), or once on the dashboard's
sign-in form, which answers with a session cookie. The session is a purpose-bound token
(`optout.core.tokens`) signed with a key derived from the admin token itself, so rotating the
admin token ends every session at once; it names a random session id recorded in the deliveries
table, so signing out ends that one, and an organiser's session names its token too, so revoking
the token ends its sessions at once. Wrong tokens are counted per network address: after ten in
fifteen minutes, it is refused without a look.
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
    Forbidden,
    TokenError,
    TooManyRequests,
    Unauthorized,
)
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.core.tokens import SESSION_COOKIE
from optout.domain.organisations import OWNER, Organiser
from optout.store import DeliveryStore, OrganisationStore, layout, seconds_left_in_window

# The window in which an address may present `Settings.admin.wrong_tokens_per_address` wrong
# admin tokens (template.yaml's WrongAdminTokensPerAddress) before it is refused without a look.
WRONG_TOKENS_WINDOW = timedelta(minutes=15)
# The first part of a session token. The owner's sessions carry nothing else but their id (as
# before coalitions); an organiser's carry their organisation and their token's id too.
_ORGANISER = "organiser"
# How an organiser's token begins: told apart from the admin token at sight.
TOKEN_PREFIX = "oot_"  # noqa: S105 (a prefix, not a secret)


def authorise(
    settings: Settings, headers: Mapping[str, str], now: datetime, address: str = ""
) -> Organiser:
    """Who a request comes from, and how it proved it: by a bearer token (the API) or the
    dashboard's session cookie. Unauthorized otherwise; TooManyRequests for an `address` (the
    client's network address) that has presented wrong tokens too often. `headers` are
    lower-cased."""
    if "authorization" in headers:
        with _throttled(settings, address, now):
            return check_bearer(settings, headers["authorization"])
    return replace(check_session(settings, _session_cookie(headers), now), how="session")


def check_bearer(settings: Settings, authorization: str | None) -> Organiser:
    """Who `Authorization: Bearer <token>` is: the owner (the admin token) or an organiser
    (one of their tokens); anything else is Unauthorized."""
    scheme, _, presented = (authorization or "").partition(" ")
    who = _holder(settings, presented.strip()) if scheme.lower() == "bearer" else None
    if who is None:
        raise Unauthorized("an admin token is needed")
    return who


def sign_in(settings: Settings, presented: str, now: datetime, address: str = "") -> str:
    """A dashboard session for someone who typed the admin token or an organiser's token;
    Unauthorized otherwise. Each session has a random id, recorded until it expires or its
    organiser signs out; an organiser's names their organisation and token."""
    with _throttled(settings, address, now):
        who = _holder(settings, presented.strip())
        if who is None:
            logger.warning("admin sign-in refused")
            raise Unauthorized("that is not the admin token, nor an organiser's token")
    expires = now + tokens.LIFETIMES[tokens.Purpose.ADMIN]
    session_id = secrets.token_urlsafe(18)
    DeliveryStore(settings).open_session(session_id, expires, now)
    parts = [_ORGANISER, session_id]
    if not who.owner:
        parts += [who.organisation, who.token_id]
    return tokens.mint(_session_keyring(settings), tokens.Purpose.ADMIN, parts, expires)


def sign_out(settings: Settings, headers: Mapping[str, str], now: datetime) -> None:
    """End the session of the request's cookie, so that a copy of it no longer signs in."""
    found = _session(settings, _session_cookie(headers), now)
    if found:
        DeliveryStore(settings).close_session(found[0])


def check_session(settings: Settings, session: str | None, now: datetime) -> Organiser:
    """Who a session cookie is: signed with the current admin token, not yet expired, not
    signed out, and (an organiser's) made with a token not revoked since."""
    found = _session(settings, session, now)
    if found is None or not DeliveryStore(settings).session_open(found[0], now):
        raise Unauthorized("your session has ended: sign in again")
    who = found[1]
    if not who.owner and not OrganisationStore(settings).token_kept(who.token_id):
        raise Unauthorized("your session has ended: your token was revoked")
    return who


def _session(
    settings: Settings, session: str | None, now: datetime
) -> tuple[str, Organiser] | None:
    """The session id and whose session it is, if the cookie is a valid session token."""
    if not session or not keys.admin_tokens(settings):
        return None
    try:
        parts = tokens.verify(_session_keyring(settings), session, tokens.Purpose.ADMIN, now)
    except TokenError:
        return None
    if len(parts) == 2 and parts[0] == _ORGANISER:
        return parts[1], OWNER
    if len(parts) == 4 and parts[0] == _ORGANISER:
        return parts[1], Organiser(parts[2], owner=False, token_id=parts[3])
    return None


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


def _holder(settings: Settings, presented: str) -> Organiser | None:
    """Whose token `presented` is: the owner's (the admin token), an organiser's (a token
    kept, by its keyed hash), or nobody's. With no admin token configured, nobody's: the
    sessions of all are signed with a key derived from it."""
    if not keys.admin_tokens(settings):
        return None
    if presented.startswith(TOKEN_PREFIX):
        kept = OrganisationStore(settings).token(keys.organiser_token_hash(settings, presented))
        if kept is not None:
            return Organiser(kept.organisation, owner=False, token_id=kept.token_id)
    return OWNER if _is_admin_token(settings, presented) else None


# The areas only the coalition owner opens, by the start of their paths: the policy watches and
# the changes they found (and the campaigns drafted and followed up from them) serve the
# whole coalition, and nobody but the owner whom all trust may act for all.
OWNER_ONLY = {
    "/admin/watches": "only the coalition owner manages the policy watches",
    "/admin/changes": "only the coalition owner acts on the changes the policy watch found",
}


def may_open(organiser: Organiser, path: str) -> None:
    """Refuse an organiser a path of the owner's only (Forbidden, saying whose it is)."""
    for start, refusal in OWNER_ONLY.items():
        if path == start or path.startswith(start + "/"):
            owner_only(organiser, refusal)


def owner_only(organiser: Organiser, refusal: str) -> None:
    """Let only the coalition owner on; Forbidden, saying `refusal`, for anyone else."""
    if not organiser.owner:
        raise Forbidden(refusal)


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
