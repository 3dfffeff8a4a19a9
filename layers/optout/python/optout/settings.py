"""Configuration, read from the environment once per execution environment and validated.

Every name comes from template.yaml (`Globals.Function.Environment`, or the one function's own
`Environment` for a setting only it uses); the local stack and tests set the same variables. Domain code receives a `Settings` and never reads `os.environ` itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache


class SettingsError(RuntimeError):
    """A setting is missing or malformed: the function cannot start."""


@dataclass(frozen=True)
class Settings:
    stage: str
    subscribers_table: str
    campaigns_table: str
    deliveries_table: str
    notice_queue_url: str
    fanout_queue_url: str
    send_queue_url: str
    sender_address: str
    organisation_name: str
    organisation_address: str
    ses_configuration_set: str
    # Where links in messages point. Empty: derived from the request that caused the message.
    public_base_url: str
    # Secrets: the ARN in AWS (read through Powertools parameters), or the value itself locally.
    token_secret_arn: str
    token_secret: str
    contact_secret_arn: str
    contact_secret: str
    webhook_secret_arn: str
    webhook_secret: str
    admin_token_arn: str
    admin_token: str
    confirm_token_days: int
    confirm_resend_minutes: int
    deliveries_ttl_days: int
    consent_text_version: str
    support_contact: str  # where HELP sends people: an address or a page
    # Messages a second one sender may send; 0: SES's MaxSendRate divided among the senders.
    send_rate_per_second: float
    # Texts a second all senders together may send: the origination numbers' throughput.
    sms_rate_per_second: float
    subscribes_per_hour_per_address: int  # subscribe requests from one network address
    wrong_admin_tokens_per_address: int  # in 15 minutes, before that address is refused
    sender_concurrency: int
    # SMS: "sns" (Amazon SNS), or "http" (a Twilio-compatible REST API).
    sms_provider: str
    sms_http_url: str
    sms_http_account: str
    sms_http_token: str
    sms_http_token_arn: str
    sms_from: str
    sms_http_timeout_seconds: int
    # Topics whose messages the SNS-over-HTTP endpoint accepts (template.yaml resolves the
    # default: the stack's own feedback topics). Empty: it accepts none.
    accepted_sns_topic_arns: tuple[str, ...]


_SNS_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}")

_REQUIRED = {
    "stage": "STAGE",
    "subscribers_table": "SUBSCRIBERS_TABLE",
    "campaigns_table": "CAMPAIGNS_TABLE",
    "deliveries_table": "DELIVERIES_TABLE",
    "notice_queue_url": "NOTICE_QUEUE_URL",
    "fanout_queue_url": "FANOUT_QUEUE_URL",
    "send_queue_url": "SEND_QUEUE_URL",
    "sender_address": "SENDER_ADDRESS",
    "organisation_name": "ORGANISATION_NAME",
    "organisation_address": "ORGANISATION_ADDRESS",
}
_OPTIONAL = {
    "ses_configuration_set": ("SES_CONFIGURATION_SET", ""),
    "public_base_url": ("PUBLIC_BASE_URL", ""),
    "token_secret_arn": ("TOKEN_SECRET_ARN", ""),
    "token_secret": ("OPTOUT_TOKEN_SECRET", ""),
    "contact_secret_arn": ("CONTACT_SECRET_ARN", ""),
    "contact_secret": ("OPTOUT_CONTACT_SECRET", ""),
    # Only the webhooks function needs it, and says so when it is missing (keys.webhook_keys).
    "webhook_secret_arn": ("WEBHOOK_SECRET_ARN", ""),
    "webhook_secret": ("OPTOUT_WEBHOOK_SECRET", ""),
    # Only the admin function needs it, and refuses everyone when it is missing.
    "admin_token_arn": ("ADMIN_TOKEN_ARN", ""),
    "admin_token": ("OPTOUT_ADMIN_TOKEN", ""),
    "consent_text_version": ("CONSENT_TEXT_VERSION", "subscribe-form-v1"),
    "support_contact": ("SUPPORT_CONTACT", ""),
    "sms_provider": ("SMS_PROVIDER", "sns"),
    "sms_http_url": ("SMS_HTTP_URL", ""),
    "sms_http_account": ("SMS_HTTP_ACCOUNT", ""),
    "sms_http_token": ("OPTOUT_SMS_HTTP_TOKEN", ""),
    "sms_http_token_arn": ("SMS_HTTP_TOKEN_ARN", ""),
    "sms_from": ("SMS_FROM", ""),
}
_RATES = {
    "send_rate_per_second": ("SEND_RATE_PER_SECOND", 0.0),
    "sms_rate_per_second": ("SMS_RATE_PER_SECOND", 1.0),
}
_NUMBERS = {
    "sender_concurrency": ("SENDER_CONCURRENCY", 2),
    "subscribes_per_hour_per_address": ("SUBSCRIBES_PER_HOUR_PER_ADDRESS", 20),
    "wrong_admin_tokens_per_address": ("WRONG_ADMIN_TOKENS_PER_ADDRESS", 10),
    "sms_http_timeout_seconds": ("SMS_HTTP_TIMEOUT_SECONDS", 10),
    "confirm_token_days": ("CONFIRM_TOKEN_DAYS", 7),
    "confirm_resend_minutes": ("CONFIRM_RESEND_MINUTES", 10),
    "deliveries_ttl_days": ("DELIVERIES_TTL_DAYS", 400),
}


def from_environ(environ: Mapping[str, str]) -> Settings:
    """Build and validate settings; the error names every missing or malformed variable."""
    problems = [name for name in _REQUIRED.values() if not environ.get(name, "").strip()]
    values: dict[str, object] = {
        key: environ.get(name, "").strip() for key, name in _REQUIRED.items()
    }
    for key, (name, default) in _OPTIONAL.items():
        values[key] = environ.get(name, default).strip()
    for key, (name, number) in _NUMBERS.items():
        raw = environ.get(name, str(number)).strip()
        if not raw.isdigit() or int(raw) <= 0:
            problems.append(f"{name} (a positive whole number, not {raw!r})")
        else:
            values[key] = int(raw)
    for key, (name, rate) in _RATES.items():
        raw = environ.get(name, str(rate)).strip()
        try:
            rate_value = float(raw)
            if rate_value < 0:
                raise ValueError
            values[key] = rate_value
        except ValueError:
            problems.append(f"{name} (a number of messages a second, not {raw!r})")
    for arn, value, label in (
        ("TOKEN_SECRET_ARN", "OPTOUT_TOKEN_SECRET", "token signing"),
        ("CONTACT_SECRET_ARN", "OPTOUT_CONTACT_SECRET", "contact hashing"),
    ):
        if not environ.get(arn) and not environ.get(value):
            problems.append(f"{arn} or {value} (the {label} secret)")
    base_url = str(values["public_base_url"])
    if base_url and not base_url.startswith(("https://", "http://127.0.0.1")):
        problems.append("PUBLIC_BASE_URL (must start with https://)")
    if values["sms_provider"] not in ("sns", "http"):
        problems.append("SMS_PROVIDER (sns or http)")
    elif values["sms_provider"] == "http":
        problems += [
            name
            for name, key in (
                ("SMS_HTTP_URL", "sms_http_url"),
                ("SMS_HTTP_ACCOUNT", "sms_http_account"),
                ("SMS_FROM", "sms_from"),
            )
            if not values[key]
        ]
        if not values["sms_http_token"] and not values["sms_http_token_arn"]:
            problems.append(
                "SMS_HTTP_TOKEN_ARN or OPTOUT_SMS_HTTP_TOKEN (the SMS provider's auth token)"
            )
    topics = tuple(
        arn.strip() for arn in environ.get("ACCEPTED_SNS_TOPIC_ARNS", "").split(",") if arn.strip()
    )
    problems += [
        f"ACCEPTED_SNS_TOPIC_ARNS (not an SNS topic ARN: {arn!r})"
        for arn in topics
        if not _SNS_TOPIC_ARN.fullmatch(arn)
    ]
    values["accepted_sns_topic_arns"] = topics
    if problems:
        raise SettingsError("missing or invalid settings: " + ", ".join(problems))
    values["public_base_url"] = str(values["public_base_url"]).rstrip("/")
    return Settings(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get() -> Settings:
    """The settings of this execution environment, read on first use."""
    return from_environ(os.environ)
