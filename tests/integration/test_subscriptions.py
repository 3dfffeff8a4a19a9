"""Double opt-in through the real handlers, with the sample events of events/ and moto."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from local import invoke
from optout.core import clock, keys, settings
from optout.messages import consent
from optout.store import SubscriberStore
from optout.subscribers import subscriptions
from tests.helpers import confirm_path
from tests.integration.conftest import Stack


def subscriber(stack: Stack) -> dict:
    """The one subscriber, once the notifier has recorded the requests queued so far."""
    stack.drain_notices()
    (item,) = stack.items("SUBSCRIBERS_TABLE")
    return item


def test_email_subscriber_is_pending_until_the_confirmation_is_posted(stack: Stack) -> None:
    # Given a person subscribes by email through the API
    reply = stack.call("subscribe-json")
    assert reply.status == 202
    assert reply.json()["status"] == "pending"
    # When the notifier sends the confirmation
    stack.drain_notices()
    (email,) = stack.outbox()
    # Then one email reached them, in German, with a link back to the API that took the request
    assert email.channel == "email" and email.to == "ada@example.org"
    assert "Bitte bestätigen" in email.subject
    assert "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/confirm/" in email.text
    assert confirm_path(email.text) == confirm_path(email.html)
    record = subscriber(stack)
    assert record["status"] == "pending"
    assert "audience_pk" not in record
    wording = consent.form_wording("de")  # the form's wording in the request's language
    assert record["consent"] == {
        "requested_at": "2025-10-27T09:00:00Z",
        "form_version": wording.version,
        "source": "api",
        "kind": "form",
        "wording_sha256": wording.sha256,
        "locale": "de",
    }
    # When a link scanner opens the link, nothing changes
    page = stack.call("confirm-page", path=confirm_path(email.text))
    assert page.status == 200 and '<form method="post"' in page.text
    assert subscriber(stack)["status"] == "pending"
    # When the person presses the button
    done = stack.call("confirm", path=confirm_path(email.text))
    # Then they are active, in the audience index of their region
    assert done.status == 200 and "Sie sind angemeldet" in done.text  # Ada reads German
    assert "a***@example.org" in done.text
    record = subscriber(stack)
    assert record["status"] == "active"
    assert record["confirmed_at"] == "2025-10-27T09:00:00Z"
    assert re.fullmatch(r"EU#\d\d", record["audience_pk"])
    assert record["audience_sk"] == record["subscriber_id"]
    assert record["timezone"] == "Europe/Berlin" and record["platforms"] == ["linkedin"]


def test_sms_subscriber_confirms_from_the_text_message(stack: Stack, test_clock) -> None:
    # Given a Canadian subscribes by SMS in the afternoon, with the number written the local way
    test_clock.now = datetime(2025, 10, 27, 19, 0, tzinfo=UTC)  # 15:00 in Toronto
    assert stack.call("subscribe-sms-json").status == 202
    stack.drain_notices()
    # Then one text reached the number in E.164, in Canadian French, with the link
    (sms,) = stack.outbox()
    assert (sms.channel, sms.to) == ("sms", "+14165550123")
    assert "confirmez" in sms.text
    # And posting the link activates the subscriber with their region's reference zone
    assert stack.call("confirm", path=confirm_path(sms.text)).status == 200
    record = subscriber(stack)
    assert (record["status"], record["channel"], record["timezone"]) == (
        "active",
        "sms",
        "America/Toronto",
    )
    assert record["contact"] == "+14165550123"


def test_the_html_form_subscribes_and_records_the_form_as_the_source(stack: Stack) -> None:
    form = stack.call("subscribe-form-page")
    assert form.status == 200 and form.headers["Content-Type"].startswith("text/html")
    assert 'name="contact"' in form.text and 'value="DE"' in form.text
    reply = stack.call("subscribe-form")
    assert reply.status == 202 and "Check your messages" in reply.text
    assert subscriber(stack)["consent"]["source"] == "web-form"
    assert subscriber(stack)["locale"] == "es"


def test_the_answer_does_not_reveal_an_existing_subscriber(stack: Stack, test_clock) -> None:
    # Given an active subscriber
    stack.call("subscribe-json")
    stack.drain_notices()
    stack.call("confirm", path=confirm_path(stack.outbox()[0].text))
    # When someone subscribes the same address again, later, with other settings
    test_clock.advance(hours=2)
    body = json.dumps({"contact": "ADA@example.org", "region": "FR", "locale": "fr"})
    again = stack.call("subscribe-json", body=body)
    stack.drain_notices()
    # Then the answer is the one a new contact gets, no message goes out, nothing changes
    first_answer = {
        "status": "pending",
        "message": "If this contact can receive reminders, a confirmation is on its way.",
    }
    assert (again.status, again.json()) == (202, first_answer)
    assert len(stack.outbox()) == 1
    record = subscriber(stack)
    assert (record["status"], record["region"], record["locale"]) == ("active", "DE", "de")


def test_a_known_and_a_new_contact_are_answered_after_the_same_work(stack: Stack) -> None:
    # Given an active subscriber
    stack.call("subscribe-json")
    stack.drain_notices()
    stack.call("confirm", path=confirm_path(stack.outbox()[0].text))
    stack.drain_notices()  # the catch-up that confirming asked for
    before = stack.items("SUBSCRIBERS_TABLE")
    # When they and a new contact subscribe
    known = stack.call("subscribe-json")
    new = stack.call(
        "subscribe-json", body=json.dumps({"contact": "bo@example.org", "region": "DE"})
    )
    # Then both answers came before anything was written (found by an attacker: the write
    # took longer for a new contact, so the answer's time told who was subscribed) ...
    assert known.status == new.status == 202 and known.text == new.text
    assert stack.items("SUBSCRIBERS_TABLE") == before
    # ... each queued one job of the same shape, which the notifier records
    jobs = stack.notice_jobs()
    assert [job["kind"] for job in jobs] == ["subscribe", "subscribe"]
    assert jobs[0].keys() == jobs[1].keys()
    stack.drain_notices()
    assert len(stack.items("SUBSCRIBERS_TABLE")) == 2


def test_an_address_that_bounced_gets_no_confirmation_when_it_subscribes_again(
    stack: Stack, test_clock
) -> None:
    # Given a subscriber whose address bounced for good (or who complained)
    stack.call("subscribe-json")
    stack.drain_notices()
    stack.call("confirm", path=confirm_path(stack.outbox()[0].text))
    store = SubscriberStore(settings.get())
    store.suppress(subscriber(stack)["subscriber_id"], "bounce: Permanent", test_clock.now)
    # When the address is subscribed again, a day later
    test_clock.advance(hours=24)
    again = stack.call("subscribe-json")
    stack.drain_notices()
    # Then the answer is the one anyone gets, nothing is sent to it, and it stays suppressed
    assert again.status == 202
    assert again.json()["message"].startswith("If this contact can receive reminders")
    assert len(stack.outbox()) == 1  # the first confirmation only
    assert subscriber(stack)["status"] == "suppressed"


def test_a_pending_contact_gets_at_most_one_confirmation_per_ten_minutes(
    stack: Stack, test_clock
) -> None:
    for _ in range(3):
        assert stack.call("subscribe-json").status == 202
        test_clock.advance(minutes=3)
    stack.drain_notices()
    assert len(stack.outbox()) == 1
    test_clock.advance(minutes=2)  # eleven minutes after the first
    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    assert len(stack.outbox()) == 2


def test_a_confirmation_link_expires_after_seven_days(stack: Stack, test_clock) -> None:
    stack.call("subscribe-json")
    stack.drain_notices()
    link = confirm_path(stack.outbox()[0].text)
    test_clock.advance(days=7, seconds=1)
    reply = stack.call("confirm", path=link)
    assert reply.status == 410
    assert "This link has expired" in reply.text and "Subscribe again" in reply.text
    assert subscriber(stack)["status"] == "pending"


def test_a_confirmation_link_lives_as_long_as_confirm_token_days_says(
    stack: Stack, test_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operator who gives confirmation links a fortnight
    monkeypatch.setenv("CONFIRM_TOKEN_DAYS", "14")
    settings.get.cache_clear()
    stack.call("subscribe-json")
    stack.drain_notices()
    link = confirm_path(stack.outbox()[0].text)
    # When the person confirms on the tenth day, after the default week
    test_clock.advance(days=10)
    reply = stack.call("confirm", path=link)
    # Then the link still works, and it stops at the end of the fortnight
    assert reply.status == 200 and subscriber(stack)["status"] == "active"
    test_clock.advance(days=4, seconds=1)
    assert stack.call("confirm", path=link).status == 410


@pytest.mark.parametrize(
    "token, status",
    [
        ("k1.confirm.zzzzzz.sabc.AAAAAAAAAAAAAAAAAAAAAA", 404),  # forged signature
        ("k9.confirm.zzzzzz.sabc.AAAAAAAAAAAAAAAAAAAAAA", 404),  # unknown key
        ("not-a-token", 404),
        ("k1.confirm", 404),
    ],
)
def test_a_forged_link_shows_a_page_and_changes_nothing(
    stack: Stack, token: str, status: int
) -> None:
    stack.call("subscribe-json")
    for name in ("confirm-page", "confirm"):
        reply = stack.call(name, path=f"/confirm/{token}")
        assert reply.status == status
        assert "This link does not work" in reply.text
        assert token not in reply.text
    assert subscriber(stack)["status"] == "pending"


def test_a_link_of_another_purpose_does_not_confirm(stack: Stack) -> None:
    from optout.core import keys, settings, tokens
    from optout.core.clock import now

    stack.call("subscribe-json")
    subscriber_id = subscriber(stack)["subscriber_id"]
    keyring = keys.token_keyring(settings.get())
    unsubscribe = tokens.mint(
        keyring, tokens.Purpose.UNSUBSCRIBE, [subscriber_id], now().replace(year=2026)
    )
    reply = stack.call("confirm", path=f"/confirm/{unsubscribe}")
    assert reply.status == 404 and "not a confirm link" in reply.text
    assert subscriber(stack)["status"] == "pending"


BAD_INPUTS = [
    ("{not json", "body", "not valid JSON"),
    ('["a list"]', "body", "must be a JSON object"),
    ('{"contact": "ada@", "region": "DE"}', "contact", "not a valid email address"),
    (
        '{"contact": "call me maybe", "region": "CA", "channel": "sms"}',
        "contact",
        "not a phone number",
    ),
    ('{"contact": "+49 30 1234567", "region": "DE"}', "contact", "cannot receive text messages"),
    ('{"contact": "ada@example.org", "region": "Atlantis"}', "region", "unknown region"),
    ('{"contact": "ada@example.org", "region": "JP"}', "region", "unknown region"),
    (
        '{"contact": "ada@example.org", "region": "DE", "locale": "tlh"}',
        "locale",
        "unsupported language",
    ),
    (
        '{"contact": "ada@example.org", "region": "DE", "timezone": "Mars/Olympus"}',
        "timezone",
        "unknown time zone",
    ),
    # A folder of the zone database, and a name too long for a file name, were a 500
    # (found by atheris, tests/fuzz/atheris_targets.py::subscribe_form).
    (
        '{"contact": "ada@example.org", "region": "US", "timezone": "America"}',
        "timezone",
        "unknown time zone",
    ),
    (
        '{"contact": "ada@example.org", "region": "DE", "timezone": "' + "\ufffd" * 90 + '"}',
        "timezone",
        "unknown time zone",
    ),
    (
        '{"contact": "ada@example.org", "region": "DE", "platforms": "<script>"}',
        "platforms",
        "lower-case",
    ),
    ('{"contact": 42, "region": "DE"}', "contact", "give an email address"),
    ('{"contact": "+4915123456789", "region": "CA"}', "contact", "not from the region you chose"),
    ('{"contact": "jörg@bücher.de", "region": "DE"}', "contact", "not a valid email address"),
    (
        '{"contact": "ada@example.org", "region": "DE", "x": ' + "[" * 4000 + "]" * 4000 + "}",
        "body",
        "nested too deeply",
    ),
    ('{"region": "DE"}', "contact", "give an email address"),
]


@pytest.mark.parametrize("body, field, message", BAD_INPUTS)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    stack: Stack, body: str, field: str, message: str
) -> None:
    reply = stack.call("subscribe-json", body=body)
    assert reply.status == 400
    assert message in reply.json()["problems"][field]
    assert stack.items("SUBSCRIBERS_TABLE") == []
    assert stack.notice_jobs() == []


def test_every_wrong_field_is_reported_at_once(stack: Stack) -> None:
    reply = stack.call(
        "subscribe-json", body='{"contact": "nope@", "region": "XX", "locale": "xx"}'
    )
    assert set(reply.json()["problems"]) == {"contact", "region", "locale"}


def test_an_oversized_body_is_a_413_and_writes_nothing(stack: Stack) -> None:
    body = json.dumps({"contact": "ada@example.org", "region": "DE", "padding": "x" * 20_000})
    reply = stack.call("subscribe-json", body=body)
    assert reply.status == 413
    assert stack.items("SUBSCRIBERS_TABLE") == []


def test_the_form_shows_its_problems_next_to_the_fields(stack: Stack) -> None:
    reply = stack.call("subscribe-form", body="contact=not-an-address&region=DE&locale=de")
    assert reply.status == 400
    assert (
        'aria-invalid="true"' in reply.text and "neither an email address nor a phone" in reply.text
    )
    assert 'value="not-an-address"' in reply.text  # what they typed is kept
    assert stack.items("SUBSCRIBERS_TABLE") == []


def test_a_form_with_too_many_fields_is_a_400(stack: Stack) -> None:
    reply = stack.call("subscribe-form", body="&".join(f"f{n}=x" for n in range(100)))
    assert reply.status == 400 and stack.items("SUBSCRIBERS_TABLE") == []


def test_a_body_that_is_not_utf_8_is_a_400_naming_it(stack: Stack) -> None:
    # found by schemathesis: both answered 500
    body = b"contact=\xbe\xff@example.org&region=DE"
    reply = stack.call("subscribe-json", body=body)
    assert reply.status == 400 and reply.json()["problems"] == {"body": "is not UTF-8 text"}
    assert stack.call("subscribe-form", body=body).status == 400  # no browser sends that
    assert stack.items("SUBSCRIBERS_TABLE") == []


def test_a_token_with_characters_no_token_has_is_a_404_not_a_crash(stack: Stack) -> None:
    reply = stack.call("confirm", path="/confirm/k1.confirm.zzzzzz.sabc.AAAAAAAAAAAAAAAAAAAAAé")
    assert reply.status == 404 and "This link does not work" in reply.text
    # found by schemathesis: a character Powertools' routes leave out got its bare 404 JSON
    reply = stack.call("confirm-page", path="/confirm/k1\u00b4\u009f")
    assert reply.status == 404 and "This link does not work" in reply.text


def test_one_network_address_may_subscribe_only_so_often(
    stack: Stack, monkeypatch, test_clock
) -> None:
    monkeypatch.setenv("SUBSCRIBES_PER_HOUR_PER_ADDRESS", "3")
    settings.get.cache_clear()
    for n in range(3):
        body = json.dumps({"contact": f"p{n}@example.org", "region": "DE"})
        assert stack.call("subscribe-json", body=body).status == 202
    refused = stack.call(
        "subscribe-json", body=json.dumps({"contact": "p9@example.org", "region": "DE"})
    )
    assert refused.status == 429 and "too many" in refused.json()["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    stack.drain_notices()
    assert len(stack.items("SUBSCRIBERS_TABLE")) == 3
    test_clock.advance(hours=1)
    assert (
        stack.call(
            "subscribe-json", body=json.dumps({"contact": "p9@example.org", "region": "DE"})
        ).status
        == 202
    )


def test_a_new_region_chosen_while_confirming_is_the_one_the_audience_index_gets(
    stack: Stack, test_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pending subscriber in Germany holding a confirmation link
    stack.call("subscribe-json")
    stack.drain_notices()
    (email,) = stack.outbox()
    test_clock.advance(minutes=11)  # past the resend window: a new request may change the profile
    # And a new subscribe request (now Switzerland) that lands just after the confirmation
    # has read the subscriber, before it writes
    original_get = SubscriberStore.get
    interleaved = []

    def get_then_resubscribe(self: SubscriberStore, subscriber_id: str):  # type: ignore[no-untyped-def]
        found = original_get(self, subscriber_id)
        if not interleaved:
            interleaved.append(subscriber_id)
            request = subscriptions.parse_request(
                {"contact": "ada@example.org", "region": "CH", "locale": "de"}
            )
            subscriptions.subscribe(
                settings.get(), request, source="api", base_url="https://x", now=test_clock.now
            )
            stack.drain_notices()  # the notifier records it
        return found

    monkeypatch.setattr(SubscriberStore, "get", get_then_resubscribe)
    # When the person presses the confirm button
    assert stack.call("confirm", path=confirm_path(email.text)).status == 200
    # Then they are active in the audience of the region they chose last, not the one read first
    assert interleaved
    record = subscriber(stack)
    assert (record["status"], record["home_group"]) == ("active", "CH")
    assert record["audience_pk"].startswith("CH#")


def tick(test_clock, moment: str) -> dict:
    """Move the clock and run the scheduler's tick through its handler."""
    test_clock.now = datetime.fromisoformat(moment)
    return invoke.invoke("SchedulerFunction", invoke.scheduled_event(test_clock.now))


