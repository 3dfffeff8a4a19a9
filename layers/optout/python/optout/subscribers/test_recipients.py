"""AWS's own test recipients, for `optout smoke`: SES's mailbox simulator
(`success@`, `bounce@`, `complaint@`, `suppressionlist@simulator.amazonses.com`, each with an
optional `+label`). Mail to them reaches no person, and SES answers each as its name says.

A smoke test cannot read the mail it sends there, so the organisers' API gives it the links a
person would find in that mail (`POST /admin/subscribers/test-links`): for these addresses
only, which lets nobody subscribe, unsubscribe or erase a real person.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from optout.core import keys, tokens
from optout.core.errors import Forbidden, InvalidInput
from optout.core.settings import Settings
from optout.domain import contacts
from optout.links.privacy import privacy_link
from optout.subscribers import subscriptions


def links(
    settings: Settings, fields: Mapping[str, object], *, base_url: str, now: datetime
) -> dict[str, str]:
    """The confirm, unsubscribe and privacy links of a test recipient (`fields["contact"]`), as
    its messages carry them: the unsubscribe link counts for `campaign_id` and `region` when
    both are given."""
    campaign_id, region = fields.get("campaign_id", ""), fields.get("region", "")
    if not isinstance(campaign_id, str) or not isinstance(region, str):
        raise InvalidInput({"campaign_id": "campaign_id and region are texts, when given"})
    try:
        parsed = contacts.parse(fields.get("contact", ""), channel="email")
    except InvalidInput as error:
        raise InvalidInput({"contact": next(iter(error.problems.values()))}) from None
    if not contacts.is_test_recipient(parsed.address):
        raise Forbidden(
            f"links are given only for SES's mailbox simulator (...@{contacts.SIMULATOR_DOMAIN}): "
            "a real person's links reach them only in their own messages"
        )
    subscriber_id = keys.contact_id(settings, parsed.channel, parsed.address)
    keyring = keys.token_keyring(settings)
    # As a reminder's link (counted for its campaign and region) or a confirmation's.
    parts = [subscriber_id, campaign_id, region] if campaign_id and region else [subscriber_id]
    unsubscribe = tokens.mint(
        keyring,
        tokens.Purpose.UNSUBSCRIBE,
        parts,
        now + tokens.LIFETIMES[tokens.Purpose.UNSUBSCRIBE],
    )
    confirm = subscriptions.confirmation_token(settings, subscriber_id, now)
    return {
        "contact": parsed.address,
        "subscriber_id": subscriber_id,
        "confirm": f"{base_url}/confirm/{confirm}",
        "unsubscribe": f"{base_url}/unsubscribe/{unsubscribe}",
        "privacy": privacy_link(settings, subscriber_id, base_url, now),
    }
