import pytest

from optout.core.errors import InvalidInput
from optout.domain.contacts import parse


@pytest.mark.parametrize(
    "raw, country, expected",
    [
        ("Ada.Lovelace@Example.ORG", None, ("email", "ada.lovelace@example.org")),
        ("  ada@example.org ", None, ("email", "ada@example.org")),
        ("0151 23456789", "DE", ("sms", "+4915123456789")),
        ("+49 (151) 234-56789", None, ("sms", "+4915123456789")),
        ("(416) 555-0123", "CA", ("sms", "+14165550123")),
        ("5123 4567", "HK", ("sms", "+85251234567")),
        ("+41 79 123 45 67", "EU", ("sms", "+41791234567")),  # a group is no reading country
    ],
)
def test_contacts_are_normalised(raw: str, country: str | None, expected: tuple[str, str]) -> None:
    contact = parse(raw, country=country)
    assert (contact.channel, contact.address) == expected


@pytest.mark.parametrize(
    "raw, channel, problem",
    [
        ("ada@", None, "not a valid email address"),
        ("ada@@example.org", None, "not a valid email address"),
        ("ada@example", None, "not a valid email address"),
        ("call me", None, "neither an email address nor a phone number"),
        ("12", "sms", "not a valid phone number"),
        ("+49 30 1234567", None, "cannot receive text messages"),  # a Berlin landline
        ("+1 800 555 0199", None, "cannot receive text messages"),  # toll free
        ("x" * 300 + "@example.org", None, "longer than 254"),
        ("", None, "give an email address"),
        ("ada@example.org", "fax", "use one of email, sms"),
    ],
)
def test_bad_contacts_say_what_is_wrong(raw: str, channel: str | None, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(raw, channel=channel, country="DE")
    assert problem in " ".join(caught.value.problems.values())


def test_a_masked_contact_shows_enough_to_recognise_it_and_no_more() -> None:
    assert parse("ada@example.org").masked == "a***@example.org"
    assert parse("+4915123456789").masked == "+4915******789"
