"""Purpose-bound, expiring, HMAC-signed link tokens.

A token reads ``<key id>.<purpose>.<expiry>.<part>....<signature>``: the key id allows key
rotation, the purpose stops an unsubscribe link from confirming anyone, the expiry is base-36
Unix seconds, and the parts are opaque ids (a subscriber id is itself a keyed hash), so a token
carries no contact data. The signature is HMAC-SHA256 over everything before it, truncated to
128 bits and compared in constant time. Verification checks the signature before anything else,
so a forged token learns nothing about purposes or expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from optout.core.errors import TokenExpired, TokenInvalid, TokenWrongPurpose


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    CLICK = "click"
    DONE = "done"
    PRIVACY = "privacy"
    ADMIN = "admin"  # an organiser's dashboard session, signed with the admin token


SESSION_COOKIE = "optout_admin"  # the cookie that carries an organiser's `Purpose.ADMIN` token


# How long each kind of link keeps working. Unsubscribe links must outlive any reminder they
# were sent in by a wide margin (RFC 8058 senders are expected to honour them for months). A
# confirmation link's lifetime is not here: an operator sets it (CONFIRM_TOKEN_DAYS, read by
# `optout.core.settings`), and `optout.subscribers.subscriptions.confirmation_lifetime` is its one source.
LIFETIMES: Mapping[Purpose, timedelta] = {
    Purpose.UNSUBSCRIBE: timedelta(days=180),
    Purpose.CLICK: timedelta(days=90),
    Purpose.DONE: timedelta(days=90),
    Purpose.PRIVACY: timedelta(days=90),
    Purpose.ADMIN: timedelta(hours=12),
}

MAX_TOKEN_LENGTH = 400
_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Keyring:
    """Signing keys by id: new tokens use `current`; older keys still verify until removed."""

    current: str
    keys: Mapping[str, bytes]

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError(f"current key id {self.current!r} has no key")
        for kid, key in self.keys.items():
            if not _PART.match(kid) or len(key) < 16:
                raise ValueError(f"key {kid!r}: ids are short words and keys at least 16 bytes")


def mint(keyring: Keyring, purpose: Purpose, parts: Sequence[str], expires_at: datetime) -> str:
    """A token for `purpose` over the opaque ids `parts`, valid until `expires_at`."""
    for part in parts:
        if not _PART.match(part):
            raise ValueError(f"token part {part!r} must be an opaque id of [A-Za-z0-9_-]")
    expiry = _base36(int(expires_at.timestamp()))
    body = ".".join([keyring.current, purpose.value, expiry, *parts])
    return f"{body}.{_sign(keyring.keys[keyring.current], body)}"


def verify(keyring: Keyring, token: str, purpose: Purpose, now: datetime) -> tuple[str, ...]:
    """The parts of a genuine, unexpired `purpose` token; otherwise a `TokenError` subclass."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid("this link is not one of ours")
    body, _, signature = token.rpartition(".")
    fields = body.split(".")
    if len(fields) < 4 or not all(_PART.match(field) for field in fields):
        raise TokenInvalid("this link is incomplete or not one of ours")
    key = keyring.keys.get(fields[0])
    if key is None or not hmac.compare_digest(signature.encode(), _sign(key, body).encode()):
        raise TokenInvalid("this link is not one of ours, or was changed")
    if fields[1] != purpose.value:
        raise TokenWrongPurpose(f"this is a {fields[1]} link, not a {purpose.value} link")
    try:
        expires_at = datetime.fromtimestamp(int(fields[2], 36), UTC)
    except (ValueError, OverflowError, OSError):
        raise TokenInvalid("this link is not one of ours") from None
    if now >= expires_at:
        raise TokenExpired("this link has expired")
    return tuple(fields[3:])


def issued_at(token: str, lifetime: timedelta) -> datetime:
    """When a token that `verify` accepted was minted, given the `lifetime` it was minted
    with (its expiry less that), to tell links issued before an erasure from those after."""
    expiry = int(token.split(".")[2], 36)
    return datetime.fromtimestamp(expiry, UTC) - lifetime


def _sign(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, remainder = divmod(number, 36)
        text = digits[remainder] + text
        if number == 0:
            return text
