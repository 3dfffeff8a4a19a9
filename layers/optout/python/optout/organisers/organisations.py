"""What the coalition owner does to the coalition's organisations: list, add, show and edit
them, and give their organisers tokens (shown once, kept only as a keyed hash), list and revoke
those. Only the owner (the admin token) comes here: the routes refuse everyone else first.

The default organisation is listed first, made from the deployment's parameters: it is edited
by changing those, never here. Every problem of a request is named in one 400, and nothing is
saved then.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from optout.channels import email
from optout.core import keys
from optout.core.clock import iso
from optout.core.errors import Conflict, InvalidInput, NotFound
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain import contacts
from optout.domain.organisations import (
    DEFAULT,
    InvalidOrganisation,
    Organisation,
    OrganiserToken,
    check_id,
    default_organisation,
)
from optout.organisers.access import TOKEN_PREFIX
from optout.store import OrganisationStore

ONLY_THE_OWNER = "only the coalition owner manages organisations"
SHOWN_ONCE = "the token is shown here once, and never again: give it to its organiser now"
# The fields an organisation is made of; the id only when it is added.
REQUIRED = ("name", "sender_address", "postal_address")
OPTIONAL = ("support_contact", "privacy_notice_url", "configuration_set")
FIELDS = frozenset({"id", *REQUIRED, *OPTIONAL})
MAX_TEXT = 300
MAX_TOKEN_NAME = 100
# SES's own rule for a configuration set's name.
_CONFIGURATION_SET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def list_organisations(settings: Settings) -> list[dict[str, Any]]:
    """Every organisation: the default one (the deployment's own) first, then the others by id."""
    added = OrganisationStore(settings).organisations()
    return [view(default_organisation(settings)), *(view(org) for org in added)]


def known(settings: Settings) -> frozenset[str]:
    """The ids of every organisation, the default one among them."""
    return frozenset({DEFAULT, *(org.organisation_id for org in _store(settings).organisations())})


def name_of(settings: Settings, organisation_id: str) -> str:
    """An organisation's name, as the dashboard's header shows it (its id if it has none)."""
    if organisation_id == DEFAULT:
        return default_organisation(settings).name
    found = _store(settings).get(organisation_id)
    return found.name if found else organisation_id


def show(settings: Settings, organisation_id: str) -> dict[str, Any]:
    """One organisation, with its organisers' tokens (never the tokens themselves), and
    whether SES lets it send from its address (`sender`)."""
    organisation = _existing(settings, organisation_id)
    tokens = _store(settings).tokens(organisation.organisation_id)
    return {
        **view(organisation),
        "tokens": [asdict(token) for token in tokens],
        "sender": sender_check(organisation),
    }


def sender_check(organisation: Organisation) -> dict[str, Any]:
    """Whether SES lets the account send from the organisation's address (or its domain), and
    what to do if not: its messages would all be refused until it is verified."""
    verified = email.can_send_from(organisation.sender_address)
    return {
        "verified": verified,
        "problem": (
            f"{organisation.sender_address} is not verified in SES: verify it, or its domain, "
            "before this organisation's messages can go (SES refuses them until then)"
            if verified is False
            else ""
        ),
    }


def create(settings: Settings, fields: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Add an organisation: 409 for the default one's id, or one already added."""
    problems = _unknown(fields)
    raw_id = fields.get("id", "")
    organisation_id = ""
    if not isinstance(raw_id, str) or not raw_id.strip():
        problems["id"] = "give the organisation's id, as text (e.g. friends-de)"
    else:
        try:
            organisation_id = check_id(raw_id.strip())
        except InvalidOrganisation as error:
            problems["id"] = str(error)
    values = _checked(fields, problems, editing=False)
    if problems:
        raise InvalidInput(problems)
    if organisation_id == DEFAULT:
        raise Conflict(
            "the default organisation is the deployment's own: choose another id for this one"
        )
    organisation = Organisation(organisation_id=organisation_id, created_at=iso(now), **values)
    if not _store(settings).create(organisation):
        raise Conflict(f"there is already an organisation {organisation_id!r}")
    logger.info("organisation added", extra={"organisation": organisation_id})
    return {**view(organisation), "sender": sender_check(organisation)}


def edit(settings: Settings, organisation_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Change an added organisation's fields: each one given is set, the others stay (an
    optional one given empty is cleared). The default organisation is the deployment's own,
    changed by its parameters: 409."""
    organisation = _existing(settings, organisation_id)
    if organisation.organisation_id == DEFAULT:
        raise Conflict(
            "the default organisation is made from the deployment's parameters "
            "(OrganisationName, SenderAddress, OrganisationAddress, SupportContact, "
            "PrivacyNoticeUrl, EmailConfigurationSet): change them and deploy again"
        )
    problems = _unknown(fields)
    if "id" in fields and str(fields["id"]).strip() != organisation_id:
        problems["id"] = "an organisation's id cannot change"
    values = _checked(fields, problems, editing=True)
    if problems:
        raise InvalidInput(problems)
    edited = replace(organisation, **values)
    if not _store(settings).save(edited):
        raise NotFound(f"no organisation {organisation_id!r}")
    logger.info("organisation edited", extra={"organisation": organisation_id})
    return {**view(edited), "sender": sender_check(edited)}


def add_token(
    settings: Settings, organisation_id: str, fields: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """A new token for the organisation's organisers, named for whom it is; the answer holds
    the token, this once. Only its keyed hash is kept."""
    organisation = _existing(settings, organisation_id)
    unknown = sorted(set(fields) - {"name"})
    if unknown:
        raise InvalidInput({name: "not a field of a token (give its name)" for name in unknown})
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_TOKEN_NAME:
        raise InvalidInput(
            {"name": f"say whose token it is, or what for (1 to {MAX_TOKEN_NAME} characters)"}
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    kept = OrganiserToken(
        token_id="tok_" + base64.b32encode(secrets.token_bytes(5)).decode("ascii").lower(),
        organisation=organisation.organisation_id,
        name=name.strip(),
        created_at=iso(now),
    )
    if not _store(settings).add_token(keys.organiser_token_hash(settings, token), kept):
        raise Conflict("that token exists: try again")  # 256 random bits: never in practice
    logger.info(
        "organiser token added",
        extra={"organisation": kept.organisation, "token_id": kept.token_id},
    )
    return {**asdict(kept), "token": token, "note": SHOWN_ONCE}


def tokens(settings: Settings, organisation_id: str) -> list[dict[str, Any]]:
    """An organisation's tokens, oldest first: their ids, names and dates, never the tokens."""
    organisation = _existing(settings, organisation_id)
    return [asdict(token) for token in _store(settings).tokens(organisation.organisation_id)]


def revoke(settings: Settings, organisation_id: str, token_id: str) -> dict[str, Any]:
    """Forget one of an organisation's tokens: refused from now on, and its sessions end."""
    organisation = _existing(settings, organisation_id)
    if not _store(settings).revoke(organisation.organisation_id, token_id):
        raise NotFound(f"{organisation_id!r} has no token {token_id!r}")
    logger.info(
        "organiser token revoked", extra={"organisation": organisation_id, "token_id": token_id}
    )
    return {"organisation": organisation_id, "token_id": token_id, "revoked": True}


def from_form(fields: Mapping[str, Any]) -> dict[str, Any]:
    """An organisation from the dashboard's form: each field as text (the edit form shows every
    field filled in, so an optional one emptied there is cleared)."""
    return {name: str(value).strip() for name, value in fields.items()}


def view(organisation: Organisation) -> dict[str, Any]:
    """An organisation as the owner reads it."""
    return {
        "id": organisation.organisation_id,
        "name": organisation.name,
        "sender_address": organisation.sender_address,
        "postal_address": organisation.postal_address,
        "support_contact": organisation.support_contact,
        "privacy_notice_url": organisation.privacy_notice_url,
        "configuration_set": organisation.configuration_set,
        "created_at": organisation.created_at,
        "default": organisation.organisation_id == DEFAULT,
    }


def _existing(settings: Settings, organisation_id: str) -> Organisation:
    if organisation_id == DEFAULT:
        return default_organisation(settings)
    try:
        check_id(organisation_id)
    except InvalidOrganisation:
        raise NotFound(f"no organisation {organisation_id!r}") from None
    found = _store(settings).get(organisation_id)
    if found is None:
        raise NotFound(f"no organisation {organisation_id!r}")
    return found


def _unknown(fields: Mapping[str, Any]) -> dict[str, str]:
    return {name: "not a field of an organisation" for name in sorted(set(fields) - FIELDS)}


def _checked(
    fields: Mapping[str, Any], problems: dict[str, str], *, editing: bool
) -> dict[str, str]:
    """The organisation's fields given, each checked; what is wrong goes in `problems`."""
    values: dict[str, str] = {}
    for name in (*REQUIRED, *OPTIONAL):
        if name not in fields:
            if name in REQUIRED and not editing:
                problems[name] = "is required"
            continue
        raw = fields[name]
        if not isinstance(raw, str):
            problems[name] = "must be text"
            continue
        value = raw.strip()
        if len(value) > MAX_TEXT:
            problems[name] = f"at most {MAX_TEXT} characters"
        elif name in REQUIRED and not value:
            problems[name] = "must not be empty"
        elif value and name in ("sender_address", "support_contact"):
            value = _address(name, value, problems)
        elif value and name == "privacy_notice_url" and not value.startswith("https://"):
            problems[name] = "an https:// address of the organisation's privacy notice"
        elif value and name == "configuration_set" and not set(value) <= _CONFIGURATION_SET:
            problems[name] = "an SES configuration set's name: letters, digits, - and _"
        values[name] = value
    return values


def _address(name: str, value: str, problems: dict[str, str]) -> str:
    """An email address normalised; a support contact may be a web address instead."""
    if name == "support_contact" and value.startswith("https://"):
        return value
    try:
        return contacts.parse(value, channel="email").address
    except InvalidInput:
        problems[name] = (
            "an email address (the From address, verified in SES)"
            if name == "sender_address"
            else "an email address or an https:// page"
        )
        return value


def _store(settings: Settings) -> OrganisationStore:
    return OrganisationStore(settings)
