"""Shared campaigns (issue 18 §1): a campaign that several organisations of a coalition share
reaches each of their members once, from the organisation the person belongs to (the one they
joined first, or the one the coalition chose), and its numbers show each organisation's share
beside the deduplicated whole.

The coalition of these tests: North runs the LinkedIn campaign and South joined it. The
people, all in Germany (the EU's reminders; "two weeks left" goes out on 20 October at 07:00
UTC): Ada of North only, Bea of South only, Cem of both (South first, in August; North in
September), Dan of the deployment's own (default) organisation only, Eve who left North.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from local import iam
from optout.campaigns import schedule
from optout.core import clock, keys, settings, tokens
from optout.domain.models import Membership, MembershipStatus
from optout.domain.organisations import Organisation, Organiser
from optout.organisers import stats
from optout.sending import catch_up
from optout.store import CampaignStore, DeliveryStore, OrganisationStore, SubscriberStore
from tests.helpers import BASE, CAMPAIGN, active, at, link, to
from tests.integration.conftest import Organiser as AdminClient
from tests.integration.conftest import Sent, Stack

NORTH = Organisation(
    organisation_id="north",
    name="North Network",
    sender_address="hello@north.example",
    postal_address="2 North Road, Oslo",
    support_contact="help@north.example",
    configuration_set="north-emails",
)
SOUTH = Organisation(
    organisation_id="south",
    name="South Alliance",
    sender_address="team@south.example",
    postal_address="9 Via Sud, Napoli",
)
ADA, BEA, CEM, DAN, EVE = (
    "ada@example.org",
    "bea@example.org",
    "cem@example.org",
    "dan@example.org",
    "eve@example.org",
)
TWO_WEEKS_LEFT = "2025-10-20T07:00:00Z"  # in the EU


def joined(organisation: str, when: str) -> Membership:
    return Membership(organisation, MembershipStatus.ACTIVE, requested_at=when, joined_at=when)


def left(organisation: str, when: str) -> Membership:
    return Membership(
        organisation, MembershipStatus.UNSUBSCRIBED, requested_at=when, joined_at=when, left_at=when
    )


def member(contact: str, *memberships: Membership) -> str:
    """Write an active subscriber in Germany with these memberships; their id."""
    subscriber_id = active(contact, "DE")
    store = SubscriberStore(settings.get())
    person = store.get(subscriber_id)
    assert person is not None
    store.put_active(replace(person, memberships=memberships))
    return subscriber_id


def share(campaign_id: str = CAMPAIGN, **changes: Any) -> None:
    """Make the campaign North's, joined by South (or as `changes` say)."""
    store = CampaignStore(settings.get())
    found = store.get_campaign(campaign_id)
    assert found is not None
    fields = {"organisation": "north", "members": ("south",), **changes}
    store.save_campaign(replace(found, **fields), clock.now())


@pytest.fixture
def coalition(stack: Stack, campaign: None) -> dict[str, str]:
    """North and South (their senders verified in SES), the shared campaign, and the people."""
    organisations = OrganisationStore(settings.get())
    sesv2 = boto3.client("sesv2")
    for organisation in (NORTH, SOUTH):
        assert organisations.create(organisation)
        sesv2.create_email_identity(EmailIdentity=organisation.sender_address)
    sesv2.create_configuration_set(ConfigurationSetName=NORTH.configuration_set)
    share()
    return {
        ADA: member(ADA, joined("north", "2025-09-01T00:00:00Z")),
        BEA: member(BEA, joined("south", "2025-09-01T00:00:00Z")),
        CEM: member(
            CEM, joined("north", "2025-09-10T00:00:00Z"), joined("south", "2025-08-01T00:00:00Z")
        ),
        DAN: active(DAN, "DE"),
        EVE: member(EVE, left("north", "2025-09-01T00:00:00Z")),
    }


def reminders_to(stack: Stack, contact: str) -> list[Sent]:
    return [message for message in to(stack, contact) if "/done/" in message.text]


def found(message: Sent, kind: str) -> str:
    """The token of the message's /`kind`/ link."""
    link = re.search(rf"{re.escape(BASE)}/{kind}/([\w.-]+)", message.text)
    assert link, f"no /{kind}/ link in the message"
    return link.group(1)


def token_parts(message: Sent, kind: str, purpose: tokens.Purpose) -> tuple[str, ...]:
    token = found(message, kind)
    return tokens.verify(keys.token_keyring(settings.get()), token, purpose, clock.now())


