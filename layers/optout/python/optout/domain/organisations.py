"""Coalition mode: one deployment serving several organisations (issue 18).

An organisation has its own organisers, its own sender identity (the From address, the postal
address in every footer, a support contact, an SES configuration set), its own pages' name and
privacy notice, and its own subscribers. A coalition owner (the holder of the deployment's
admin token) adds organisations; until they do, the deployment serves one, the default
organisation, made from its own parameters (OrganisationName, SenderAddress, ...). So a
deployment that never adds one sees no change, and every record written before organisations
existed belongs to the default one: a subscriber with no memberships is a member of it with
their record's status, a campaign that names no organisation is its.

One person is one record, whatever the organisations they joined (its id is the keyed hash of
the contact): a shared campaign reaches them once, attributed to one member organisation
(`attributed_to`), whose name and footer the message carries.

Pure logic: no AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from optout.core.settings import Settings
from optout.domain.models import (
    DEFAULT_ORGANISATION,
    Campaign,
    Membership,
    MembershipStatus,
    Status,
    Subscriber,
)

DEFAULT = DEFAULT_ORGANISATION
# An organisation's id is in paths (/o/<id>/subscribe) and keys: a short lower-case slug.
ID_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")


class InvalidOrganisation(ValueError):
    """An organisation's id or fields that cannot be kept; the message says which and why."""


@dataclass(frozen=True)
class Organisation:
    """One group of a coalition, as its subscribers meet it."""

    organisation_id: str
    name: str  # in the pages' titles, the emails' From name and footers
    sender_address: str  # the From address (an identity verified in SES)
    postal_address: str  # in every email's footer (CAN-SPAM, the ePrivacy rules)
    support_contact: str = ""  # where HELP points; "" : the sender address
    privacy_notice_url: str = ""  # the subscribe form links to it; "" : the deployment's
    configuration_set: str = ""  # the SES configuration set; "" : the deployment's
    created_at: str = ""

    @property
    def help_contact(self) -> str:
        return self.support_contact or self.sender_address


@dataclass(frozen=True)
class Organiser:
    """Who an admin request comes from: the coalition owner (the deployment's admin token),
    who sees every organisation and works as the default one, or an organiser of one
    organisation (a token the owner gave it), who sees only that one's subscribers, campaigns
    and numbers."""

    organisation: str
    owner: bool
    how: str = "bearer"  # "bearer" (the API, the CLI) or "session" (the dashboard's cookie)
    token_id: str = ""  # the organiser's token (`OrganiserToken`); "" for the owner

    def may_see(self, organisation: str) -> bool:
        return self.owner or organisation == self.organisation


OWNER = Organiser(DEFAULT, owner=True)


@dataclass(frozen=True)
class OrganiserToken:
    """A token the coalition owner gave an organisation's organisers, as it is kept: never the
    token itself (shown once, when it was made), only a keyed hash of it (`optout.core.keys`)."""

    token_id: str  # a short id, to list and revoke it by
    organisation: str
    name: str  # whose it is, or what for ("Ana", "the CLI")
    created_at: str


def default_organisation(settings: Settings) -> Organisation:
    """The organisation the deployment's own parameters describe."""
    return Organisation(
        organisation_id=DEFAULT,
        name=settings.organisation_name,
        sender_address=settings.sender_address,
        postal_address=settings.organisation_address,
        support_contact=settings.support_contact,
        privacy_notice_url=settings.privacy_notice_url,
        configuration_set=settings.ses_configuration_set,
    )


def check_id(organisation_id: str) -> str:
    """`organisation_id` if it can name an organisation; InvalidOrganisation otherwise."""
    if not ID_PATTERN.fullmatch(organisation_id):
        raise InvalidOrganisation(
            "an organisation's id is 1 to 40 lower-case letters, digits and inner hyphens "
            f"(it goes in its subscribe form's path): not {organisation_id!r}"
        )
    return organisation_id


def memberships_of(subscriber: Subscriber) -> tuple[Membership, ...]:
    """The person's memberships. A record without any (written before coalitions, or by a
    deployment that serves one organisation) is a member of the default organisation, with the
    record's own status and times."""
    if subscriber.memberships:
        return subscriber.memberships
    status = {
        Status.PENDING: MembershipStatus.PENDING,
        Status.ACTIVE: MembershipStatus.ACTIVE,
    }.get(subscriber.status, MembershipStatus.UNSUBSCRIBED)
    return (
        Membership(
            organisation=DEFAULT,
            status=status,
            requested_at=subscriber.created_at,
            joined_at=subscriber.confirmed_at
            or (subscriber.created_at if status == "active" else ""),
        ),
    )


def member_of(subscriber: Subscriber) -> tuple[str, ...]:
    """The organisations whose messages reach the person now, the first joined first: none
    unless their record is active (a bounce, a complaint, STOP by text stop them all)."""
    if subscriber.status is not Status.ACTIVE:
        return ()
    active = [m for m in memberships_of(subscriber) if m.status is MembershipStatus.ACTIVE]
    return tuple(
        m.organisation for m in sorted(active, key=lambda m: (m.joined_at, m.organisation))
    )


def attributed_to(subscriber: Subscriber, campaign: Campaign) -> str | None:
    """The organisation a campaign's message to this person comes from: of the campaign's
    organisations they belong to, the first the coalition listed (`Campaign.attribution`),
    else the one they joined first. None: they belong to none of them (the message is not
    theirs)."""
    theirs = [org for org in member_of(subscriber) if org in campaign.organisations]
    if not theirs:
        return None
    preferred = [org for org in campaign.attribution if org in theirs]
    return preferred[0] if preferred else theirs[0]


def in_coalition(campaign: Campaign) -> bool:
    """Whether a campaign reaches an organisation besides the default one: then its numbers
    are counted per organisation too, and its messages, links and events name the one each
    belongs to (a deployment that serves one organisation counts and writes as before)."""
    return campaign.organisations != (DEFAULT,)
