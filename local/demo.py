"""Demo data: people already subscribed to LinkedIn reminders where its 2025 generative-AI change
newly applies (the EU, Switzerland, Canada and Hong Kong), in their own languages, so that a
campaign has someone to remind as soon as it exists.

They are written through the layer, as an import with proof of consent would be; the addresses
are example.org ones and the numbers fictional, so nothing can reach a real person.
"""

from __future__ import annotations

from datetime import datetime

from optout import contacts, keys, regions
from optout.clock import iso
from optout.models import Consent, Status, Subscriber
from optout.settings import Settings
from optout.store import SubscriberStore

PLATFORMS = ("linkedin",)

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
            requested_at=iso(now), form_version=settings.consent_text_version, source="demo"
        ),
        created_at=iso(now),
        confirmed_at=iso(now),
    )
