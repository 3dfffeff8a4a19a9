"""Email through SES v2, as a raw MIME message so that every header is ours to set.

A raw message carries the RFC 8058 headers (``List-Unsubscribe`` with an https URL and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``) exactly as written, with a plain-text
and an HTML part.
"""

from __future__ import annotations

import base64
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from botocore.exceptions import ClientError

from optout.channels import PermanentFailure, QuotaExhausted, send_once
from optout.core import aws
from optout.core.settings import Settings

# SES answers these for a message that no retry can deliver.
# The account's 24-hour quota is used up, or SES paused the account's sending.
_QUOTA = {"LimitExceededException", "SendingPausedException", "AccountSendingPausedException"}
_PERMANENT = {"MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException"}


@dataclass(frozen=True)
class SendQuota:
    """The account's SES sending limits."""

    max_send_rate: float  # messages a second, all senders together
    max_24_hour_send: float  # messages a rolling 24 hours; inf when SES does not say


def send_quota() -> SendQuota:
    """SES's limits for this account (GetSendQuota), read here and nowhere else: the sender's
    pace and the launch check both start from them."""
    quota = aws.client("ses").get_send_quota()
    daily = float(quota.get("Max24HourSend", -1))
    return SendQuota(
        max_send_rate=float(quota.get("MaxSendRate", 1.0)),
        max_24_hour_send=math.inf if daily < 0 else daily,
    )


def can_send_from(address: str) -> bool | None:
    """Whether SES lets this account send from `address`: the address itself, or its domain,
    verified (GetIdentityVerificationAttributes, one request for both). None when SES could not
    say (no permission, throttled): unknown, never reported as a problem."""
    domain = address.rpartition("@")[2]
    try:
        found = aws.client("ses").get_identity_verification_attributes(
            Identities=[address, domain]
        )["VerificationAttributes"]
    except ClientError:
        return None
    return any(
        found.get(identity, {}).get("VerificationStatus") == "Success"
        for identity in (address, domain)
    )


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sender:
    """Whom an email comes from, when not the deployment's own parameters (OrganisationName,
    SenderAddress, SesConfigurationSet): an organisation of a coalition, with its own From and
    its own SES configuration set ("": the deployment's)."""

    name: str
    address: str
    configuration_set: str = ""


def build(settings: Settings, email: Email, sender: Sender | None = None) -> bytes:
    """The MIME message for `email`, as SES will relay it, from `sender` (None: the
    deployment's own name and address); header values with CR or LF are refused (header
    injection).

    Written out directly rather than through the standard library's `email` package, which
    takes some 1.7 ms a message; the format is the plain one every client reads: UTF-8 text
    and HTML parts in base64, non-ASCII headers as RFC 2047 encoded words.
    """
    for name, value in {"Subject": email.subject, "To": email.to, **email.headers}.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} contains a line break")
    boundary = "=_" + secrets.token_hex(12)
    name, address = (
        (sender.name, sender.address)
        if sender
        else (settings.organisation_name, settings.sender_address)
    )
    domain = address.rpartition("@")[2]
    headers = [
        ("From", formataddr((name, address), charset="utf-8")),
        ("To", email.to),
        ("Subject", _encoded_word(email.subject)),
        ("Date", formatdate(usegmt=True)),
        ("Message-ID", make_msgid(domain=domain)),
        ("MIME-Version", "1.0"),
        *((name, _encoded_word(value)) for name, value in email.headers.items()),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    lines = [f"{name}: {value}" for name, value in headers]
    for subtype, body in (("plain", email.text), ("html", email.html)):
        lines += [
            "",
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            "Content-Transfer-Encoding: base64",
            "",
            base64.encodebytes(body.encode("utf-8"))
            .decode("ascii")
            .rstrip("\n")
            .replace("\n", "\r\n"),
        ]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode("ascii")


def _encoded_word(value: str) -> str:
    """A header value: as it is if ASCII, else RFC 2047 base64 encoded words of at most 75
    characters, one per folded line, never splitting a character."""
    if value.isascii():
        return value
    words, chunk = [], ""
    for char in value:
        if len((chunk + char).encode("utf-8")) > 45:  # 45 bytes -> 60 base64 characters
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    return "\r\n ".join(
        f"=?utf-8?b?{base64.b64encode(word.encode('utf-8')).decode('ascii')}?=" for word in words
    )


def send(settings: Settings, email: Email) -> str:
    """Send `email`; returns the SES message id."""
    return send_raw(settings, email.to, build(settings, email))


def send_raw(
    settings: Settings,
    to: str,
    mime: bytes,
    tags: Mapping[str, str] | None = None,
    sender: Sender | None = None,
) -> str:
    """Send a MIME message `build` made (from the same `sender`); returns the SES message id.
    `tags` come back in SES's bounce and complaint notifications (which campaign and region a
    bounce belongs to)."""
    configuration_set = (sender and sender.configuration_set) or settings.ses_configuration_set
    request: dict[str, Any] = {
        "FromEmailAddress": sender.address if sender else settings.sender_address,
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": mime}},
    }
    if tags:
        request["EmailTags"] = [{"Name": name, "Value": value} for name, value in tags.items()]
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    try:
        return send_once(aws.send_client("sesv2").send_email, **request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        if code in _QUOTA or "Daily message quota exceeded" in message:
            raise QuotaExhausted(f"SES: {code}: {message}") from error
        if code in _PERMANENT:
            raise PermanentFailure(f"SES refused the message: {code}") from error
        raise
