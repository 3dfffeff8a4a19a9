"""Coalition mode's rules that need no AWS: who belongs to which organisation, and which
organisation a shared campaign's message to a person comes from."""

from __future__ import annotations

from dataclasses import replace

import pytest

from optout.core.settings import from_environ
from optout.domain import organisations
from optout.domain.models import Consent, Membership, MembershipStatus, Status, Subscriber
from optout.domain.organisations import InvalidOrganisation, attributed_to, member_of
from optout.store.subscribers import memberships_from, memberships_item
from tests.helpers import COMPLETE, linkedin_campaign

ACTIVE, PENDING, LEFT = (
    MembershipStatus.ACTIVE,
    MembershipStatus.PENDING,
    MembershipStatus.UNSUBSCRIBED,
)


def person(*memberships: Membership, status: Status = Status.ACTIVE) -> Subscriber:
    return Subscriber(
        subscriber_id="sabc",
        channel="email",
        contact="ana@example.org",
        region="DE",
        home_group="EU",
        locale="de",
        timezone="Europe/Berlin",
        platforms=(),
        status=status,
        consent=Consent(requested_at="2026-01-01T09:00:00Z", form_version="", source="web-form"),
        created_at="2026-01-01T09:00:00Z",
        confirmed_at="2026-01-01T09:05:00Z",
        memberships=memberships,
    )


def joined(organisation: str, at: str, status: MembershipStatus = ACTIVE) -> Membership:
    return Membership(
        organisation, status, requested_at=at, joined_at=at if status == ACTIVE else ""
    )


def test_a_record_from_before_coalitions_belongs_to_the_default_organisation() -> None:
    ana = person()
    assert member_of(ana) == ("default",)
    (membership,) = organisations.memberships_of(ana)
    assert membership.joined_at == "2026-01-01T09:05:00Z"
    assert member_of(replace(ana, status=Status.UNSUBSCRIBED)) == ()


def test_nobody_is_reached_whose_record_stopped_whatever_their_memberships_say() -> None:
    ana = person(joined("noyb", "2026-01-01T09:00:00Z"), status=Status.SUPPRESSED)
    assert member_of(ana) == ()


def test_memberships_are_listed_the_first_joined_first_and_only_active_ones() -> None:
    ana = person(
        joined("edri", "2026-03-01T00:00:00Z"),
        joined("noyb", "2026-02-01T00:00:00Z"),
        joined("lqdn", "2026-01-01T00:00:00Z", LEFT),
        joined("bits", "2026-01-01T00:00:00Z", PENDING),
    )
    assert member_of(ana) == ("noyb", "edri")


def test_a_shared_campaign_is_attributed_to_the_member_joined_first_unless_the_coalition_chose() -> (
    None
):
    ana = person(joined("edri", "2026-03-01T00:00:00Z"), joined("noyb", "2026-02-01T00:00:00Z"))
    campaign = replace(linkedin_campaign(), organisation="edri", members=("noyb", "lqdn"))
    assert attributed_to(ana, campaign) == "noyb"
    assert attributed_to(ana, replace(campaign, attribution=("edri",))) == "edri"
    assert attributed_to(ana, replace(campaign, members=("lqdn",))) == "edri"
    assert attributed_to(ana, replace(campaign, organisation="lqdn", members=())) is None


def test_a_campaign_of_no_organisation_is_the_default_one_and_reaches_its_old_records() -> None:
    assert linkedin_campaign().organisations == ("default",)
    assert attributed_to(person(), linkedin_campaign()) == "default"


@pytest.mark.parametrize("bad", ["", "Noyb", "-noyb", "noyb-", "no yb", "a" * 41, "../x"])
def test_an_organisation_id_must_fit_in_a_path(bad: str) -> None:
    with pytest.raises(InvalidOrganisation, match="lower-case"):
        organisations.check_id(bad)


def test_the_default_organisation_is_the_deployments_own_parameters() -> None:
    settings = from_environ({**COMPLETE, "SUPPORT_CONTACT": ""})
    default = organisations.default_organisation(settings)
    assert (default.organisation_id, default.name) == ("default", settings.organisation_name)
    assert default.help_contact == settings.sender_address


def test_memberships_are_kept_as_a_map_by_organisation_and_read_back_in_order() -> None:
    consent = Consent(requested_at="2026-02-01T00:00:00Z", form_version="v1", source="import")
    kept = (
        joined("noyb", "2026-02-01T00:00:00Z"),
        replace(joined("edri", "2026-03-01T00:00:00Z", PENDING), consent=consent),
    )
    item = memberships_item(kept)
    assert set(item) == {"noyb", "edri"} and "joined_at" not in item["edri"]
    assert memberships_from(item) == kept
