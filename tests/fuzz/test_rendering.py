"""Hostile campaign and subscriber text through the templates: the reminder's subject, headers,
text, HTML and SMS, and the pages. HTML escapes, headers cannot be injected, the Jinja2 sandbox
escapes come out as the plain text they are."""

from __future__ import annotations

import copy
import email
import email.policy
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optout.channels.email import build
from optout.core import settings
from optout.domain.locales import SUPPORTED_LOCALES
from optout.domain.models import Campaign, Consent, Policy, PolicyText, Reminder, Status, Subscriber
from optout.messages import reminders
from tests.fuzz.hostile import LINE_BREAKS, MARKUP, ODD, SANDBOX_ESCAPES, hostile_text
from tests.helpers import (
    CAMPAIGN,
    COMPLETE,
    LINKEDIN,
    active,
    at,
    link,
    linkedin_campaign,
    planned_reminder,
    to,
)
from tests.integration.conftest import Stack

SETTINGS = settings.from_environ({**COMPLETE, "OPTOUT_TOKEN_SECRET": "x" * 32})
NOW = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Content-Type",
}
# What an escape that worked would print: Python's own reprs and globals.
EVALUATED = re.compile(r"<class '|<built-in|<function |<module |__builtins__|\b49\b")


def campaign_with(text: PolicyText, translations: dict[str, PolicyText]) -> Campaign:
    policy = Policy(
        id=CAMPAIGN,
        text=text,
        source_url="https://example.org/news",
        setting_url="https://www.linkedin.com/settings",
        translations=translations,
    )
    return linkedin_campaign(policy)


def reminder(days_before: int) -> Reminder:
    return planned_reminder("EU", days_before)


def subscriber(
    locale: str, contact: str = "ada@example.org", zone: str = "Europe/Berlin"
) -> Subscriber:
    return Subscriber(
        subscriber_id="sfuzz",
        channel="email" if "@" in contact else "sms",
        contact=contact,
        region="DE",
        home_group="EU",
        locale=locale,
        timezone=zone,
        platforms=(),
        status=Status.ACTIVE,
        consent=Consent(requested_at="", form_version="", source="fuzz"),
        created_at="",
    )


one_line = hostile_text(200, lines=False).filter(bool)
policy_texts = st.builds(
    PolicyText,
    title=one_line,
    short_title=hostile_text(40, lines=False).filter(bool),
    summary=hostile_text(2000),
    steps=st.lists(hostile_text(300).filter(bool), min_size=1, max_size=12).map(tuple),
)


@given(
    text=policy_texts,
    translated=st.dictionaries(st.sampled_from(SUPPORTED_LOCALES), policy_texts, max_size=2),
    locale=st.sampled_from(SUPPORTED_LOCALES),
    days_before=st.sampled_from([14, 7, 1, 0]),
    zone=st.sampled_from(["Europe/Berlin", "Not/AZone", "Asia/Hong_Kong", ""]),
)
def test_hostile_campaign_text_cannot_inject_headers_markup_or_code(
    text, translated, locale, days_before, zone
) -> None:  # type: ignore[no-untyped-def]
    campaign, due = campaign_with(text, translated), reminder(days_before)
    person = subscriber(locale, zone=zone)
    link = reminders.links(SETTINGS, campaign, due, person.subscriber_id, NOW)
    drafts = reminders.Drafts(SETTINGS, campaign, due, NOW)
    message = drafts.email(person, link)
    mime = email.message_from_bytes(build(SETTINGS, message), policy=email.policy.default)
    # Then the headers are ours alone, one line each
    assert set(mime.keys()) == HEADERS
    assert "\n" not in str(mime["Subject"]) and "\r" not in str(mime["Subject"])
    # the HTML escapes every bit of markup, and nothing the text said was evaluated
    html = mime.get_body(("html",)).get_content()
    plain = mime.get_body(("plain",)).get_content()
    used = translated.get(locale) or translated.get(locale.split("-")[0]) or text
    for fragment in MARKUP:
        if fragment in "".join([used.title, used.summary, *used.steps]) and "<" in fragment:
            assert fragment not in html
    assert not EVALUATED.search(html) and not EVALUATED.search(plain)
    assert used.title.replace("\u00a0", " ") in plain.replace("\u00a0", " ")  # shown as written
    # and the text message is its own text, links in place
    sms = drafts.sms(subscriber(locale, "+4915123456789", zone), link, first=True)
    assert not EVALUATED.search(sms.text)


