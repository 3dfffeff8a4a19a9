"""Double opt-in: a subscribe request is queued, and the notifier makes a pending subscriber of
it and sends a confirmation; only a POST to the confirmation link makes them active.

The answer to a subscribe request never depends on whether the contact was known, so the form
can't be used to find out who is subscribed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from optout.core import events, keys, queues, tokens
from optout.core.clock import iso, parse_iso
from optout.core.errors import InvalidInput, NotFound, OptoutError, TokenInvalid, TooManyRequests
from optout.core.events import EventType
from optout.core.jobs import NoticeJob, SubscribeJob
from optout.core.observability import MetricUnit, metrics
from optout.core.settings import Settings
from optout.domain import consent as evidence
from optout.domain import contacts, event_data, locales, regions
from optout.domain.models import Consent, Status, Subscriber
from optout.domain.organisations import (
    DEFAULT,
    InvalidOrganisation,
    Organisation,
    check_id,
    memberships_of,
)
from optout.links import privacy, verified
from optout.messages import consent, render
from optout.sending import catch_up
from optout.store import (
    DeliveryStore,
    OrganisationStore,
    SubscriberStore,
    layout,
    seconds_left_in_window,
)

T = TypeVar("T")
_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_PLATFORMS = 20
ALL_PLATFORMS = ("all", "*")


class ServiceUnavailable(OptoutError):
    status = 503


@dataclass(frozen=True)
class SubscribeRequest:
    """A validated subscribe request."""

    contact: contacts.Contact
    region: regions.Region
    locale: str
    timezone: str
    platforms: tuple[str, ...]


def parse_request(fields: Mapping[str, object]) -> SubscribeRequest:
    """Validate a form or JSON body; the error lists every field that is wrong, not just one."""
    problems: dict[str, str] = {}

    def check(parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except InvalidInput as error:
            problems.update(error.problems)
            return None

    region = check(lambda: regions.resolve(_text(fields, "region")))
    contact = check(
        lambda: contacts.parse(
            fields.get("contact"),
            channel=_text(fields, "channel") or None,
            country=region.code if region else None,
            allowed_countries=regions.countries(region) if region else None,
        )
    )
    locale = check(lambda: locales.resolve(_text(fields, "locale")))
    timezone = check(lambda: _timezone(_text(fields, "timezone"), region))
    platforms = check(lambda: _platforms(fields.get("platforms")))
    if _test_region_for_a_person(region, contact):
        problems["region"] = regions.unknown_region(_text(fields, "region"))
    if problems or not (contact and region and locale and timezone and platforms is not None):
        raise InvalidInput(problems)
    return SubscribeRequest(contact, region, locale, timezone, platforms)


def _test_region_for_a_person(
    region: regions.Region | None, contact: contacts.Contact | None
) -> bool:
    """The test region is for AWS's test recipients only: no person is ever sent to it."""
    return bool(
        region
        and region.code == regions.TEST_REGION
        and contact
        and not contacts.is_test_recipient(contact.address)
    )


def organisation_of_form(settings: Settings, organisation_id: str) -> Organisation | None:
    """The organisation whose subscribe form a path names (``/o/<id>/subscribe``), None for
    the default one (whose form is /subscribe too); NotFound for an id no organisation has."""
    if organisation_id == DEFAULT:
        return None
    try:
        found = OrganisationStore(settings).get(check_id(organisation_id))
    except InvalidOrganisation:
        found = None
    if found is None:
        raise NotFound("there is no such organisation's subscribe form here")
    return found


def privacy_notice_of(settings: Settings, organisation: Organisation | None) -> str:
    """The privacy notice an organisation's form links to: its own, or the deployment's."""
    own = organisation.privacy_notice_url if organisation else ""
    return own or settings.privacy_notice_url


def subscribe(
    settings: Settings,
    request: SubscribeRequest,
    *,
    source: str,
    base_url: str,
    now: datetime,
    address: str = "",
    shown_in: str = "",
    organisation: Organisation | None = None,
) -> None:
    """Queue the request for the notifier (`record_request`), after the limit per network
    address, and return (`shown_in`: the language the form's consent wording was shown in, if
    not the reminders' own, as when the page is read in one language and the reminders chosen
    in another; the notifier records that wording's version and hash, and the privacy notice
    the form linked to): the caller answers at once, having done the same work whether or not
    the contact is known, so the time of the answer tells nobody who is subscribed (found by an
    attacker: 52 ms for a new contact, 29 ms for a known one; with the write still here and the
    same work on both paths, a known contact was still answered about 5 ms sooner).
    `organisation`: whose form it was (None: the default organisation's, /subscribe)."""
    if address:
        # One address may not make the bot write to the world; kept as a keyed hash, not the address.
        key = layout.rate_limit("subscribe", keys.contact_id(settings, "address", address))
        window = timedelta(hours=1)
        if (
            DeliveryStore(settings).count_in_window(key, window, now)
            > settings.subscribes_per_hour_per_address
        ):
            raise TooManyRequests(
                "too many subscriptions from your network in the last hour; try again later",
                retry_after=seconds_left_in_window(window, now),
            )
    metrics.add_metric(name="SubscribeRequested", unit=MetricUnit.Count, value=1)
    job = SubscribeJob(
        channel=request.contact.channel,
        contact=request.contact.address,
        region=request.region.code,
        locale=request.locale,
        timezone=request.timezone,
        platforms=request.platforms,
        source=source,
        requested_at=iso(now),
        base_url=base_url,
        wording_locale=shown_in or request.locale,
        privacy_notice_url=privacy_notice_of(settings, organisation),
        organisation=organisation.organisation_id if organisation else "",
    )
    try:
        queues.enqueue(settings.notice_queue_url, job)
    except Exception as error:
        raise ServiceUnavailable(
            "we could not send your confirmation just now; try again shortly"
        ) from error


