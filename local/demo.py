"""Demo data: people already subscribed to LinkedIn reminders where its 2025 generative-AI change
newly applies (the EU, Switzerland, Canada and Hong Kong), in their own languages, and the
LinkedIn campaign itself, created by a signed policy-change webhook through the real route.

The stack's clock starts a week before the campaign's first reminder, so that its whole
timeline can be played by moving the clock.

It is a small coalition too (issue 18): a second organisation, a Canadian group, whose list
overlaps the deployment's own, is added through the admin API and joins the campaign, so that
each Canadian gets each reminder once, from the organisation they joined first.

They are written through the layer, as an import with proof of consent would be; the addresses
are example.org ones and the numbers fictional, so nothing can reach a real person.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from local import demo_site, invoke
from local.stack import LocalStack, StackServer
from optout.core import keys, signatures
from optout.core.clock import iso
from optout.core.settings import Settings
from optout.domain import contacts, regions
from optout.domain.consent import FORM
from optout.domain.models import Consent, Membership, MembershipStatus, Status, Subscriber
from optout.domain.organisations import DEFAULT
from optout.domain.watches import PAGE, SETTING, Source, Watch
from optout.messages import consent
from optout.store import SubscriberStore, WatchStore

PLATFORMS = ("linkedin",)
CAMPAIGN_PAYLOAD = (
    Path(__file__).resolve().parent.parent / "events/payloads/policy-changed.linkedin.json"
)
# A week before "two weeks left" (20 October 2025): the whole timeline lies ahead.
CLOCK_START = datetime(2025, 10, 13, 8, 0, tzinfo=UTC)

# Where the policy watch's changes are emailed on the demo stack (the outbox shows it).
ORGANISERS_ADDRESS = "organisers@example.org"

# contact, region, locale
SUBSCRIBERS = (
    ("lena.schmidt@example.org", "DE", "de"),
    ("camille.martin@example.org", "FR", "fr"),
    ("sanne.devries@example.org", "NL", "nl"),
    ("marco.keller@example.org", "CH", "de"),
    ("julie.tremblay@example.org", "CA", "fr-CA"),
    ("owen.clarke@example.org", "CA", "en"),
    ("wing.chan@example.org", "HK", "zh-HK"),
    ("+14165550123", "CA", "en"),
    ("+85251234567", "HK", "zh-HK"),
)

# The coalition's second organisation, as its coalition owner adds it (POST /admin/organisations).
PARTNER = {
    "id": "pac",
    "name": "Privacy Action Canada (demo)",
    "sender_address": "rappels@pac.example.org",
    "postal_address": "1 Example Street, Toronto ON M5V 0A1, Canada",
}
# Of SUBSCRIBERS, who joined the partner too, a week after the deployment's own organisation
# (its reminders stay the first one's), and who joined the partner alone (its reminders are
# the partner's).
ALSO_PARTNER = ("owen.clarke@example.org",)
PARTNER_ONLY = ("julie.tremblay@example.org",)


def seed(settings: Settings, now: datetime) -> list[Subscriber]:
    """Write the demo subscribers as active; returns them."""
    store = SubscriberStore(settings)
    subscribers = [_subscriber(settings, *entry, now) for entry in SUBSCRIBERS]
    for subscriber in subscribers:
        store.put_active(subscriber)
    return subscribers


def _subscriber(
    settings: Settings, raw_contact: str, region_code: str, locale: str, now: datetime
) -> Subscriber:
    region = regions.resolve(region_code)
    contact = contacts.parse(raw_contact, country=region.code)
    wording = consent.form_wording(locale)  # as if they had subscribed on the form
    return Subscriber(
        subscriber_id=keys.contact_id(settings, contact.channel, contact.address),
        channel=contact.channel,
        contact=contact.address,
        region=region.code,
        home_group=region.group,
        locale=locale,
        timezone=regions.default_timezone(region),
        platforms=PLATFORMS,
        status=Status.ACTIVE,
        consent=Consent(
            requested_at=iso(now),
            form_version=wording.version,
            source="demo",
            kind=FORM,
            wording_sha256=wording.sha256,
            locale=locale,
            privacy_notice_url=settings.privacy_notice_url,
        ),
        created_at=iso(now),
        confirmed_at=iso(now),
        memberships=_memberships(contact.address, now),
    )


def _memberships(contact: str, now: datetime) -> tuple[Membership, ...]:
    """The organisations a demo subscriber joined: none named is the deployment's own only."""

    def joined(organisation: str, at: datetime) -> Membership:
        return Membership(organisation, MembershipStatus.ACTIVE, iso(at), joined_at=iso(at))

    week_before = now - timedelta(days=7)
    if contact in ALSO_PARTNER:
        return (joined(DEFAULT, week_before), joined(PARTNER["id"], now))
    if contact in PARTNER_ONLY:
        return (joined(PARTNER["id"], now),)
    return ()


