"""The secrets: link-token signing keys, the key that turns a contact into its id, the
webhook keys, the organisers' admin token (and the key their own tokens are kept under) and the SMS provider's token.

Each is a Secrets Manager secret named by ARN in the settings (the local stack makes them in
moto), read through Powertools' SecretsProvider and cached for five minutes (a rotated key
reaches warm functions within that). Without an ARN the value itself may be in the
environment (unit tests, fuzzers). A token secret is either a plain string (key id
``k1``) or JSON ``{"kid": "k2", "key": "...", "previous": {"k1": "..."}}``.

The contact key must never change: subscriber ids and erasure suppressions are keyed hashes of
contacts under it. Token keys may rotate freely; list the old one under ``previous`` until the
longest-lived link signed with it has expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from functools import lru_cache

from optout.core import aws, signatures
from optout.core.settings import Secret, Settings, SettingsError
from optout.core.tokens import Keyring

_CACHE_SECONDS = 300


def token_keyring(settings: Settings) -> Keyring:
    """The keyring that signs and verifies link tokens."""
    return token_keyring_from(_secret(settings.token_secret))


@lru_cache(maxsize=4)
def token_keyring_from(raw: str) -> Keyring:
    """Parse a token secret: a plain string (key id ``k1``) or the JSON form above."""
    try:
        document = json.loads(raw)
    except ValueError:
        document = raw
    if isinstance(document, str):
        return Keyring("k1", {"k1": document.encode()})
    keys = {kid: str(key).encode() for kid, key in dict(document.get("previous", {})).items()}
    keys[document["kid"]] = str(document["key"]).encode()
    return Keyring(document["kid"], keys)


def contact_id(settings: Settings, channel: str, address: str) -> str:
    """The subscriber id of a normalised contact: a keyed hash, useless without the key."""
    key = _secret(settings.contact_secret).encode()
    digest = hmac.new(key, f"{channel}:{address}".encode(), hashlib.sha256).digest()
    return "s" + base64.b32encode(digest).decode("ascii").rstrip("=").lower()[:31]


def webhook_keys(settings: Settings) -> list[bytes]:
    """The keys policy-change webhooks may be signed with: one or more ``whsec_`` secrets,
    separated by spaces while a sender rotates."""
    raw = _secret(settings.webhook_secret)
    if not raw.strip():
        raise SettingsError("missing setting: WEBHOOK_SECRET_ARN or OPTOUT_WEBHOOK_SECRET")
    return signatures.parse_secrets(raw)


def admin_tokens(settings: Settings) -> list[str]:
    """The bearer tokens organisers may use: one, or two separated by a space while the
    secret is rotated. None configured: nobody is let in."""
    return _secret(settings.admin.token).split()


def organiser_token_hash(settings: Settings, token: str) -> str:
    """How an organiser's token is kept and found: a keyed hash, under a key derived from the
    contact key (which never changes, so tokens outlive a rotation of the admin token). A copy
    of the table gives nobody a token to sign in with."""
    key = hmac.new(
        _secret(settings.contact_secret).encode(), b"optout-organiser-token", hashlib.sha256
    ).digest()
    digest = hmac.new(key, token.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def sms_http_token(settings: Settings) -> str:
    """The auth token of the HTTP SMS provider."""
    return _secret(settings.sms.http_token)


def _secret(secret: Secret) -> str:
    if secret.arn:
        return str(aws.secrets().get(secret.arn, max_age=_CACHE_SECONDS))
    return secret.value
