"""A reminder exactly as a subscriber would get it, for organisers: any region, reminder,
channel and language, rendered by the sender's own code for a sample subscriber at the moment
the reminder is due; and the same message sent once to an organiser's own address.

Sample links carry real tokens for a subscriber who does not exist, so they look as sent and
open a friendly "we no longer hold this subscription" page instead of counting anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from optout.channels import email, sms
from optout.core.clock import parse_iso
from optout.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from optout.core.settings import Settings
from optout.domain import contacts, plan, policy, regions
from optout.domain.ab import Variant
from optout.domain.locales import SUPPORTED_LOCALES
from optout.domain.models import (
    Campaign,
    CampaignStatus,
    Consent,
    Reminder,
    Status,
    Subscriber,
)
from optout.domain.organisations import DEFAULT, Organisation
from optout.messages import identity, reminders
from optout.store import (
    CampaignStore,
    DeliveryStore,
    OrganisationStore,
    layout,
    seconds_left_in_window,
)

SAMPLE_ID = "spreview"
SAMPLE_CONTACTS = {"email": "preview@example.org", "sms": "+15555550100"}
TEST_SENDS_PER_HOUR = 30  # per campaign: enough to proofread, too few to misuse


def preview(
    settings: Settings,
    campaign_id: str,
    *,
    region: str,
    reminder: str,
    channel: str,
    locale: str,
    first_text: bool = True,
    contact: str = "",
) -> dict[str, Any]:
    """The message as it would be sent: email subject, text, HTML, headers and From, or the
    text message with its encoding and segments. `reminder` is a kind ("one-week-left") or
    days. It comes from the campaign's organisation, as its members' messages do.

    A reminder with an A/B test (`optout.domain.ab`) is never sent without a variant: the
    message shown is its first variant's (what the rest gets unless another wins), and
    ``variants`` holds each variant as sent, by name ([] for a reminder without a test)."""
    return _rendered(
        settings,
        campaign_id,
        region=region,
        reminder=reminder,
        channel=channel,
        locale=locale,
        first_text=first_text,
        contact=contact,
    )[0]


def _rendered(
    settings: Settings,
    campaign_id: str,
    *,
    region: str,
    reminder: str,
    channel: str,
    locale: str,
    first_text: bool = True,
    contact: str = "",
) -> tuple[dict[str, Any], identity.Identity]:
    """The preview, and who it comes from (for the test send to go out as shown)."""
    campaign, item = _campaign_and_reminder(settings, campaign_id, region, reminder)
    problems = {}
    if channel not in SAMPLE_CONTACTS:
        problems["channel"] = "email or sms"
    if locale not in SUPPORTED_LOCALES:
        problems["locale"] = f"one of {', '.join(SUPPORTED_LOCALES)}"
    if problems:
        raise InvalidInput(problems)
    due = parse_iso(item.due_at)
    subscriber = _sample(item, channel, locale, contact or SAMPLE_CONTACTS[channel])
    organisation = _organisation(settings, campaign)
    sent_by = identity.of(settings, organisation)
    drafts = reminders.Drafts(settings, campaign, item, due)
    link = reminders.links(settings, campaign, item, SAMPLE_ID, due, campaign.organisation)
    view: dict[str, Any] = {
        "campaign_id": campaign_id,
        "region": item.region,
        "reminder": item.kind,
        "channel": channel,
        "locale": locale,
        "due_at": item.due_at,
    }
    test = campaign.ab_test_for(item)
    variants = test.variants if test else ()

    def shown(variant: Variant | None) -> dict[str, Any]:
        if channel == "email":
            message = drafts.email(subscriber, link, variant, organisation)
            # refuses what SES would get with a broken header
            email.build(settings, message, sent_by.sender)
            return {
                "from": sent_by.from_header,
                "subject": message.subject,
                "text": message.text,
                "html": message.html,
                "headers": dict(message.headers),
                "sms": None,
            }
        text = drafts.sms(
            subscriber, link, first=first_text, variant=variant, organisation=organisation
        )
        encoding, count = sms.segments(text.text)
        return {
            "from": "",
            "subject": "",
            "text": text.text,
            "html": "",
            "headers": {},
            "sms": {"text": text.text, "encoding": encoding, "segments": count},
        }

    return {
        **view,
        **shown(variants[0] if variants else None),
        "variants": [{"variant": variant.name, **shown(variant)} for variant in variants],
    }, sent_by


def send_test(
    settings: Settings,
    campaign_id: str,
    *,
    to: str,
    region: str,
    reminder: str,
    locale: str,
    now: datetime,
) -> dict[str, Any]:
    """Send the previewed message once to `to` (an email address or a mobile number)."""
    try:
        contact = contacts.parse(to)
    except InvalidInput as error:
        raise InvalidInput({"to": next(iter(error.problems.values()))}) from None
    channel, address = contact.channel, contact.address
    hour = timedelta(hours=1)
    if DeliveryStore(settings).count_in_window(
        layout.rate_limit("test", campaign_id), hour, now
    ) > (TEST_SENDS_PER_HOUR):
        raise TooManyRequests(
            f"at most {TEST_SENDS_PER_HOUR} test sends an hour per campaign",
            retry_after=seconds_left_in_window(hour, now),
        )
    shown, sent_by = _rendered(
        settings,
        campaign_id,
        region=region,
        reminder=reminder,
        channel=channel,
        locale=locale,
        contact=address,
    )
    if channel == "email":
        message = email.Email(
            address, shown["subject"], shown["text"], shown["html"], shown["headers"]
        )
        message_id = email.send_raw(
            settings,
            address,
            email.build(settings, message, sent_by.sender),
            {"campaign": campaign_id, "test": "yes"},
            sent_by.sender,
        )
    else:
        message_id = sms.send(settings, sms.Sms(address, shown["sms"]["text"]))
    return {**shown, "to": address, "message_id": message_id}


def test_sent_notice(campaign_id: str, sent: dict[str, Any]) -> dict[str, str]:
    """The dashboard's page after a test send: to whom, and the way back to the campaign."""
    return {
        "title": "Test sent",
        "message": f"Sent to {sent['to']}.",
        "back_to": f"campaigns/{campaign_id}",
    }


