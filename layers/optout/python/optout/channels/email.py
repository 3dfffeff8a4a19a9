"""Email through SES v2, as a raw MIME message so that every header is ours to set.

A raw message carries the RFC 8058 headers (``List-Unsubscribe`` with an https URL and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``) exactly as written, with a plain-text
and an HTML part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from botocore.exceptions import ClientError

from optout import aws
from optout.channels import PermanentFailure, QuotaExhausted, send_once
from optout.settings import Settings

# SES answers these for a message that no retry can deliver.
# The account's 24-hour quota is used up, or SES paused the account's sending.
_QUOTA = {"LimitExceededException", "SendingPausedException", "AccountSendingPausedException"}
_PERMANENT = {"MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException"}


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    headers: Mapping[str, str] = field(default_factory=dict)


def build(settings: Settings, email: Email) -> EmailMessage:
    """The MIME message for `email`; header values with CR or LF are refused (injection)."""
    for name, value in {"Subject": email.subject, "To": email.to, **email.headers}.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} contains a line break")
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(
        display_name=settings.organisation_name, addr_spec=settings.sender_address
    )
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.sender_address.rpartition("@")[2])
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def send(settings: Settings, email: Email) -> str:
    """Send `email`; returns the SES message id."""
    return send_raw(settings, email.to, build(settings, email).as_bytes())


def send_raw(settings: Settings, to: str, mime: bytes) -> str:
    """Send a MIME message `build` made; returns the SES message id."""
    request = {
        "FromEmailAddress": settings.sender_address,
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": mime}},
    }
    if settings.ses_configuration_set:
        request["ConfigurationSetName"] = settings.ses_configuration_set
    try:
        response = send_once(aws.send_client("sesv2").send_email, **request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        if code in _QUOTA or "Daily message quota exceeded" in message:
            raise QuotaExhausted(f"SES: {code}: {message}") from error
        if code in _PERMANENT:
            raise PermanentFailure(f"SES refused the message: {code}") from error
        raise
    return str(response["MessageId"])