def test_a_confirmation_text_asked_for_at_night_waits_for_eight_in_the_morning(
    stack: Stack, test_clock
) -> None:
    # Given a Canadian subscribes by SMS at 23:30 in Toronto
    test_clock.now = datetime(2025, 10, 28, 3, 30, tzinfo=UTC)
    assert stack.call("subscribe-sms-json").status == 202
    # When the notifier takes the job at once
    stack.drain_notices()
    # Then no text goes out at night
    assert stack.outbox() == []
    assert stack.notice_jobs() == []
    # Nor at 07:59, however often they ask in the night
    test_clock.advance(minutes=11)
    assert stack.call("subscribe-sms-json").status == 202
    stack.drain_notices()
    assert tick(test_clock, "2025-10-28T11:59:00+00:00")["deferred_notices_released"] == 0
    stack.drain_notices()
    assert stack.outbox() == []
    # When the first tick after 08:00 in Toronto comes
    assert tick(test_clock, "2025-10-28T12:00:00+00:00")["deferred_notices_released"] == 1
    assert tick(test_clock, "2025-10-28T12:05:00+00:00")["deferred_notices_released"] == 0
    stack.drain_notices()
    # Then one confirmation goes out, and its link works
    (sms,) = stack.outbox()
    assert sms.to == "+14165550123"
    assert stack.call("confirm", path=confirm_path(sms.text)).status == 200
    assert subscriber(stack)["status"] == "active"