def _campaign_and_reminder(
    settings: Settings, campaign_id: str, region: str, reminder: str
) -> tuple[Campaign, Reminder]:
    store = CampaignStore(settings)
    campaign = store.get_campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    planned = store.reminders(campaign_id)
    for item in planned:
        if item.region == region and reminder in (item.kind, str(item.days_before)):
            return campaign, item
    if not campaign.regions and campaign.status is CampaignStatus.DRAFT:
        raise Conflict(policy.launch_problem(campaign.policy, campaign.regions))
    kinds = sorted({f"{item.region} {item.kind}" for item in planned})
    raise InvalidInput(
        {"reminder": f"no {region} {reminder} reminder; there are: {', '.join(kinds)}"}
    )


def _organisation(settings: Settings, campaign: Campaign) -> Organisation | None:
    """The organisation the campaign's preview and test sends come from (None: the default
    one, the deployment's own parameters)."""
    if campaign.organisation == DEFAULT:
        return None
    found = OrganisationStore(settings).get(campaign.organisation)
    if found is None:
        # Never shown or sent under another organisation's name instead.
        raise Conflict(f"the campaign's organisation {campaign.organisation!r} is not kept")
    return found


def _sample(reminder: Reminder, channel: str, locale: str, contact: str) -> Subscriber:
    """Someone of the reminder's region, in its reference time zone."""
    region = regions.resolve(reminder.region)
    return Subscriber(
        subscriber_id=SAMPLE_ID,
        channel=channel,
        contact=contact,
        region=region.code,
        home_group=region.group,
        locale=locale,
        timezone=plan.reference_zone(region).key,
        platforms=(),
        status=Status.ACTIVE,
        consent=Consent(requested_at="", form_version="", source="preview"),
        created_at="",
    )
