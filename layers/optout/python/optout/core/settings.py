"""Configuration, read from the environment and validated: what every function needs when it
starts, and each area's settings when that area is first used.

`from_environ` checks the settings every function reads (its tables and queues, the stage, who
sends, the token and contact secrets) and fails naming each one that is missing or malformed.
The settings of one area (the SMS channel, the sending rates, the SNS topics accepted over
HTTP, the subscribe limit...) are a property of `Settings`, read and checked the first time a
function uses it, and then kept: a bad SMS setting stops what sends texts, with an error naming
it, and never the scheduler, the links or the admin API. Each variable's name, default and rule
are written once, below, where its area is read.

Every name comes from template.yaml (`Globals.Function.Environment` for what every function
reads, each function's own `Environment` for the areas it uses); the local stack and tests set
the same variables. Domain code receives a `Settings` and never reads `os.environ` itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_T = TypeVar("_T")


class SettingsError(RuntimeError):
    """A setting is missing or malformed: the function, or the part of it that uses the
    setting, cannot work."""


@dataclass(frozen=True)
class Secret:
    """Where a secret is: the ARN of a Secrets Manager secret (read through `optout.core.keys`), or
    locally the value itself (unit tests, fuzzers)."""

    arn: str = ""
    value: str = ""


@dataclass(frozen=True)
class SmsSettings:
    """How texts go out: SMS_PROVIDER "sns" (Amazon SNS) or "http" (a Twilio-compatible REST
    API, which needs the SMS_HTTP_* settings and SMS_FROM)."""

    provider: str
    http_url: str
    http_account: str
    http_token: Secret
    sender: str  # SMS_FROM (`Settings.sms_number`), which the http provider needs
    http_timeout_seconds: int


@dataclass(frozen=True)
class SendingSettings:
    """How fast the senders send, and how many reminders may reach one person."""

    # Messages a second one sender may send; 0: SES's MaxSendRate divided among the senders.
    send_rate_per_second: float
    # Texts a second all senders together may send: the origination numbers' throughput.
    sms_rate_per_second: float
    sender_concurrency: int  # how many senders run at once (template.yaml's SenderConcurrency)
    # The cap across campaigns: reminders one person may get in a day, and in seven days.
    messages_per_day: int = 1
    messages_per_week: int = 3


@dataclass(frozen=True)
class ConfirmationSettings:
    """The double opt-in: how long a confirmation link lasts and how soon one may be sent again.
    (The version of the consent text a person saw is made from the text itself:
    `optout.messages.consent`.)"""

    confirm_token_days: int
    confirm_resend_minutes: int


@dataclass(frozen=True)
class AdminSettings:
    """Who may use /admin: the admin token (none: nobody is let in) and how many wrong ones a
    network address may present in 15 minutes before it is refused."""

    token: Secret
    wrong_tokens_per_address: int
    # The zone the dashboard shows times and draws its time axes in (an IANA name).
    time_zone: str = "UTC"


@dataclass(frozen=True)
class WatchingSettings:
    """The policy watch's settings (the watcher, the notifier's change notices, the admin API)."""

    table: str
    organisers_address: str  # where changes above the threshold are emailed; "" tells no one
    retention_days: int  # how long a version no longer compared against is kept
    notify_at: float  # the score from which a change is told (`optout.watching.compare.score`)
    allow_loopback: bool  # the local stack reads its own pages; on AWS, never


@dataclass(frozen=True)
class EventsSettings:
    """Events for the organisers' own tools (the events function, the admin API)."""

    table: str
    retention_days: int  # how long an event is kept for replay, with the log and dead letters
    organisers_address: str  # told when an endpoint is paused; "" tells no one
    allow_loopback: bool  # the local stack's receivers are on 127.0.0.1; on AWS, never


