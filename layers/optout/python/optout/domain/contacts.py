"""Contacts: which channel a contact is for, and its one normal form.

Email addresses are checked for syntax by `email-validator` (no DNS lookups: a subscribe request
must not wait on the network) and normalised; phone numbers are parsed by `phonenumbers`,
read in the subscriber's country when written without a country code, and kept in E.164.
The normal form is what is stored, sent to and hashed into the subscriber id, so
``Ada@Example.ORG`` and ``ada@example.org`` are one subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from optout.core.errors import InvalidInput

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")

MAX_CONTACT_LENGTH = 254  # RFC 5321's limit for a whole address; any phone number is shorter


@dataclass(frozen=True)
class Contact:
    channel: Channel
    address: str  # normalised: lower-case email address, or E.164 number

    @property
    def masked(self) -> str:
        """A form safe for logs and pages: ``a***@example.org``, ``+4915*****678``."""
        if self.channel == "email":
            local, _, domain = self.address.partition("@")
            return f"{local[:1]}***@{domain}"
        return self.address[:5] + "*" * max(len(self.address) - 8, 0) + self.address[-3:]


# SES's mailbox simulator: mail there reaches no person (`optout smoke` sends to it).
SIMULATOR_DOMAIN = "simulator.amazonses.com"


def is_test_recipient(address: str) -> bool:
    """Whether `address` is one of AWS's test recipients (`success+run1@simulator...`)."""
    return address.rpartition("@")[2].lower() == SIMULATOR_DOMAIN


def parse(
    raw: object,
    *,
    channel: str | None = None,
    country: str | None = None,
    allowed_countries: frozenset[str] | None = None,
) -> Contact:
    """Normalise `raw` into a contact, guessing the channel from its shape unless given.

    `country` (ISO 3166-1 alpha-2) is how a number without ``+`` is read; a number from
    outside `allowed_countries` is refused (nobody may make the bot text numbers abroad). Raises
    `InvalidInput` naming the ``contact`` field with a reason a person can act on.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput({"contact": "give an email address or a mobile phone number"})
    text = raw.strip()
    if len(text) > MAX_CONTACT_LENGTH:
        raise InvalidInput({"contact": f"longer than {MAX_CONTACT_LENGTH} characters"})
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput({"channel": f"use one of {', '.join(CHANNELS)}"})
    if channel is None and "@" not in text and any(char.isalpha() for char in text):
        raise InvalidInput(
            {
                "contact": "neither an email address nor a phone number; write name@example.org or +49 151 23456789"
            }
        )
    chosen = channel or ("email" if "@" in text else "sms")
    return _email(text) if chosen == "email" else _phone(text, country, allowed_countries)


# email-validator and phonenumbers are imported where a contact is parsed, not with this
# module: together they take a fifth of a second to import from source, and only a subscribe
# request, an import or a preview parses a contact, not the pages and queues that use `Contact`.


def _email(text: str) -> Contact:
    from email_validator import EmailNotValidError, validate_email

    try:
        # SMTPUTF8 addresses (jörg@...) cannot be sent through SES's raw MIME path.
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InvalidInput({"contact": f"not a valid email address: {error}"}) from None
    return Contact("email", (result.ascii_email or result.normalized).lower())


@cache
def _not_textable() -> frozenset[int]:
    """The types of number that cannot receive a text message."""
    from phonenumbers import PhoneNumberType

    return frozenset(
        {
            PhoneNumberType.FIXED_LINE,
            PhoneNumberType.TOLL_FREE,
            PhoneNumberType.PREMIUM_RATE,
            PhoneNumberType.SHARED_COST,
            PhoneNumberType.UAN,
            PhoneNumberType.VOICEMAIL,
            PhoneNumberType.PAGER,
        }
    )


def _phone(text: str, country: str | None, allowed_countries: frozenset[str] | None) -> Contact:
    import phonenumbers
    from phonenumbers import NumberParseException

    # A country group code (EU, UK...) is no help for reading a national number.
    reading_country = country if country and len(country) == 2 and country != "UK" else None
    try:
        number = phonenumbers.parse(text, reading_country)
    except NumberParseException:
        raise InvalidInput(
            {"contact": "not a phone number; write it with its country code, like +49 151 23456789"}
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput({"contact": "not a valid phone number for its country"})
    if (
        allowed_countries is not None
        and phonenumbers.region_code_for_number(number) not in allowed_countries
    ):
        raise InvalidInput({"contact": "this number is not from the region you chose"})
    if phonenumbers.number_type(number) in _not_textable():
        raise InvalidInput({"contact": "this number cannot receive text messages; give a mobile"})
    return Contact("sms", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