def record_request(settings: Settings, job: SubscribeJob) -> NoticeJob:
    """The notifier's half of a subscribe request: record the pending subscriber and reserve
    a confirmation, unless one went out in the last minutes or the contact is active or
    suppressed; the confirmation job, which `confirmations.send_confirmation` sends only if this
    request reserved it. Run again (SQS delivers a job twice, or retries it), it changes
    nothing and returns the same job, so a confirmation reserved but not sent still goes."""
    requested_at = parse_iso(job.requested_at)
    request = SubscribeRequest(
        contact=contacts.Contact(job.channel, job.contact),  # type: ignore[arg-type]
        region=regions.resolve(job.region),
        locale=job.locale,
        timezone=job.timezone,
        platforms=job.platforms,
    )
    subscriber = pending_subscriber(
        settings,
        request,
        source=job.source,
        now=requested_at,
        wording=consent.form_wording(job.wording_locale) if job.wording_locale else None,
        privacy_notice_url=job.privacy_notice_url,
    )
    resend_after = timedelta(minutes=settings.confirmations.confirm_resend_minutes)
    organisation = job.organisation or DEFAULT
    SubscriberStore(settings).request_confirmation(
        subscriber, resend_after, requested_at, organisation
    )
    return confirmation_job(
        subscriber.subscriber_id, base_url=job.base_url, now=requested_at, organisation=organisation
    )


def pending_subscriber(
    settings: Settings,
    request: SubscribeRequest,
    *,
    source: str,
    now: datetime,
    wording: consent.Wording | None = None,
    privacy_notice_url: str = "",
) -> Subscriber:
    """The record of a subscribe request, waiting for its confirmation link to be pressed, with
    the evidence of its consent: the form's `wording` the person agreed to and the privacy
    notice it linked to (None: they saw no form of ours, as someone imported without proof,
    who agrees by pressing the confirmation link alone)."""
    return Subscriber(
        subscriber_id=keys.contact_id(settings, request.contact.channel, request.contact.address),
        channel=request.contact.channel,
        contact=request.contact.address,
        region=request.region.code,
        home_group=request.region.group,
        locale=request.locale,
        timezone=request.timezone,
        platforms=request.platforms,
        status=Status.PENDING,
        consent=Consent(
            requested_at=iso(now),
            form_version=wording.version if wording else "",
            source=source,
            kind=evidence.kind_of(source) or "",
            wording_sha256=wording.sha256 if wording else "",
            locale=wording.locale if wording else "",
            privacy_notice_url=privacy_notice_url if wording else "",
        ),
        created_at=iso(now),
        confirmation_sent_at=iso(now),
    )


def confirmation_job(
    subscriber_id: str, *, base_url: str, now: datetime, organisation: str = DEFAULT
) -> NoticeJob:
    """The notice-queue job that sends a pending subscriber their confirmation link (for
    their membership of `organisation`)."""
    return NoticeJob(
        subscriber_id=subscriber_id,
        requested_at=iso(now),
        base_url=base_url,
        organisation="" if organisation == DEFAULT else organisation,
    )


def confirmation_lifetime(settings: Settings) -> timedelta:
    """How long a confirmation link works: CONFIRM_TOKEN_DAYS, the operator's setting."""
    return timedelta(days=settings.confirmations.confirm_token_days)


def confirmation_token(
    settings: Settings, subscriber_id: str, now: datetime, organisation: str = DEFAULT
) -> str:
    """The token of a subscriber's confirmation link, valid for `confirmation_lifetime`: it
    names the organisation whose membership it confirms, unless that is the default one (so
    that links minted before organisations, which name none, are the default one's)."""
    expires_at = now + confirmation_lifetime(settings)
    parts = [subscriber_id] if organisation == DEFAULT else [subscriber_id, organisation]
    return tokens.mint(keys.token_keyring(settings), tokens.Purpose.CONFIRM, parts, expires_at)