@dataclass(frozen=True)
class Settings:
    """What every function reads, checked at start; each area's settings are properties, read
    from `environ` and checked when first used."""

    stage: str
    subscribers_table: str
    campaigns_table: str
    deliveries_table: str
    deliveries_ttl_days: int
    notice_queue_url: str
    fanout_queue_url: str
    send_queue_url: str
    events_queue_url: str  # outgoing events (`optout.core.events`)
    sender_address: str
    organisation_name: str
    organisation_address: str
    token_secret: Secret
    contact_secret: Secret
    # Where each area's settings are read from on first use.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def sms(self) -> SmsSettings:
        """The SMS channel's settings (the functions that send texts)."""
        read = _Reader(self.environ)
        provider = read.choice("SMS_PROVIDER", "sns", ("sns", "http"))
        http = provider == "http"
        return read.checked(
            SmsSettings(
                provider=provider,
                http_url=read.text("SMS_HTTP_URL", required=http),
                http_account=read.text("SMS_HTTP_ACCOUNT", required=http),
                http_token=read.secret(
                    "SMS_HTTP_TOKEN_ARN",
                    "OPTOUT_SMS_HTTP_TOKEN",
                    "the SMS provider's auth token",
                    required=http,
                ),
                sender=read.given("SMS_FROM", self.sms_number, required=http),
                http_timeout_seconds=read.whole_number("SMS_HTTP_TIMEOUT_SECONDS", 10),
            )
        )

    @cached_property
    def sending(self) -> SendingSettings:
        """The sending rates (the sender, and the admin API's launch check)."""
        read = _Reader(self.environ)
        return read.checked(
            SendingSettings(
                send_rate_per_second=read.rate("SEND_RATE_PER_SECOND", 0.0),
                sms_rate_per_second=read.rate("SMS_RATE_PER_SECOND", 1.0),
                sender_concurrency=read.whole_number("SENDER_CONCURRENCY", 2),
                messages_per_day=read.whole_number("MESSAGES_PER_DAY", 1),
                messages_per_week=read.whole_number("MESSAGES_PER_WEEK", 3),
            )
        )

    @cached_property
    def confirmations(self) -> ConfirmationSettings:
        """The double opt-in's settings (the notifier, and the admin API's imports)."""
        read = _Reader(self.environ)
        return read.checked(
            ConfirmationSettings(
                confirm_token_days=read.whole_number("CONFIRM_TOKEN_DAYS", 7),
                confirm_resend_minutes=read.whole_number("CONFIRM_RESEND_MINUTES", 10),
            )
        )

    @cached_property
    def admin(self) -> AdminSettings:
        """The admin API's settings."""
        read = _Reader(self.environ)
        return read.checked(
            AdminSettings(
                token=read.secret(
                    "ADMIN_TOKEN_ARN", "OPTOUT_ADMIN_TOKEN", "the admin token", required=False
                ),
                wrong_tokens_per_address=read.whole_number("WRONG_ADMIN_TOKENS_PER_ADDRESS", 10),
                time_zone=read.time_zone("DASHBOARD_TIME_ZONE", "UTC"),
            )
        )

    @cached_property
    def watching(self) -> WatchingSettings:
        """The policy watch (the watcher, the notifier and the admin API)."""
        read = _Reader(self.environ)
        threshold = read.text("CHANGE_NOTIFY_AT") or "0.3"
        try:
            notify_at = float(threshold)
        except ValueError:
            notify_at = -1.0
        if not 0.0 <= notify_at <= 1.0:
            read.problem("CHANGE_NOTIFY_AT (a score from 0 to 1, like 0.3)")
        organisers = read.text("ORGANISERS_ADDRESS")
        if organisers and "@" not in organisers:
            read.problem("ORGANISERS_ADDRESS (an email address, or empty)")
        return read.checked(
            WatchingSettings(
                table=read.text("WATCHES_TABLE", required=True),
                organisers_address=organisers,
                retention_days=read.whole_number("VERSION_RETENTION_DAYS", 365),
                notify_at=notify_at,
                # Only the local stack's stage may read 127.0.0.1: on AWS an organiser's
                # address must never reach the function's own network.
                allow_loopback=self.stage == "local",
            )
        )

    @cached_property
    def events(self) -> EventsSettings:
        """Outgoing events (the events function and the admin API)."""
        read = _Reader(self.environ)
        organisers = read.text("ORGANISERS_ADDRESS")
        if organisers and "@" not in organisers:
            read.problem("ORGANISERS_ADDRESS (an email address, or empty)")
        return read.checked(
            EventsSettings(
                table=read.text("EVENTS_TABLE", required=True),
                retention_days=read.whole_number("EVENT_RETENTION_DAYS", 30),
                organisers_address=organisers,
                # As for the watch: only the local stack's stage may post to 127.0.0.1.
                allow_loopback=self.stage == "local",
            )
        )

    @cached_property
    def webhook_secret(self) -> Secret:
        """The Standard Webhooks secret policy-change deliveries are signed with (the webhooks
        function)."""
        read = _Reader(self.environ)
        return read.checked(
            read.secret("WEBHOOK_SECRET_ARN", "OPTOUT_WEBHOOK_SECRET", "the webhook signing secret")
        )

    @cached_property
    def public_base_url(self) -> str:
        """Where links in messages start (the functions that make links from a request).
        Empty: the URL each request came in on."""
        read = _Reader(self.environ)
        url = read.text("PUBLIC_BASE_URL")
        if url and not url.startswith(("https://", "http://127.0.0.1")):
            read.problem("PUBLIC_BASE_URL (must start with https://)")
        return read.checked(url.rstrip("/"))

    @cached_property
    def sms_number(self) -> str:
        """SMS_FROM: the number texts come from and people text STOP, HELP and START to (the
        http provider sends from it; the subscribe page tells a number that texted STOP to text
        START to it). Empty: the page says "our number"."""
        return _Reader(self.environ).text("SMS_FROM")

    @cached_property
    def privacy_notice_url(self) -> str:
        """PRIVACY_NOTICE_URL: the organisation's privacy notice, which the subscribe form links
        to and each subscription records as part of its consent (the subscriptions function).
        Empty: the form shows no such link, and records that it showed none."""
        read = _Reader(self.environ)
        url = read.text("PRIVACY_NOTICE_URL")
        if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            read.problem("PRIVACY_NOTICE_URL (must start with https://)")
        return read.checked(url)

    @cached_property
    def ses_configuration_set(self) -> str:
        """The SES configuration set emails are sent with (the functions that send email)."""
        return _Reader(self.environ).text("SES_CONFIGURATION_SET")

    @cached_property
    def subscribes_per_hour_per_address(self) -> int:
        """Subscribe requests one network address may make in an hour (the subscribe API)."""
        read = _Reader(self.environ)
        return read.checked(read.whole_number("SUBSCRIBES_PER_HOUR_PER_ADDRESS", 20))

    @cached_property
    def support_contact(self) -> str:
        """Where a HELP text sends people, an address or a page (the feedback functions);
        empty: the sender address."""
        return _Reader(self.environ).text("SUPPORT_CONTACT")

    @cached_property
    def accepted_sns_topic_arns(self) -> tuple[str, ...]:
        """The topics whose messages the SNS-over-HTTP endpoint accepts (template.yaml
        resolves the default: the stack's own feedback topics). Empty: it accepts none."""
        read = _Reader(self.environ)
        raw = read.text("ACCEPTED_SNS_TOPIC_ARNS")
        topics = tuple(arn.strip() for arn in raw.split(",") if arn.strip())
        for arn in topics:
            if not _SNS_TOPIC_ARN.fullmatch(arn):
                read.problem(f"ACCEPTED_SNS_TOPIC_ARNS (not an SNS topic ARN: {arn!r})")
        return read.checked(topics)


