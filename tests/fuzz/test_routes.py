"""Bad input through the real routes and handlers (the `stack`: moto, tables from
template.yaml): no 500, no traceback, no unescaped payload in a page, and a refusal writes
nothing."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from typing import Any
from urllib.parse import urlencode

from hypothesis import event, given
from hypothesis import strategies as st

from local import invoke
from optout.feedback.inbound import HELP_WORDS, START_WORDS, STOP_WORDS, keyword
from optout.subscribers import imports
from tests.fuzz.hostile import PATHS, hostile_text, json_values
from tests.helpers import LINKEDIN, active, sample_event
from tests.integration.conftest import Stack

TABLES = ("SUBSCRIBERS_TABLE", "CAMPAIGNS_TABLE", "DELIVERIES_TABLE")
# What must never come back raw in a page: each markup fragment we send, with its "<" (escaped,
# the same text is harmless and may well be shown back).
RAW = ("<script>alert(1)", "<img src=x onerror", "</textarea></title><svg", "<a href='javascript:")


def snapshot(stack: Stack) -> list[list[str]]:
    return [sorted(repr(sorted(item.items())) for item in stack.items(table)) for table in TABLES]


def assert_safe(reply: Any) -> None:
    assert reply.status < 500, (reply.status, reply.text[:500])
    assert "Traceback" not in reply.text and 'File "' not in reply.text
    if "html" in reply.headers.get("Content-Type", ""):
        assert not any(raw in reply.text for raw in RAW), reply.text


def assert_refusal_wrote_nothing(stack: Stack, reply: Any, before: list[list[str]]) -> None:
    if reply.status >= 400:
        assert snapshot(stack) == before, f"a {reply.status} changed a table"


# -- the policy-change webhook ----------------------------------------------------------------


@given(body=st.one_of(st.binary(max_size=500), json_values.map(lambda v: json.dumps(v).encode())))
def test_webhook_bodies_signed_but_malformed_are_a_400_and_write_nothing(
    stack: Stack, body: bytes
) -> None:
    before = snapshot(stack)
    reply = stack.post_webhook(body.decode("utf-8", "replace").encode(), webhook_id="msg_fuzz")
    assert_safe(reply)
    assert reply.status in (200, 400, 413)
    assert_refusal_wrote_nothing(stack, reply, before)


@given(path=st.sampled_from(PATHS), value=json_values)
def test_the_linkedin_webhook_with_any_field_changed_is_a_200_or_a_400(
    stack: Stack, test_clock, path, value
) -> None:  # type: ignore[no-untyped-def]
    document = copy.deepcopy(LINKEDIN)
    target = document
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    before = snapshot(stack)
    reply = stack.post_webhook(json.dumps(document).encode(), webhook_id=f"msg_{len(before[2])}")
    assert_safe(reply)
    assert reply.status in (200, 400)
    assert_refusal_wrote_nothing(stack, reply, before)


@given(
    headers=st.fixed_dictionaries(
        {},
        optional={
            "webhook-id": hostile_text(60, lines=False),
            "webhook-timestamp": st.one_of(st.integers().map(str), hostile_text(20, lines=False)),
            "webhook-signature": hostile_text(120, lines=False),
        },
    )
)
def test_unsigned_webhooks_are_a_401_and_write_nothing(stack: Stack, headers) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(stack)
    reply = stack.call("webhook-policy-changed", headers=headers)
    assert reply.status == 401 and snapshot(stack) == before


# -- every link with a token -----------------------------------------------------------------

LINKS = [
    ("confirm-page", "/confirm/"),
    ("confirm", "/confirm/"),
    ("link-click", "/r/"),
    ("short-link", "/s/"),
    ("done-page", "/done/"),
    ("done", "/done/"),
    ("unsubscribe-page", "/unsubscribe/"),
    ("unsubscribe-one-click", "/unsubscribe/"),
    ("privacy-page", "/privacy/"),
    ("privacy-erase", "/privacy/"),
]
path_tokens = st.one_of(
    st.text(min_size=1, max_size=120),
    hostile_text(400),
    st.from_regex(r"\Ak1\.[a-z]+\.[\w.-]{1,80}\Z"),
).map(lambda t: t.replace("/", "%2F").replace("\r", "").replace("\n", "") or "x")


@given(link=st.sampled_from(LINKS), token=path_tokens, accept_json=st.booleans())
def test_a_forged_link_of_any_kind_gets_a_page_that_says_so_and_changes_nothing(
    stack: Stack, link, token: str, accept_json: bool
) -> None:  # type: ignore[no-untyped-def]
    active("lena@example.org", "DE", "de")
    before = snapshot(stack)
    event, prefix = link
    headers = {"Accept": "application/json"} if accept_json else {"Accept": "text/html"}
    reply = stack.call(event, path=prefix + token, headers=headers)
    assert_safe(reply)
    assert 400 <= reply.status < 500
    assert snapshot(stack) == before


# -- the subscribe form ----------------------------------------------------------------------

FIELDS = ["contact", "region", "locale", "timezone", "platforms", "channel", "other"]
field_values = st.one_of(
    hostile_text(200),
    st.sampled_from(
        [
            "ada@example.org",
            "+14165550123",
            "DE",
            "EU",
            "de",
            "fr-CA",
            "Europe/Berlin",
            "linkedin",
            "all",
            "",
        ]
    ),
)


@given(
    fields=st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=7), as_json=st.booleans()
)
def test_subscribe_forms_of_any_content_never_fail_and_a_refusal_writes_nothing(
    stack: Stack, fields: dict[str, str], as_json: bool
) -> None:
    if as_json:
        body, content_type = json.dumps(fields), "application/json"
    else:
        body, content_type = urlencode(fields), "application/x-www-form-urlencoded"
    before = snapshot(stack)
    reply = stack.call("subscribe-form", body=body, headers={"Content-Type": content_type})
    assert_safe(reply)
    assert reply.status in (202, 400, 413, 429)
    assert_refusal_wrote_nothing(stack, reply, before)


@given(body=st.one_of(json_values.map(json.dumps), st.text(max_size=300), hostile_text(300)))
def test_subscribe_bodies_that_are_not_a_form_are_a_400(stack: Stack, body: str) -> None:
    before = snapshot(stack)
    reply = stack.call("subscribe-json", body=body)
    assert_safe(reply)
    assert reply.status in (202, 400, 413, 429)
    assert_refusal_wrote_nothing(stack, reply, before)


# -- texts to our number and SES notifications ------------------------------------------------


def feedback(message: str) -> dict[str, Any]:
    event = copy.deepcopy(sample_event("feedback-sms-stop"))
    event["Records"][0]["Sns"]["Message"] = message
    return invoke.invoke("FeedbackFunction", event)


@given(
    body=st.one_of(
        st.text(max_size=200), hostile_text(), st.sampled_from(["STOP", "help", "Start!"])
    ),
    number=st.one_of(st.just("+14165550123"), hostile_text(40)),
    inbound_id=st.one_of(st.just(None), hostile_text(40)),
)
def test_any_text_to_our_number_is_handled_and_only_keywords_change_anything(
    stack: Stack, body: str, number: str, inbound_id: str | None
) -> None:
    active("+14165550123", "CA", "en")
    message = {"originationNumber": number, "messageBody": body, "inboundMessageId": inbound_id}
    before = snapshot(stack)
    outcome = feedback(json.dumps(message))
    assert len(outcome["outcomes"]) == 1
    e164 = re.fullmatch(r"\+[1-9][0-9]{6,14}", number)
    if keyword(body) not in STOP_WORDS | HELP_WORDS | START_WORDS or not e164:
        # A keyword from a number that is not E.164 is a malformed text: ignored too
        assert outcome["outcomes"][0].startswith("ignored") and snapshot(stack) == before


SES_PATHS = [
    ("notificationType",),
    ("bounce",),
    ("bounce", "bounceType"),
    ("bounce", "bouncedRecipients"),
    ("mail",),
    ("mail", "tags"),
    ("complaint",),
]


@given(
    kind=st.sampled_from(["feedback-ses-bounce", "feedback-ses-complaint"]),
    path=st.sampled_from(SES_PATHS),
    value=json_values,
)
def test_any_ses_notification_is_handled(stack: Stack, kind: str, path, value) -> None:  # type: ignore[no-untyped-def]
    message = json.loads(sample_event(kind)["Records"][0]["Sns"]["Message"])
    target = message
    for name in path[:-1]:
        target = target.setdefault(name, {}) if isinstance(target.get(name), dict) else {}
    target[path[-1]] = value
    outcome = feedback(json.dumps(message))
    assert len(outcome["outcomes"]) == 1 and isinstance(outcome["outcomes"][0], str)


@given(message=st.one_of(st.text(max_size=200), json_values.map(json.dumps)))
def test_any_sns_message_to_the_feedback_function_is_handled(stack: Stack, message: str) -> None:
    assert len(feedback(message)["outcomes"]) <= 1


def test_lone_surrogates_in_feedback_are_ignored_not_failed_on(stack: Stack) -> None:
    # JSON may escape half a UTF-16 pair; such text does not even encode
    text = json.dumps({"originationNumber": "+1416555\ud800", "messageBody": "STOP\udcff"})
    assert feedback(text) == {"outcomes": ["ignored: originationNumber is not an E.164 number"]}
    bounce = json.loads(sample_event("feedback-ses-bounce")["Records"][0]["Sns"]["Message"])
    bounce["bounce"]["bouncedRecipients"] = [{"emailAddress": "\udcff@example.org"}, "x", None]
    assert feedback(json.dumps(bounce)) == {"outcomes": ["bounced"]}


# -- CSV imports ------------------------------------------------------------------------------

IMPORT_COLUMNS = list(imports.COLUMNS)
cell_values = st.one_of(
    hostile_text(80),
    st.sampled_from(
        [
            "ada@example.org",
            "ADA@example.org",
            "+41 79 123 45 67",
            "0791234567",
            '=HYPERLINK("http://evil")',
            "DE",
            "CH",
            "XX",
            "fr-CA",
            "Europe/Berlin",
            "Mars/Olympus",
            "linkedin;meta",
            "2025-09-20T14:00:00Z",
            "2999-01-01",
            "yesterday",
            "",
        ]
    ),
)


@given(
    # Mostly the real header, so that the rows themselves are what is tried.
    header=st.one_of(
        st.just(IMPORT_COLUMNS),
        st.just(IMPORT_COLUMNS),
        st.lists(st.sampled_from([*IMPORT_COLUMNS, "colour"]), min_size=1, max_size=10),
    ),
    rows=st.lists(st.lists(cell_values, min_size=0, max_size=11), max_size=6),
)
def test_csv_imports_of_any_content_never_fail_and_write_only_accepted_rows(
    stack: Stack, header: list[str], rows: list[list[str]]
) -> None:
    stack.put_secret("AdminTokenSecret", "fuzz-admin-token-0123456789")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    before = snapshot(stack)
    people_before = len(stack.items("SUBSCRIBERS_TABLE"))
    reply = stack.call(
        "admin-subscribers-import",
        body=out.getvalue(),
        headers={"Authorization": "Bearer fuzz-admin-token-0123456789"},
    )
    assert_safe(reply)
    assert reply.status in (200, 400, 413), reply.text
    event(f"import answered {reply.status}")
    assert_refusal_wrote_nothing(stack, reply, before)
    if reply.status == 200:
        report = reply.json()
        rejected_lines = {problem["line"] for problem in report["rejected"]}
        accepted = len(rows) - len(rejected_lines)
        assert len(stack.items("SUBSCRIBERS_TABLE")) - people_before <= accepted