@given(contact=hostile_text(80))
def test_a_hostile_contact_never_reaches_a_header_with_a_line_break(contact: str) -> None:
    # (contacts are validated, and made ASCII, at subscribe; this is the last line of defence)
    campaign = campaign_with(PolicyText("T", "T", "S", ("one",)), {})
    person = subscriber("en", contact=contact + "@example.org")
    link = reminders.links(SETTINGS, campaign, reminder(7), person.subscriber_id, NOW)
    message = reminders.Drafts(SETTINGS, campaign, reminder(7), NOW).email(person, link)
    try:
        mime = build(SETTINGS, message)
    except ValueError as refused:  # a line break, or (UnicodeEncodeError) not ASCII
        assert "line break" in str(refused) or isinstance(refused, UnicodeEncodeError)
        return
    parsed = email.message_from_bytes(mime, policy=email.policy.default)
    assert set(parsed.keys()) == HEADERS


def hostile_linkedin() -> dict[str, Any]:
    """The LinkedIn webhook with every known escape and hostile fragment in its texts, within
    what a body may hold (control characters but tab and line breaks are refused at the door:
    tests/unit/test_policy.py)."""
    payload = copy.deepcopy(LINKEDIN)
    fragments = [
        fragment
        for fragment in SANDBOX_ESCAPES + MARKUP + LINE_BREAKS + ODD
        if not any(unicodedata.category(c) == "Cc" and c not in "\t\r\n" for c in fragment)
    ]
    steps = [f[:300] for f in fragments if f.strip()][:12]
    title = "LinkedIn {{ ''.__class__.__mro__[1].__subclasses__() }} <script>alert(1)</script> \u202eevil"
    payload["policy"].update(
        title=title,
        short_title="{{ cycler.__init__.__globals__ }}"[:40],
        summary="".join(fragments)[:2000],
        steps=steps,
    )
    payload["policy"]["translations"]["de"] = {
        "title": "{0.__class__.__init__.__globals__} %(organisation)s <b>fett</b>",
        "steps": ["{{ lipsum.__globals__['os'].popen('id').read() }}", "\r\nBcc: x@example.org"],
    }
    return payload


def test_the_known_sandbox_escapes_as_campaign_text_go_out_as_plain_text(
    stack: Stack, test_clock
) -> None:
    # Given a campaign whose title, summary and steps are sandbox escapes and markup
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    reply = stack.post_webhook(hostile_linkedin())
    assert reply.status == 200, reply.text
    for address, region, locale in (
        ("lena@example.org", "DE", "de"),
        ("emma@example.org", "FR", "en"),
    ):
        active(address, region, locale)
    active("+33612345678", "FR", "fr")
    # When its reminder goes out
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    # Then every message went, with our headers only, the escapes shown and never evaluated
    stack.outbox()
    messages = stack._outbox.messages()
    assert sorted(m["to"] for m in messages) == [
        "+33612345678",
        "emma@example.org",
        "lena@example.org",
    ]
    for message in messages:
        assert not EVALUATED.search(message["text"] + message["html"] + message["subject"])
        assert "<script>alert(1)" not in message["html"] and "<b>fett" not in message["html"]
        if message["channel"] == "email":
            assert set(message["headers"]) == HEADERS
            assert "Bcc" not in message["headers"]
    (lena,) = to(stack, "lena@example.org")
    assert "{0.__class__.__init__.__globals__} %(organisation)s <b>fett</b>" in lena.text
    (emma,) = to(stack, "emma@example.org")
    assert "{{ ''.__class__.__mro__[1].__subclasses__() }}" in emma.subject
    # And the "I've switched it off" page shows the steps as text too
    page = stack.call("done-page", path=link(emma.text, "done"))
    assert page.status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text and not EVALUATED.search(page.text)


@pytest.mark.parametrize("escape", SANDBOX_ESCAPES)
def test_each_sandbox_escape_as_a_title_is_accepted_as_text_or_refused(
    stack: Stack, test_clock, escape: str
) -> None:
    payload = copy.deepcopy(LINKEDIN)
    payload["policy"]["title"] = escape
    reply = stack.post_webhook(payload, webhook_id=f"msg_{abs(hash(escape))}")
    assert reply.status == 200
    campaign = stack.items("CAMPAIGNS_TABLE")
    stored = next(item for item in campaign if item["sk"] == "CAMPAIGN")
    assert stored["policy"]["title"] == escape  # stored as written, rendered as text (above)