_SNS_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}")


def from_environ(environ: Mapping[str, str]) -> Settings:
    """Check what every function reads; the error names every missing or malformed variable.
    Each area's settings are read from `environ` later, when first used."""
    read = _Reader(environ)
    return read.checked(
        Settings(
            stage=read.text("STAGE", required=True),
            subscribers_table=read.text("SUBSCRIBERS_TABLE", required=True),
            campaigns_table=read.text("CAMPAIGNS_TABLE", required=True),
            deliveries_table=read.text("DELIVERIES_TABLE", required=True),
            deliveries_ttl_days=read.whole_number("DELIVERIES_TTL_DAYS", 400),
            notice_queue_url=read.text("NOTICE_QUEUE_URL", required=True),
            fanout_queue_url=read.text("FANOUT_QUEUE_URL", required=True),
            send_queue_url=read.text("SEND_QUEUE_URL", required=True),
            events_queue_url=read.text("EVENTS_QUEUE_URL", required=True),
            sender_address=read.text("SENDER_ADDRESS", required=True),
            organisation_name=read.text("ORGANISATION_NAME", required=True),
            organisation_address=read.text("ORGANISATION_ADDRESS", required=True),
            token_secret=read.secret(
                "TOKEN_SECRET_ARN", "OPTOUT_TOKEN_SECRET", "the token signing secret"
            ),
            contact_secret=read.secret(
                "CONTACT_SECRET_ARN", "OPTOUT_CONTACT_SECRET", "the contact hashing secret"
            ),
            environ=environ,
        )
    )


@lru_cache(maxsize=1)
def get() -> Settings:
    """The settings of this execution environment, read on first use."""
    # A copy: what the areas read later is the environment the function started with.
    return from_environ(dict(os.environ))


class _Reader:
    """Reads variables with their rules and collects every problem, so that one error names
    them all."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._problems: list[str] = []

    def text(self, name: str, default: str = "", *, required: bool = False) -> str:
        value = self._environ.get(name, default).strip()
        if required and not value:
            self._problems.append(name)
        return value

    def given(self, name: str, value: str, *, required: bool) -> str:
        """`value`, read from `name` already (by another area), which this area may require."""
        if required and not value:
            self._problems.append(name)
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            self._problems.append(f"{name} ({' or '.join(allowed)})")
        return value

    def time_zone(self, name: str, default: str) -> str:
        value = self.text(name, default) or default
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError):
            self._problems.append(
                f"{name} (an IANA time zone such as Europe/Brussels, not {value!r})"
            )
            return default
        return value

    def whole_number(self, name: str, default: int) -> int:
        raw = self.text(name, str(default))
        if not raw.isdigit() or int(raw) <= 0:
            self._problems.append(f"{name} (a positive whole number, not {raw!r})")
            return default
        return int(raw)

    def rate(self, name: str, default: float) -> float:
        raw = self.text(name, str(default))
        try:
            rate = float(raw)
        except ValueError:
            rate = -1.0
        if rate < 0:
            self._problems.append(f"{name} (a number of messages a second, not {raw!r})")
            return default
        return rate

    def secret(self, arn: str, value: str, what: str, *, required: bool = True) -> Secret:
        secret = Secret(self.text(arn), self.text(value))
        if required and not (secret.arn or secret.value):
            self._problems.append(f"{arn} or {value} ({what})")
        return secret

    def problem(self, problem: str) -> None:
        self._problems.append(problem)

    def checked(self, value: _T) -> _T:
        """`value`, if every variable read for it was well formed."""
        if self._problems:
            raise SettingsError("missing or invalid settings: " + ", ".join(self._problems))
        return value