def test_a_shared_campaign_reaches_each_member_once_from_the_organisation_they_joined_first(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    # When "two weeks left" goes out
    at(stack, test_clock, TWO_WEEKS_LEFT)
    # Then Ada hears from North, Bea from South, and Cem, on both lists, once: from South,
    # which she joined first
    (ada,) = reminders_to(stack, ADA)
    (bea,) = reminders_to(stack, BEA)
    (cem,) = reminders_to(stack, CEM)
    assert ada.headers["From"] == "North Network <hello@north.example>"
    assert bea.headers["From"] == "South Alliance <team@south.example>"
    assert cem.headers["From"] == "South Alliance <team@south.example>"
    # And each footer is its organisation's: name, postal address, support contact
    assert "North Network, 2 North Road, Oslo · help@north.example" in ada.text
    assert "You receive this because you asked North Network" in ada.text
    assert "2 North Road, Oslo" in ada.html and "help@north.example" in ada.html
    assert "South Alliance, 9 Via Sud, Napoli · team@south.example" in cem.text
    assert "North Network" not in cem.text


def test_someone_in_neither_organisation_gets_nothing_of_a_shared_campaign(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    at(stack, test_clock, TWO_WEEKS_LEFT)
    # Dan (the deployment's own list only) and Eve (who left North) are not its audience
    assert reminders_to(stack, DAN) == []
    assert reminders_to(stack, EVE) == []
    numbers = stats.campaign_stats(settings.get(), CAMPAIGN)["total"]
    assert numbers["audience"] == numbers["sent"] == 3


def test_the_coalitions_attribution_order_decides_for_someone_on_both_lists(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    # Given the coalition chose that its shared messages come from North first
    share(attribution=("north",))
    at(stack, test_clock, TWO_WEEKS_LEFT)
    # Then Cem, who joined South first, hears from North, still once; Bea still from South
    (cem,) = reminders_to(stack, CEM)
    assert cem.headers["From"] == "North Network <hello@north.example>"
    (bea,) = reminders_to(stack, BEA)
    assert bea.headers["From"] == "South Alliance <team@south.example>"


def test_the_links_of_a_message_name_the_organisation_it_came_from(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    at(stack, test_clock, TWO_WEEKS_LEFT)
    (cem,) = reminders_to(stack, CEM)
    # Its unsubscribe link ends South's messages; its done link counts for South
    assert token_parts(cem, "unsubscribe", tokens.Purpose.UNSUBSCRIBE) == (
        coalition[CEM],
        CAMPAIGN,
        "EU",
        "south",
    )
    assert token_parts(cem, "done", tokens.Purpose.DONE)[-1] == "south"
    assert cem.headers["List-Unsubscribe"] == f"<{BASE}/unsubscribe/{found(cem, 'unsubscribe')}>"


def test_unsubscribing_from_the_deployment_s_own_reminder_leaves_the_other_membership(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    # Given a campaign of the deployment's own organisation, and Fay, of it and of South
    share(organisation="default", members=())
    member(
        "fay@example.org",
        joined("default", "2025-08-01T00:00:00Z"),
        joined("south", "2025-09-01T00:00:00Z"),
    )
    at(stack, test_clock, TWO_WEEKS_LEFT)
    (fay,) = reminders_to(stack, "fay@example.org")
    # When she unsubscribes with its link
    assert stack.call("unsubscribe-one-click", path=link(fay.text, "unsubscribe")).status == 200
    # Then she has left the deployment's own organisation only, and South's messages go on
    fay_now = SubscriberStore(settings.get()).get(
        keys.contact_id(settings.get(), "email", "fay@example.org")
    )
    assert fay_now is not None
    assert {m.organisation: m.status.value for m in fay_now.memberships} == {
        "default": "unsubscribed",
        "south": "active",
    }
    assert fay_now.status.value == "active"


def test_a_campaign_of_one_organisation_reaches_its_members_only(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    # Given the campaign is North's alone
    share(members=())
    at(stack, test_clock, TWO_WEEKS_LEFT)
    # Then North's members get it from North (Cem too), and South's only member nothing
    assert [m.headers["From"] for m in reminders_to(stack, ADA)] == [
        "North Network <hello@north.example>"
    ]
    assert [m.headers["From"] for m in reminders_to(stack, CEM)] == [
        "North Network <hello@north.example>"
    ]
    assert reminders_to(stack, BEA) == []
    assert reminders_to(stack, DAN) == []


def test_the_organisations_shares_add_up_to_the_deduplicated_whole(
    stack: Stack, test_clock: Any, coalition: dict[str, str], organiser: AdminClient
) -> None:
    at(stack, test_clock, TWO_WEEKS_LEFT)
    # When the coalition owner reads the campaign's numbers
    reply = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats")
    assert reply.status == 200
    numbers = reply.json()
    # Then North sent to Ada, South to Bea and Cem: three people, three messages in all
    shares = {row["organisation"]: row for row in numbers["organisations"]}
    assert {name: row["sent"] for name, row in shares.items()} == {"north": 1, "south": 2}
    assert sum(row["sent"] for row in shares.values()) == numbers["total"]["sent"] == 3
    # And the CSV has each organisation's share beside the whole
    reply = organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}/stats", query="format=csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [(r["region"], r["organisation"], r["sent"]) for r in rows if r["sent"] != "0"] == [
        ("EU", "all", "3"),
        ("all", "all", "3"),
        ("all", "north", "1"),
        ("all", "south", "2"),
    ]


def test_an_organiser_of_one_organisation_sees_the_whole_and_their_own_share(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    at(stack, test_clock, TWO_WEEKS_LEFT)
    south = Organiser("south", owner=False)
    numbers = stats.campaign_stats(settings.get(), CAMPAIGN, viewer=south)
    assert numbers["total"]["sent"] == 3
    assert [(row["organisation"], row["sent"]) for row in numbers["organisations"]] == [
        ("south", 2)
    ]


def test_a_member_s_organiser_sees_only_their_own_share_on_the_campaign_s_page(
    stack: Stack, test_clock: Any, coalition: dict[str, str], organiser: AdminClient
) -> None:
    at(stack, test_clock, TWO_WEEKS_LEFT)
    added = organiser.call(
        "POST", "/admin/organisations/south/tokens", body=json.dumps({"name": "Sofia"})
    )
    assert added.status == 201, added.text
    # When South's organiser signs in to the dashboard and opens the shared campaign's page
    signed_in = organiser.browse("POST", "/admin/sign-in", body=f"token={added.json()['token']}")
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]
    page = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=cookie)
    # Then its shares table has South's row and not North's
    assert page.status == 200
    shares = page.text.split('id="organisations-heading"', 1)[1].split("</table>", 1)[0]
    assert '<th scope="row">south</th>' in shares
    assert '<th scope="row">north</th>' not in shares


def test_a_conversion_is_counted_under_the_organisation_its_message_came_from(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    at(stack, test_clock, TWO_WEEKS_LEFT)
    (cem,) = reminders_to(stack, CEM)
    done = re.search(rf"{re.escape(BASE)}(/done/[\w.-]+)", cem.text)
    assert done is not None
    # When Cem presses "I've switched it off"
    assert stack.call("done", path=done.group(1)).status == 200
    # Then it counts for South, and in the whole
    numbers = stats.campaign_stats(settings.get(), CAMPAIGN)
    confirmed = {row["organisation"]: row["confirmed"] for row in numbers["organisations"]}
    assert confirmed == {"north": 0, "south": 1}
    assert numbers["total"]["confirmed"] == 1
    # And the event tells the organisation it is counted under
    (event,) = stack.events("conversion.recorded")
    assert event.data["organisations"] == ["south"]


def test_the_events_of_a_shared_campaign_name_its_organisations(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    at(stack, test_clock, TWO_WEEKS_LEFT)
    told = stack.events("reminder.sent")
    assert told and all(event.data["organisations"] == ["north", "south"] for event in told)


def test_someone_who_leaves_the_sending_organisation_as_their_message_is_claimed_gets_it_from_the_other(
    stack: Stack, test_clock: Any, coalition: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the sender has read Cem (South's, joined first; North's too), and she unsubscribes
    # from South at the instant its claim is made: after the read, before the claim
    claim = DeliveryStore.claim_or_state
    cem_id = coalition[CEM]

    def leaving_first(store: DeliveryStore, key: str, *args: Any, **kwargs: Any) -> Any:
        if cem_id in key and kwargs.get("organisation") == "south":
            # her unsubscribe, written by another function (not the sender's role)
            subscribers = iam.enforcer().operator_session().resource("dynamodb")
            subscribers.Table(settings.get().subscribers_table).update_item(
                Key={"subscriber_id": cem_id},
                UpdateExpression="SET memberships.south.#status = :left",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":left": "unsubscribed"},
            )
        return claim(store, key, *args, **kwargs)

    monkeypatch.setattr(DeliveryStore, "claim_or_state", leaving_first)
    # When the reminder goes out
    at(stack, test_clock, TWO_WEEKS_LEFT)
    # Then South sends her nothing; she gets it once, from North, where she still belongs
    assert [m.headers["From"] for m in reminders_to(stack, CEM)] == [
        "North Network <hello@north.example>"
    ]


def test_someone_who_left_every_organisation_since_the_fan_out_is_skipped(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    # Given the fan-out queued Ada
    test_clock.now = datetime(2025, 10, 20, 7, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    # When she leaves North before the sender reaches her
    member(ADA, left("north", "2025-10-20T07:00:00Z"))
    stack.run_sender()
    # Then she gets nothing, counted as no longer a member; the others get theirs
    assert reminders_to(stack, ADA) == []
    assert len(reminders_to(stack, BEA)) == 1
    eu = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert eu["skipped_not_a_member"] == 1 and eu["sent"] == 2


def test_a_late_joiner_is_caught_up_only_with_campaigns_of_an_organisation_they_belong_to(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    # Given the campaign is North's alone and "two weeks left" went out
    share(members=())
    at(stack, test_clock, TWO_WEEKS_LEFT)
    # When Fay joins South and Gus joins North, the next day
    test_clock.now = datetime(2025, 10, 21, 9, 0, tzinfo=UTC)
    fay = member("fay@example.org", joined("south", "2025-10-21T09:00:00Z"))
    gus = member("gus@example.org", joined("north", "2025-10-21T09:00:00Z"))
    assert catch_up.request(settings.get(), [fay, gus], clock.now()) == 0
    stack.drain_notices()
    stack.run_sender()
    # Then Gus is caught up with North's reminder, from North; Fay gets nothing of it
    (caught,) = reminders_to(stack, "gus@example.org")
    assert caught.headers["From"] == "North Network <hello@north.example>"
    assert reminders_to(stack, "fay@example.org") == []


def test_a_default_deployments_campaign_counts_no_shares_and_names_no_organisation(
    stack: Stack, test_clock: Any, campaign: None
) -> None:
    # Given a deployment that never added an organisation
    active(DAN, "DE")
    at(stack, test_clock, TWO_WEEKS_LEFT)
    (dan,) = reminders_to(stack, DAN)
    # Then its message is the deployment's own, its links as before coalitions
    assert "North" not in dan.headers["From"]
    assert len(token_parts(dan, "unsubscribe", tokens.Purpose.UNSUBSCRIBE)) == 3
    assert stats.campaign_stats(settings.get(), CAMPAIGN)["organisations"] == []
    assert all("organisations" not in event.data for event in stack.events())


def test_a_texts_short_link_counts_the_conversion_under_its_organisation(
    stack: Stack, test_clock: Any, coalition: dict[str, str]
) -> None:
    # Given Hana, of South, by text in Germany
    member("+4915112345678", joined("south", "2025-09-01T00:00:00Z"))
    at(stack, test_clock, TWO_WEEKS_LEFT)
    (text,) = to(stack, "+4915112345678")
    # When she opens its short link and presses "I've switched it off"
    reply = stack.call("short-link", path=link(text.text, "s"))
    assert reply.status == 302
    assert stack.call("done", path=reply.headers["Location"].removeprefix(BASE)).status == 200
    # Then South's share counts it
    shares = stats.campaign_stats(settings.get(), CAMPAIGN)["organisations"]
    assert {row["organisation"]: row["confirmed"] for row in shares} == {"north": 0, "south": 1}


def test_the_campaigns_page_shows_each_organisations_share(
    stack: Stack, test_clock: Any, coalition: dict[str, str], organiser: AdminClient
) -> None:
    at(stack, test_clock, TWO_WEEKS_LEFT)
    page = organiser.browse("GET", f"/admin/campaigns/{CAMPAIGN}", cookie=organiser.sign_in())
    assert page.status == 200
    section = page.text.split("Each organisation's share", 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<th scope="row">(\w+)</th><td class="n">(\d+)</td>', section)
    assert rows == [("north", "1"), ("south", "2")]