def test_a_confirmation_email_at_night_goes_out_at_once(stack: Stack, test_clock) -> None:
    # Given a person in Germany subscribes by email at 02:00 in Berlin
    test_clock.now = datetime(2025, 10, 28, 1, 0, tzinfo=UTC)
    stack.call("subscribe-json")
    # When the notifier takes the job
    stack.drain_notices()
    # Then the email is sent at once: quiet hours are for texts
    (email,) = stack.outbox()
    assert email.to == "ada@example.org"


def test_the_form_speaks_the_browser_s_language(stack: Stack) -> None:
    # Given a browser that prefers Canadian French
    page = stack.call("subscribe-form-page", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    # Then the form is in Canadian French, and offers it as the reminders' language
    assert page.status == 200 and '<html lang="fr-CA" dir="ltr">' in page.text
    assert "Adresse courriel ou numéro de cellulaire" in page.text
    assert '<option value="fr-CA" lang="fr-CA" selected>' in page.text
    assert page.headers["Content-Language"] == "fr-CA"


def test_a_refused_form_comes_back_in_the_browser_s_language(stack: Stack) -> None:
    # Given a German browser sends the form with a contact that is neither email nor phone
    reply = stack.call(
        "subscribe-form",
        body="contact=not-a-contact&region=DE&locale=de",
        headers={"Accept-Language": "de-AT"},
    )
    # Then the form comes back in German, saying what to fix
    assert reply.status == 400 and '<html lang="de"' in reply.text
    assert "Bitte korrigieren Sie die unten markierten Felder." in reply.text
    assert "Geben Sie eine E-Mail-Adresse oder eine Handynummer" in reply.text
    assert stack.items("SUBSCRIBERS_TABLE") == []


def test_a_broken_link_is_explained_in_the_browser_s_language(stack: Stack) -> None:
    reply = stack.call(
        "confirm-page", path="/confirm/not-a-token", headers={"Accept-Language": "nl-BE"}
    )
    assert reply.status == 404 and '<html lang="nl"' in reply.text
    assert "Deze link werkt niet" in reply.text and "subscribe?lang=nl" in reply.text


def test_the_page_after_subscribing_says_to_text_start_to_our_number_alike_for_everyone(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given our number as the operator sets it, and a number that texted STOP unsubscribed
    monkeypatch.setenv("SMS_FROM", "+18005550199")
    settings.get.cache_clear()
    stopped_id = keys.contact_id(settings.get(), "sms", "+14165550123")
    SubscriberStore(settings.get()).keep_stopped(stopped_id, clock.now())
    # When that number and one nobody knows are subscribed through the form
    stopped = stack.call("subscribe-form", body="contact=%2B14165550123&region=CA&locale=en")
    fresh = stack.call("subscribe-form", body="contact=%2B14165550177&region=CA&locale=en")
    # Then both see the same page, which says to text START to our number first
    assert (stopped.status, stopped.text) == (fresh.status, fresh.text)
    assert stopped.status == 202
    assert "Text START to +18005550199 first" in stopped.text


def test_without_our_number_set_the_page_says_to_text_start_to_our_number(stack: Stack) -> None:
    reply = stack.call("subscribe-form")
    assert reply.status == 202 and "Text START to it first" in reply.text
