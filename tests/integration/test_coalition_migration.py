"""An existing deployment becomes a coalition: the migration path README's "Becoming a coalition"
describes, played on a stack that already has data.

The data is written as the version before coalitions wrote it: subscribers with no
memberships (through the form and its confirmation, and as an import with proof writes them),
and the LinkedIn campaign with no organisation (its item stripped of the attributes this version
adds), whose first reminder has gone out. Nothing is migrated; the owner adds an organisation,
opens the campaign to it, and people join it. What was there keeps working as it did, links
already sent included, and nobody gets a reminder twice."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from local import iam
from optout.core import settings
from optout.store import CampaignStore
from optout.store.layout import campaign_pk
from tests.helpers import CAMPAIGN, LINKEDIN, active, at, confirm_path, link, to
from tests.integration.conftest import Organiser, Stack

PARTNER = {
    "id": "pac",
    "name": "Privacy Action Canada",
    "sender_address": "rappels@pac.example.org",
    "postal_address": "1 Example Street, Toronto ON M5V 0A1, Canada",
}
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
NEW_ATTRIBUTES = ("organisation", "members", "attribution")


def subscribe(stack: Stack, test_clock: Any, contact: str, region: str, form: str) -> None:
    """Subscribe on a form (its JSON API) and press the confirmation's button."""
    test_clock.advance(minutes=11)  # past the resend window of the address
    body = json.dumps({"contact": contact, "region": region, "locale": "en"})
    assert stack.call("subscribe-json", path=form, body=body).status == 202
    stack.drain_notices()
    assert stack.call("confirm", path=confirm_path(to(stack, contact)[-1].text)).status == 200


def reminders_of(stack: Stack, contact: str, reminder: str) -> list[Any]:
    return [m for m in to(stack, contact) if f".{CAMPAIGN}.{reminder}." in m.text]


def test_an_existing_deployment_becomes_a_coalition_and_keeps_what_it_had(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    # Given a deployment from before coalitions: Ana subscribed on its form, Ben and Cleo were
    # imported with proof, and the LinkedIn campaign was made by the policy webhook
    at(stack, test_clock, "2025-10-13T09:00:00Z")
    subscribe(stack, test_clock, "ana@example.org", "DE", "/subscribe")
    active("ben@example.org", "CA")
    active("cleo@example.org", "CA")
    assert stack.post_webhook(LINKEDIN).status == 200
    table = (
        iam.enforcer().operator_session().resource("dynamodb").Table(settings.get().campaigns_table)
    )
    table.update_item(
        Key={"pk": campaign_pk(CAMPAIGN), "sk": "CAMPAIGN"},
        UpdateExpression="REMOVE " + ", ".join(NEW_ATTRIBUTES),
    )
    assert not any("memberships" in item for item in stack.items("SUBSCRIBERS_TABLE"))
    # ... whose first reminder went out in the EU
    at(stack, test_clock, "2025-10-20T07:00:00Z")
    (first,) = reminders_of(stack, "ana@example.org", "EU-14")
    old_unsubscribe = link(first.text, "unsubscribe")

    # When the coalition owner adds an organisation (its From address verified in SES) and
    # opens the campaign to it; Ben joins it too, and Eve joins it alone
    ses = iam.enforcer().operator_session().client("sesv2")
    ses.create_email_identity(EmailIdentity=PARTNER["sender_address"])
    added = organiser.call("POST", "/admin/organisations", body=json.dumps(PARTNER), headers=JSON)
    assert added.status == 201, added.text
    shared = organiser.call(
        "POST",
        f"/admin/campaigns/{CAMPAIGN}/organisations",
        body=json.dumps({"members": ["pac"]}),
        headers=JSON,
    )
    assert shared.status == 200, shared.text
    subscribe(stack, test_clock, "ben@example.org", "CA", "/o/pac/subscribe")
    subscribe(stack, test_clock, "eve@example.org", "CA", "/o/pac/subscribe")

    # Then the campaign stored before reads as the deployment's own, with its new member
    campaign = CampaignStore(settings.get()).get_campaign(CAMPAIGN)
    assert campaign is not None and campaign.organisations == ("default", "pac")
    # And when "one week left" comes, each person has it once, from the organisation joined
    # first: the deployment's own for those it had, the partner's for Eve
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    ben, cleo, eve = (
        reminders_of(stack, f"{name}@example.org", "CA-07") for name in ("ben", "cleo", "eve")
    )
    assert (len(ben), len(cleo), len(eve)) == (1, 1, 1)
    assert "reminders@optout.example.org" in ben[0].headers["From"]
    assert "reminders@optout.example.org" in cleo[0].headers["From"]
    assert "rappels@pac.example.org" in eve[0].headers["From"]
    assert len(reminders_of(stack, "ana@example.org", "EU-07")) == 1

    # And the unsubscribe link of the reminder sent before still works: Ana gets no more
    assert stack.call("unsubscribe-one-click", path=old_unsubscribe).status == 200
    at(stack, test_clock, "2025-11-02T08:00:00Z")
    assert reminders_of(stack, "ana@example.org", "EU-01") == []

    # And the owner's export lists the people from before as the deployment's own members
    exported = organiser.call("GET", "/admin/subscribers/export", headers={"Accept": "text/csv"})
    rows = {row["contact"]: row for row in csv.DictReader(io.StringIO(exported.text))}
    assert rows["cleo@example.org"]["organisations"] == "default"
    assert rows["ben@example.org"]["organisations"] == "default;pac"  # the first joined first