def start_campaign(stack: LocalStack, public_host: str) -> dict[str, Any]:
    """POST the LinkedIn policy change to the webhook route, signed as a policy monitor would
    sign it; the handler's answer (the campaign and how many reminders it planned)."""
    body = CAMPAIGN_PAYLOAD.read_bytes()
    key = signatures.parse_secrets(os.environ["OPTOUT_WEBHOOK_SECRET"])[0]
    webhook_id, sent_at = "msg_demo_linkedin_genai_2025", int(datetime.now(UTC).timestamp())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(sent_at),
        "webhook-signature": signatures.sign(key, webhook_id, sent_at, body),
    }
    found = invoke.find_route("POST", "/webhooks/policy-change")
    assert found is not None, "template.yaml has no policy-change route"
    route, parameters = found
    event = invoke.api_event(
        "POST",
        route.path,
        route=route,
        path_parameters=parameters,
        headers=headers,
        body=body,
        host=public_host,
    )
    status, _, reply = stack.call_api(route.function, event)
    if status != 200:
        raise RuntimeError(f"the demo campaign was refused ({status}): {reply.decode()}")
    return dict(json.loads(reply))


def register_endpoint(stack: LocalStack, public_host: str, url: str) -> str:
    """Register `url` as an endpoint for every event through the admin API, as an organiser
    would; the secret it shows, this once."""
    document = {"url": url, "description": "the local stack's demo receiver"}
    return str(_as_owner(stack, public_host, "/admin/webhooks", document)["secret"])


def add_partner(stack: LocalStack, public_host: str) -> str:
    """Add the coalition's second organisation, as its owner would, and verify its From address
    in SES (moto's, here); a token for its organisers, shown this once."""
    _as_owner(stack, public_host, "/admin/organisations", PARTNER)
    boto3.client("sesv2").create_email_identity(EmailIdentity=PARTNER["sender_address"])
    path = f"/admin/organisations/{PARTNER['id']}/tokens"
    return str(_as_owner(stack, public_host, path, {"name": "the demo's organiser"})["token"])


def share_campaign(stack: LocalStack, public_host: str, campaign_id: str) -> None:
    """Open the demo campaign to the partner, as the coalition owner would."""
    path = f"/admin/campaigns/{campaign_id}/organisations"
    _as_owner(stack, public_host, path, {"members": [PARTNER["id"]]}, expect=200)


def _as_owner(
    stack: LocalStack, public_host: str, path: str, document: dict[str, Any], expect: int = 201
) -> dict[str, Any]:
    """POST `document` to an admin route with the admin token (the coalition owner's); its
    answer."""
    found = invoke.find_route("POST", path)
    assert found is not None, f"template.yaml has no {path} route"
    route, parameters = found
    event = invoke.api_event(
        "POST",
        path,
        route=route,
        path_parameters=parameters,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {os.environ['OPTOUT_ADMIN_TOKEN']}",
        },
        body=json.dumps(document).encode(),
        host=public_host,
    )
    status, _, reply = stack.call_api(route.function, event)
    if status != expect:
        raise RuntimeError(f"the demo's POST {path} was refused ({status}): {reply.decode()}")
    return dict(json.loads(reply))


def watch_help_page(settings: Settings, now: datetime, server: StackServer) -> Watch:
    """Watch the help page `server` serves (`local.demo_site`); the first tick once it serves
    reads it, so that its change on 14 October is found by the first hourly run after it."""
    watch = Watch(
        watch_id="linkedin-generative-ai-help",
        platform="linkedin",
        title="LinkedIn help: generative AI and your data",
        source=Source(PAGE, url=f"http://127.0.0.1:{server.server_address[1]}{demo_site.PATH}"),
        about=SETTING,
        setting_url="https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
        created_at=iso(now),
        base_url=f"http://{server.public_host}",
    )
    WatchStore(settings).create(watch)
    return watch
