"""Shared campaigns' rules that need no stack: whose audience a person is, what an
organisation's email says it comes from, what the CSV and the events add in coalition mode and
what they leave as they were for a deployment that serves one organisation."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from email import message_from_bytes, policy

from optout.channels.email import Email, Sender, build
from optout.core.settings import from_environ
from optout.domain import event_data
from optout.domain.models import Membership, MembershipStatus
from optout.organisers import stats
from optout.sending.fanout import belongs
from tests.helpers import COMPLETE, linkedin_campaign

SHARED = replace(linkedin_campaign(), organisation="north", members=("south",))


def membership(organisation: str, status: MembershipStatus) -> Membership:
    return Membership(organisation, status, requested_at="2025-09-01T00:00:00Z")


def test_a_shared_campaigns_audience_is_the_active_members_of_its_organisations() -> None:
    assert belongs((membership("south", MembershipStatus.ACTIVE),), SHARED)
    assert not belongs((membership("west", MembershipStatus.ACTIVE),), SHARED)
    assert not belongs((membership("north", MembershipStatus.UNSUBSCRIBED),), SHARED)
    assert not belongs((membership("north", MembershipStatus.PENDING),), SHARED)
    # A record with no memberships is the default organisation's member: not North's
    assert not belongs((), SHARED)
    assert belongs((), linkedin_campaign())


def test_an_organisations_email_comes_from_its_name_and_address() -> None:
    settings = from_environ(COMPLETE)
    email = Email(to="ada@example.org", subject="Hi", text="t", html="<p>h</p>")
    north = Sender("North Network", "hello@north.example", "north-emails")
    sent = message_from_bytes(build(settings, email, north), policy=policy.default)
    own = message_from_bytes(build(settings, email), policy=policy.default)
    assert str(sent["From"]) == "North Network <hello@north.example>"
    assert str(sent["Message-ID"]).endswith("@north.example>")
    assert str(own["From"]) == "Org <reminders@example.org>"


def numbers(**extra: object) -> dict[str, object]:
    total = {"region": "all", "sent": 3, "confirmed": 1, "audience": 3}
    return {"regions": [{**total, "region": "EU"}], "total": total, **extra}


def test_the_csv_of_a_campaign_of_one_organisation_has_no_organisation_column() -> None:
    rows = list(csv.DictReader(io.StringIO(stats.as_csv(numbers(organisations=[])))))
    assert "organisation" not in rows[0] and [row["region"] for row in rows] == ["EU", "all"]


def test_the_csv_of_a_shared_campaign_adds_each_organisations_share() -> None:
    shares = [
        {"organisation": "north", "sent": 1, "confirmed": 0},
        {"organisation": "south", "sent": 2, "confirmed": 1},
    ]
    rows = list(csv.DictReader(io.StringIO(stats.as_csv(numbers(organisations=shares)))))
    assert [(row["region"], row["organisation"], row["sent"]) for row in rows] == [
        ("EU", "all", "3"),
        ("all", "all", "3"),
        ("all", "north", "1"),
        ("all", "south", "2"),
    ]


def test_events_name_a_shared_campaigns_organisations_and_no_others() -> None:
    launched = event_data.campaign_launched(SHARED, "2025-10-13T09:00:00Z")
    assert launched["organisations"] == ["north", "south"]
    assert "organisations" not in event_data.campaign_launched(linkedin_campaign(), "")
    counts = {"sent": 2}
    default = event_data.reminder_sent("c", "EU-07", "EU", "one-week-left", False, counts)
    assert "organisations" not in default
    done = event_data.conversion_recorded("c", "s", "EU", "EU-07", "email", "t", "south")
    assert done["organisations"] == ["south"]