def check_confirmation(settings: Settings, token: str, now: datetime) -> str:
    """The subscriber id a confirmation token names; raises a `TokenError` if it is not valid."""
    return confirmation_of(settings, token, now)[0]


def confirmation_of(settings: Settings, token: str, now: datetime) -> tuple[str, str]:
    """The subscriber id and organisation a confirmation token names; raises a `TokenError`
    if it is not valid."""
    subscriber_id, *organisation = _parts(settings, token, now)
    return subscriber_id, organisation[0] if organisation else DEFAULT


def confirmation_locale(settings: Settings, token: str, now: datetime) -> str:
    """The language of the person a valid confirmation link names, for the page it opens."""
    subscriber = SubscriberStore(settings).get(check_confirmation(settings, token, now))
    return subscriber.locale if subscriber else locales.DEFAULT_LOCALE


def confirm(settings: Settings, token: str, now: datetime) -> Subscriber:
    """Activate the person's membership the token names (idempotent: pressed again, the link
    changes nothing, and tells the organisers' tools nothing new)."""
    subscriber_id, organisation = confirmation_of(settings, token, now)
    activated = SubscriberStore(settings).activate(subscriber_id, now, organisation)
    if activated is None:
        raise NotFound("there is no pending subscription for this link; subscribe again")
    subscriber, first = activated
    metrics.add_metric(name="SubscriptionConfirmed", unit=MetricUnit.Count, value=1)
    if first:  # the organisers' tools are told of the membership once
        joined_at = next(
            m.joined_at for m in memberships_of(subscriber) if m.organisation == organisation
        )
        events.emit(
            settings,
            EventType.SUBSCRIBER_CONFIRMED,
            event_data.subscriber_confirmed(
                subscriber, event_data.CONFIRMED, joined_at, organisations=(organisation,)
            ),
            now,
            key=event_data.key(subscriber_id, joined_at),
        )
    # Late joiners get the latest reminder (the sender keeps to the campaigns of theirs).
    catch_up.request(settings, [subscriber_id], now)
    return subscriber


# The answer to every subscribe request, known contact or not: it tells nobody which it was.
PENDING_ANSWER = {
    "status": "pending",
    "message": "If this contact can receive reminders, a confirmation is on its way.",
}


def subscribed_page_context(settings: Settings) -> dict[str, str]:
    """The page after a subscribe request, the same for everyone: the number a phone that
    texted STOP texts START to, for its confirmation to reach it."""
    return {"sms_number": settings.sms_number}


def confirm_page_context(settings: Settings, token: str, now: datetime) -> dict[str, str]:
    """The page a confirmation link opens (a button, so that a mail scanner confirms no one):
    whose reminders it confirms."""
    _subscriber_id, organisation = confirmation_of(settings, token, now)
    return {"organisation": OrganisationStore(settings).name_of(organisation)}


def confirmed_page_context(
    settings: Settings, subscriber: Subscriber, base_url: str, now: datetime
) -> dict[str, str]:
    """The page that says the subscription is active: whose, where, and their own data's link."""
    return {
        "privacy_url": privacy.privacy_link(settings, subscriber.subscriber_id, base_url, now),
        "contact": subscriber.masked_contact,
        "channel": subscriber.channel,
        "region_name": render.translate(subscriber.locale, subscriber.region_name),
    }


def _parts(settings: Settings, token: str, now: datetime) -> tuple[str, ...]:
    parts = tokens.verify(keys.token_keyring(settings), token, tokens.Purpose.CONFIRM, now)
    if len(parts) not in (1, 2):
        raise TokenInvalid("this link is not one of ours")
    verified.not_ended_by_erasure(
        settings, parts[0], tokens.issued_at(token, confirmation_lifetime(settings))
    )
    return parts


def _text(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput({name: "must be text"})
    return value.strip()


def _timezone(name: str, region: regions.Region | None) -> str:
    if not name:
        return regions.default_timezone(region) if region else "UTC"
    try:
        ZoneInfo(name)
    # OSError: a folder of the zone database ("America") or a name too long for a file name.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            {"timezone": f"unknown time zone {name!r}; use an IANA name like Europe/Berlin"}
        ) from None
    return name


def _platforms(value: object) -> tuple[str, ...]:
    """Platform slugs ("linkedin"); empty, "all" or "*" mean every platform."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise InvalidInput({"platforms": 'give a list of platform names, like ["linkedin"]'})
    slugs = sorted({item.strip().lower() for item in items if item.strip()})
    if any(slug in ALL_PLATFORMS for slug in slugs):
        return ()
    bad = [slug for slug in slugs if not _PLATFORM.match(slug)]
    if bad or len(slugs) > MAX_PLATFORMS:
        raise InvalidInput(
            {"platforms": f"at most {MAX_PLATFORMS} names of lower-case letters, digits and dashes"}
        )
    return tuple(slugs)
