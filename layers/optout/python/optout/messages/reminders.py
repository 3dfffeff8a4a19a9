"""A reminder as one subscriber reads it: their language, their time zone, their own links.

Links carry signed tokens, never contact data: the setting link goes through ``/r/`` (a click
is recorded, then a redirect to the destination stored with the campaign), "I've switched it
off" through ``/done/``, and every email offers a one-click unsubscribe (RFC 8058) in its
headers and its footer, and beside it a link to the person's own data (``/privacy/``).

In a coalition a message comes from the organisation it is attributed to
(`optout.domain.organisations.attributed_to`): its name, postal address and support contact
in the footer, and its id on the done and unsubscribe links (so that a conversion is counted
under it, and an unsubscribe ends its messages). A message of the default organisation reads
and links as it did before coalitions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from optout.channels.email import Email
from optout.channels.email import build as build_email
from optout.channels.sms import Sms, plain, segments
from optout.core import keys, tokens
from optout.core.clock import iso, parse_iso
from optout.core.settings import Settings
from optout.domain import plan
from optout.domain.ab import ABTest, Variant
from optout.domain.locales import SUPPORTED_LOCALES
from optout.domain.models import (
    DEFAULT_ORGANISATION,
    Audience,
    Campaign,
    Consent,
    Reminder,
    ReminderState,
    Status,
    Subscriber,
)
from optout.domain.organisations import Organisation
from optout.domain.policy import platform_name
from optout.messages import identity, render
from optout.messages.render import RenderError

MAX_SMS_SEGMENTS = 2
DEADLINE_MOVED = "deadline_moved"  # the templates of a deadline notice ("the deadline moved")
GOOD_NEWS = "good_news"  # those of the notice that a withdrawn change needs nothing done


@dataclass(frozen=True)
class Links:
    setting: str
    done: str
    unsubscribe: str
    privacy: str = ""  # emails: the person's own data, to see or erase (texts have no room)
    short: str = ""  # texts: the done page behind a short code (/s/...), so a text stays short


def short_code(settings: Settings, campaign_id: str, region: str, subscriber_id: str) -> str:
    """The short code of a subscriber's done link in a campaign: keyed, so nobody can guess
    another's, and the same for every text of the campaign, so it is stored once."""
    keyring = keys.token_keyring(settings)
    message = f"short:{campaign_id}:{region}:{subscriber_id}".encode()
    digest = hmac.new(keyring.keys[keyring.current], message, hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode("ascii").lower()


def links(
    settings: Settings,
    campaign: Campaign,
    reminder: Reminder,
    subscriber_id: str,
    now: datetime,
    organisation: str = DEFAULT_ORGANISATION,
    *,
    named: bool = False,
) -> Links:
    """The subscriber's own tracked links for this reminder, which comes from `organisation`.
    `named`: the person belongs to organisations (has memberships), so their links name the
    default organisation too, and its unsubscribe ends that one only."""
    keyring = keys.token_keyring(settings)
    base = campaign.base_url
    # The organisation rides last on the done and unsubscribe links; none: the default one's,
    # for someone of it alone (every link minted before coalitions, and every link of a
    # deployment that serves one), whose unsubscribe ends everything, as it always did.
    own = (organisation,) if named or organisation != DEFAULT_ORGANISATION else ()

    def mint(purpose: tokens.Purpose, *parts: str) -> str:
        return tokens.mint(keyring, purpose, parts, now + tokens.LIFETIMES[purpose])

    return Links(
        setting=f"{base}/r/{mint(tokens.Purpose.CLICK, campaign.campaign_id, reminder.reminder_id, subscriber_id, 'setting')}",
        # The reminder rides on the done link, so that a conversion is counted for the
        # reminder whose link the person pressed ("which reminder made people act").
        done=f"{base}/done/{mint(tokens.Purpose.DONE, campaign.campaign_id, reminder.region, subscriber_id, reminder.reminder_id, *own)}",
        # Campaign and region say where an unsubscribe is counted; the subscriber is what ends.
        unsubscribe=f"{base}/unsubscribe/{mint(tokens.Purpose.UNSUBSCRIBE, subscriber_id, campaign.campaign_id, reminder.region, *own)}",
        privacy=f"{base}/privacy/{mint(tokens.Purpose.PRIVACY, subscriber_id)}",
        short=f"{base}/s/{short_code(settings, campaign.campaign_id, reminder.region, subscriber_id)}",
    )


def context(
    settings: Settings,
    campaign: Campaign,
    reminder: Reminder,
    subscriber: Subscriber,
    link: Links,
    now: datetime,
    variant: Variant | None = None,
    organisation: Organisation | None = None,
) -> dict[str, Any]:
    """Everything the reminder templates use, in the subscriber's language and zone, as
    `organisation` sends it (None: the default organisation, the deployment's own parameters).

    A `variant` of an A/B test (`optout.domain.ab`) gives the subject (a text's first words)
    and the opening text (in place of the summary), rendered from the organiser's templates
    with the same values, in the subscriber's language or as the templates fall back.

    The time left is the true one at sending, rounded as people say it (13 days and 15 hours
    is "2 weeks"), so that a reminder that goes out late never overstates it; the deadline is
    the region's as the campaign has it now, so that a reminder sent after the deadline moved
    (a late joiner's, a text held over the night) tells the date that holds."""
    # Deferred, as Jinja2 and Babel are in `optout.messages.render`: functions that import this module
    # for its links or checks (the admin API, the scheduler's template check) start without it.
    from babel.dates import format_date, format_time, format_timedelta, get_timezone_name

    language = render.babel_locale(subscriber.locale)
    zone = subscriber.zone
    deadline_at = parse_iso(campaign.regions.get(reminder.region) or reminder.deadline)
    deadline = deadline_at.astimezone(zone)
    text = campaign.policy.in_language(subscriber.locale)
    left = max(deadline_at - now, timedelta(days=1))
    values: dict[str, Any] = {
        # Which templates: messages/reminder/ for campaigns, messages/announcement/ for ad-hoc
        # sends (optout.campaigns.ad_hoc_sends), messages/deadline_moved/ for a deadline notice,
        # messages/good_news/ for the good news of a withdrawn change, messages/check_again/
        # for "check it again" after a settings page changed (`optout.watching.follow_up`).
        "template": _template(campaign, reminder),
        "platform": platform_name(campaign.platform),
        "has_setting_link": bool(campaign.policy.setting_url),
        **identity.of(settings, organisation).footer,
        "kind": reminder.kind,
        "title": text.title,
        "short_title": text.short_title,
        "summary": text.summary,
        "steps": list(text.steps),
        "time_left": format_timedelta(left, granularity="day", locale=language),
        "deadline_date": format_date(deadline, format="long", locale=language),
        "deadline_time": format_time(deadline, format="short", locale=language),
        "deadline_zone": get_timezone_name(deadline, width="long", locale=language),
        "setting_url": link.setting,
        "done_url": link.done,
        "unsubscribe_url": link.unsubscribe,
        "privacy_url": link.privacy,
        "variant_subject": "",
    }
    if variant is not None:
        words = variant.in_language(subscriber.locale)
        if words.opening:
            values["summary"] = render.snippet(words.opening, values, subscriber.locale)
        if words.subject:
            values["variant_subject"] = render.snippet(words.subject, values, subscriber.locale)
    return values


def _template(campaign: Campaign, reminder: Reminder) -> str:
    if not reminder.notice:
        return campaign.message
    return GOOD_NEWS if reminder.kind == plan.GOOD_NEWS else DEADLINE_MOVED


def email(subscriber: Subscriber, values: dict[str, Any], link: Links) -> Email:
    def part(name: str) -> str:
        return render.message_part(values["template"], subscriber.locale, name, values)

    return Email(
        to=subscriber.contact,
        subject=values.get("variant_subject") or part("subject.txt"),
        text=part("body.txt"),
        html=part("body.html"),
        headers={
            "List-Unsubscribe": f"<{link.unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def sms(subscriber: Subscriber, values: dict[str, Any], first: bool) -> Sms:
    """The text message; the first one to a number says how to stop (STOP) and get help."""
    text = render.message_part(
        values["template"], subscriber.locale, "sms.txt", {**values, "first_sms": first}
    )
    return Sms(to=subscriber.contact, text=plain(text))


# Stand-ins for a subscriber's own links while a draft is rendered: plain URL characters, so
# that escaping leaves them as they are and each is found again to be replaced.
_STAND_INS = Links(
    setting="https://links.invalid/setting-stand-in",
    done="https://links.invalid/done-stand-in",
    unsubscribe="https://links.invalid/unsubscribe-stand-in",
    privacy="https://links.invalid/privacy-stand-in",
)


class Drafts:
    """One batch's messages, rendered once per language, time zone and channel with stand-in
    links, then given each subscriber's own links by plain replacement: a batch of 200 in two
    languages renders its templates a handful of times, not 600."""

    def __init__(
        self, settings: Settings, campaign: Campaign, reminder: Reminder, now: datetime
    ) -> None:
        self._settings, self._campaign, self._reminder, self._now = (
            settings,
            campaign,
            reminder,
            now,
        )
        self._emails: dict[tuple[str, str, str, str], Email] = {}
        self._texts: dict[tuple[str, str, bool, str, str], str] = {}

    def email(
        self,
        subscriber: Subscriber,
        link: Links,
        variant: Variant | None = None,
        organisation: Organisation | None = None,
    ) -> Email:
        """The subscriber's email, from `organisation` (None: the default one)."""
        key = (
            subscriber.locale,
            subscriber.timezone,
            variant.name if variant else "",
            organisation.organisation_id if organisation else DEFAULT_ORGANISATION,
        )
        if key not in self._emails:
            self._emails[key] = email(
                subscriber, self._values(subscriber, variant, organisation), _STAND_INS
            )
        draft = self._emails[key]
        return Email(
            to=subscriber.contact,
            subject=draft.subject,
            text=_with_links(draft.text, link),
            html=_with_links(draft.html, link),
            headers={name: _with_links(value, link) for name, value in draft.headers.items()},
        )

    def sms(
        self,
        subscriber: Subscriber,
        link: Links,
        first: bool,
        variant: Variant | None = None,
        organisation: Organisation | None = None,
    ) -> Sms:
        key = (
            subscriber.locale,
            subscriber.timezone,
            first,
            variant.name if variant else "",
            organisation.organisation_id if organisation else DEFAULT_ORGANISATION,
        )
        if key not in self._texts:
            values = self._values(subscriber, variant, organisation)
            self._texts[key] = sms(subscriber, values, first).text
        # A text carries one link, to the done page (steps, setting, button), behind a short code.
        return Sms(
            to=subscriber.contact,
            text=_with_links(self._texts[key], replace(link, done=link.short or link.done)),
        )

    def _values(
        self, subscriber: Subscriber, variant: Variant | None, organisation: Organisation | None
    ) -> dict[str, Any]:
        return context(
            self._settings,
            self._campaign,
            self._reminder,
            subscriber,
            _STAND_INS,
            self._now,
            variant,
            organisation,
        )


def _with_links(text: str, link: Links) -> str:
    return (
        text.replace(_STAND_INS.setting, link.setting)
        .replace(_STAND_INS.done, link.done)
        .replace(_STAND_INS.unsubscribe, link.unsubscribe)
        .replace(_STAND_INS.privacy, link.privacy)
    )


def check_templates(
    settings: Settings,
    campaign: Campaign,
    reminder: Reminder,
    now: datetime,
    max_sms_segments: int | None = None,
    locales: tuple[str, ...] = SUPPORTED_LOCALES,
    variant_sms_segments: int | None = None,
) -> None:
    """Render the reminder in every language and channel for a sample subscriber; raises
    `RenderError` naming the template and line, so that a broken one stops it before any send,
    and, given `max_sms_segments`, naming a language whose first text would be longer. Given
    `variant_sms_segments`, an A/B test's variant may make a text no longer than that, or than
    the reminder's own text in that language if it is longer already (its subject is the
    text's headline: a long one would make every text of the variant cost more segments)."""
    own_segments: dict[str, int] = {}
    sample_links = Links(
        setting="https://example.org/r/t",
        done="https://example.org/done/t",
        unsubscribe="https://example.org/unsubscribe/t",
        privacy="https://example.org/privacy/t",
    )
    test = campaign.ab_test_for(reminder)
    variants: tuple[Variant | None, ...] = (None, *test.variants) if test else (None,)
    for locale, variant in ((locale, v) for locale in locales for v in variants):
        sample = Subscriber(
            subscriber_id="ssample",
            channel="email",
            contact="sample@example.org",
            region=reminder.region,
            home_group=reminder.audience.groups[0],
            locale=locale,
            timezone="UTC",
            platforms=(),
            status=Status.ACTIVE,
            consent=Consent(requested_at="", form_version="", source="check"),
            created_at="",
        )
        named = f" (variant {variant.name})" if variant else ""
        try:
            values = context(settings, campaign, reminder, sample, sample_links, now, variant)
        except RenderError as error:
            raise RenderError(f"variant {variant and variant.name} in {locale}: {error}") from error
        try:
            build_email(settings, email(sample, values, sample_links))
        except ValueError as error:  # a line break in a subject: header injection refused
            raise RenderError(f"reminder email in {locale}{named}: {error}") from error
        text = sms(sample, values, first=True)
        if max_sms_segments and segments(text.text)[1] > max_sms_segments:
            raise RenderError(
                f"the text message in {locale}{named} takes {segments(text.text)[1]} segments, "
                f"more than {max_sms_segments}: shorten short_title or summary"
            )
        if variant is None:
            own_segments[locale] = segments(text.text)[1]
        elif variant_sms_segments:
            limit = max(variant_sms_segments, own_segments.get(locale, 0))
            if segments(text.text)[1] > limit:
                raise RenderError(
                    f"the text message in {locale}{named} takes {segments(text.text)[1]} "
                    f"segments, more than {limit}: shorten the variant's subject"
                )


def check_variants(
    settings: Settings, campaign: Campaign, test: ABTest, now: datetime
) -> dict[str, str]:
    """What is wrong with the variants of an organiser's test, by variant and language (each
    rendered for a sample subscriber, as its reminder would be in a region of the campaign);
    {} when every one renders."""
    region = next(iter(campaign.regions), "EU")
    deadline = campaign.regions.get(region) or iso(now + timedelta(days=test.days_before + 1))
    reminder = Reminder(
        campaign_id=campaign.campaign_id,
        region=region,
        days_before=test.days_before,
        kind=plan.kind(test.days_before),
        due_at=iso(now),
        deadline=deadline,
        state=ReminderState.PENDING,
        platform=campaign.platform,
        audience=Audience(groups=("EU",)),
    )
    problems: dict[str, str] = {}
    with_test = replace(campaign, ab_tests=(test,), message="reminder")
    for index, variant in enumerate(test.variants):
        for locale in sorted(variant.texts):
            try:
                check_templates(
                    settings,
                    replace(with_test, ab_tests=(replace(test, variants=(variant,)),)),
                    reminder,
                    now,
                    locales=(locale,),
                    variant_sms_segments=MAX_SMS_SEGMENTS,
                )
            except RenderError as error:
                problems[f"variants[{index}].{locale}"] = str(error)
    return problems
