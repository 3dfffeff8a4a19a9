"""What the networks report back, in AWS's own formats (events/feedback-*.json): texts sent to
our number, and SES's bounce and complaint notifications."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from local import invoke
from optout.core import clock, keys, settings, tokens
from optout.links import privacy
from optout.store import CampaignStore, SubscriberStore
from optout.subscribers import subscriptions
from tests.helpers import (
    CAMPAIGN,
    LINKEDIN,
    active,
    at,
    confirm_path,
    deliver,
    sample_event,
    to,
)
from tests.integration.conftest import Reply, Stack


def record(stack: Stack, contact: str) -> dict:
    (item,) = [item for item in stack.items("SUBSCRIBERS_TABLE") if item["contact"] == contact]
    return item


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "stop",
        " Stop! ",
        "OPT OUT",
        "opt-out",
        "Arrêt",
        "stopall",
        "Unsubscribe.",
        "QUIT",
        "revoke",
    ],
)
def test_stop_in_any_form_unsubscribes_and_answers_exactly_once(stack: Stack, body: str) -> None:
    active("+14165550123", "CA", "en")
    for _ in range(2):  # SNS delivers at least once
        assert deliver("feedback-sms-stop", messageBody=body) == {"outcomes": ["stop"]}
    assert record(stack, "+14165550123")["status"] == "unsubscribed"
    (reply,) = to(stack, "+14165550123")
    assert "unsubscribed" in reply.text and "START" in reply.text


def test_help_says_who_we_are_and_how_to_stop_and_changes_nothing(stack: Stack) -> None:
    active("+14165550123", "CA", "fr-CA")
    deliver("feedback-sms-stop", messageBody="help")
    (reply,) = to(stack, "+14165550123")
    assert "Data Rights Watch (demo)" in reply.text and "STOP" in reply.text
    assert "reminders@optout.example.org" in reply.text
    assert record(stack, "+14165550123")["status"] == "active"


def test_start_after_stop_subscribes_again_and_is_reached_by_reminders(
    stack: Stack, test_clock
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    active("+14165550123", "CA", "en")
    deliver("feedback-sms-stop", messageBody="STOP")
    deliver("feedback-sms-stop", messageBody="START", inboundMessageId="another-inbound-id")
    assert (
        record(stack, "+14165550123")["status"] == "active"
        and record(stack, "+14165550123")["audience_pk"]
    )
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    assert any("/s/" in message.text for message in to(stack, "+14165550123"))  # a reminder came


@pytest.mark.parametrize(
    "number, body",
    [
        ("+14165550123", "Hello, who is this?"),
        ("+14165550123", "START"),
        ("+14165550199", "Hello, who is this?"),
        ("+14165550199", "START"),
    ],
)
def test_other_texts_and_needless_starts_get_no_answer(
    stack: Stack, number: str, body: str
) -> None:
    active("+14165550123", "CA", "en")
    result = deliver("feedback-sms-stop", originationNumber=number, messageBody=body)
    assert result["outcomes"][0].startswith("ignored")
    assert stack.outbox() == [] and record(stack, "+14165550123")["status"] == "active"
    assert len(stack.items("SUBSCRIBERS_TABLE")) == 1


# -- keywords from numbers that are not subscribed (carriers audit with such handsets) --------

NEVER_SUBSCRIBED = "+14165550199"  # events/feedback-sms-help-never-subscribed.json's number
TORONTO_DAYTIME = datetime(2025, 10, 27, 15, 0, tzinfo=UTC)  # 11:00: texts go out at once


def kept(stack: Stack, number: str) -> list[dict]:
    """What the subscribers table keeps under a number's keyed hash (nothing: [])."""
    subscriber_id = keys.contact_id(settings.get(), "sms", number)
    return [
        item for item in stack.items("SUBSCRIBERS_TABLE") if item["subscriber_id"] == subscriber_id
    ]


def test_help_from_a_number_that_never_subscribed_says_who_we_are_and_how_to_stop(
    stack: Stack,
) -> None:
    # When a carrier's audit handset, never subscribed, texts HELP
    assert invoke.invoke(
        "FeedbackFunction", sample_event("feedback-sms-help-never-subscribed")
    ) == {"outcomes": ["help"]}
    # Then it is answered with the organisation, the support contact and how to stop
    (reply,) = to(stack, NEVER_SUBSCRIBED)
    assert "Data Rights Watch (demo)" in reply.text and "reminders@optout.example.org" in reply.text
    assert "STOP" in reply.text
    # And nothing is kept about the number
    assert kept(stack, NEVER_SUBSCRIBED) == []


def test_stop_from_a_number_that_never_subscribed_answers_once_and_keeps_only_its_hash(
    stack: Stack,
) -> None:
    # When a number that never subscribed texts STOP, and SNS delivers the text twice
    for _ in range(2):
        assert deliver("feedback-sms-stop", originationNumber=NEVER_SUBSCRIBED) == {
            "outcomes": ["stop"]
        }
    # Then one answer went, saying nothing more will come and how to allow texts again
    (reply,) = to(stack, NEVER_SUBSCRIBED)
    assert "no messages" in reply.text and "START" in reply.text
    # And the number is kept as stopped by its keyed hash alone, as an erasure keeps a contact
    (item,) = kept(stack, NEVER_SUBSCRIBED)
    assert item == {
        "subscriber_id": keys.contact_id(settings.get(), "sms", NEVER_SUBSCRIBED),
        "status": "stopped",
        "stopped_at": "2025-10-27T09:00:00Z",
    }


def subscribe_by_text(stack: Stack, number: str) -> Reply:
    body = json.dumps({"contact": number, "region": "CA", "locale": "en"})
    return stack.call("subscribe-sms-json", body=body)


def test_no_confirmation_text_reaches_a_stopped_number_while_email_subscriptions_work(
    stack: Stack, test_clock
) -> None:
    test_clock.now = TORONTO_DAYTIME
    # Given a number that texted STOP without being subscribed
    deliver("feedback-sms-stop", originationNumber=NEVER_SUBSCRIBED)
    stopped_answer = subscribe_by_text(stack, NEVER_SUBSCRIBED)
    # And, for comparison, a number nobody has heard of
    fresh_answer = subscribe_by_text(stack, "+14165550177")
    # When someone subscribes it (and an email address) and the notifier runs
    email_answer = stack.call("subscribe-json")
    stack.drain_notices()
    # Then the answers are the same as for anyone: the form tells nobody who stopped
    assert (stopped_answer.status, stopped_answer.json()) == (
        fresh_answer.status,
        fresh_answer.json(),
    )
    assert stopped_answer.json() == email_answer.json() == subscriptions.PENDING_ANSWER
    assert stopped_answer.status == 202
    # And no confirmation text went to the stopped number, which is still kept as stopped
    assert len(to(stack, NEVER_SUBSCRIBED)) == 1  # the answer to its STOP, no more
    assert [item["status"] for item in kept(stack, NEVER_SUBSCRIBED)] == ["stopped"]
    # While the other number and the email address got their confirmations
    assert len(to(stack, "+14165550177")) == 1
    (email,) = to(stack, "ada@example.org")
    assert stack.call("confirm", path=confirm_path(email.text)).status == 200


def test_start_lifts_the_stop_and_a_later_subscription_gets_its_confirmation(
    stack: Stack, test_clock
) -> None:
    test_clock.now = TORONTO_DAYTIME
    # Given a number that texted STOP without being subscribed
    deliver("feedback-sms-stop", originationNumber=NEVER_SUBSCRIBED)
    # When it texts START (delivered twice)
    for _ in range(2):
        outcome = deliver(
            "feedback-sms-stop",
            originationNumber=NEVER_SUBSCRIBED,
            messageBody="Start",
            inboundMessageId="another-inbound-id",
        )
    # Then the first was answered once, saying texts can reach it again; the stop is lifted
    assert outcome == {"outcomes": ["ignored: not stopped by text"]}
    _stop_reply, start_reply = to(stack, NEVER_SUBSCRIBED)
    assert "again" in start_reply.text and "STOP" in start_reply.text
    assert kept(stack, NEVER_SUBSCRIBED) == []
    # And a subscription from it now gets its confirmation text, which confirms
    assert subscribe_by_text(stack, NEVER_SUBSCRIBED).status == 202
    stack.drain_notices()
    confirmation = to(stack, NEVER_SUBSCRIBED)[-1]
    assert stack.call("confirm", path=confirm_path(confirmation.text)).status == 200
    assert record(stack, NEVER_SUBSCRIBED)["status"] == "active"


def test_stop_from_a_pending_number_removes_its_profile_and_sends_no_confirmation(
    stack: Stack, test_clock
) -> None:
    # Given someone subscribed a number at night: its confirmation waits for the morning
    test_clock.now = datetime(2025, 10, 27, 5, 0, tzinfo=UTC)  # 01:00 in Toronto
    subscribe_by_text(stack, NEVER_SUBSCRIBED)
    stack.drain_notices()
    assert to(stack, NEVER_SUBSCRIBED) == []
    # When the number, which never confirmed, texts STOP
    assert deliver("feedback-sms-stop", originationNumber=NEVER_SUBSCRIBED) == {
        "outcomes": ["stop"]
    }
    # Then it is answered at once, at night, and kept as stopped with nothing of the profile
    (reply,) = to(stack, NEVER_SUBSCRIBED)
    assert "START" in reply.text
    (item,) = kept(stack, NEVER_SUBSCRIBED)
    assert set(item) == {"subscriber_id", "status", "stopped_at"} and item["status"] == "stopped"
    # And the morning's tick sends it no confirmation
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    stack.drain_notices()
    assert len(to(stack, NEVER_SUBSCRIBED)) == 1


def test_an_erased_number_that_texts_stop_then_start_keeps_its_erasure(stack: Stack) -> None:
    # Given a subscriber by text who had their data erased
    subscriber_id = active(NEVER_SUBSCRIBED, "CA", "en")
    SubscriberStore(settings.get()).erase(
        subscriber_id, "erased at the person's request", clock.now()
    )
    (erased,) = kept(stack, NEVER_SUBSCRIBED)
    # When the number texts STOP, then START
    assert deliver("feedback-sms-stop", originationNumber=NEVER_SUBSCRIBED) == {
        "outcomes": ["stop"]
    }
    assert [item["status"] for item in kept(stack, NEVER_SUBSCRIBED)] == ["stopped"]
    assert deliver(
        "feedback-sms-stop",
        originationNumber=NEVER_SUBSCRIBED,
        messageBody="START",
        inboundMessageId="another-inbound-id",
    ) == {"outcomes": ["start"]}
    # Then both were answered, and the erasure's record is as it was
    assert len(to(stack, NEVER_SUBSCRIBED)) == 2
    assert kept(stack, NEVER_SUBSCRIBED) == [erased]


@pytest.mark.parametrize("body", ["HELP", "STOP"])
def test_replies_go_out_at_once_even_at_night(stack: Stack, test_clock, body: str) -> None:
    # Given 03:00 in Toronto, when texts to subscribers wait for the morning
    test_clock.now = datetime(2025, 10, 27, 7, 0, tzinfo=UTC)
    active("+14165550123", "CA", "en")
    # When the subscriber and a number that never subscribed text a keyword
    deliver("feedback-sms-stop", messageBody=body)
    deliver(
        "feedback-sms-stop",
        originationNumber=NEVER_SUBSCRIBED,
        messageBody=body,
        inboundMessageId="another-inbound-id",
    )
    # Then both are answered now
    assert len(to(stack, "+14165550123")) == 1 and len(to(stack, NEVER_SUBSCRIBED)) == 1


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"originationNumber": None}, "originationNumber is not an E.164 number"),
        ({"originationNumber": 14165550123}, "originationNumber is not an E.164 number"),
        ({"originationNumber": "4165550123"}, "originationNumber is not an E.164 number"),
        ({"originationNumber": "+1 416 555 0123"}, "originationNumber is not an E.164 number"),
        ({"messageBody": ["STOP"]}, "messageBody is not text"),
        ({"inboundMessageId": {"id": 1}}, "inboundMessageId is not an id"),
    ],
)
def test_a_malformed_text_changes_nothing_and_is_logged_with_the_reason(
    stack: Stack, caplog: pytest.LogCaptureFixture, changes: dict, reason: str
) -> None:
    # Given a subscriber by text
    active("+14165550123", "CA", "en")
    # When a notification of a text that is not well formed arrives
    assert deliver("feedback-sms-stop", **changes) == {"outcomes": [f"ignored: {reason}"]}
    # Then nothing is answered, nothing changes, and the log says why
    assert stack.outbox() == []
    assert [item["status"] for item in stack.items("SUBSCRIBERS_TABLE")] == ["active"]
    (logged,) = [entry for entry in caplog.records if entry.getMessage() == "inbound text ignored"]
    assert (logged.levelname, getattr(logged, "reason", "")) == ("WARNING", reason)


def test_the_malformed_sample_event_changes_nothing(stack: Stack) -> None:
    outcome = invoke.invoke("FeedbackFunction", sample_event("feedback-sms-malformed"))
    assert outcome == {"outcomes": ["ignored: originationNumber is not an E.164 number"]}
    assert stack.outbox() == [] and stack.items("SUBSCRIBERS_TABLE") == []


def test_a_permanent_bounce_suppresses_and_no_reminder_follows(stack: Stack, test_clock) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    active("lena@example.org", "DE", "de")
    assert deliver("feedback-ses-bounce") == {"outcomes": ["bounced"]}
    assert record(stack, "lena@example.org")["status"] == "suppressed"
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    assert to(stack, "lena@example.org") == []
    assert CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]["bounced"] == 1


def test_a_transient_bounce_changes_nothing(stack: Stack) -> None:
    active("lena@example.org", "DE", "de")
    assert deliver("feedback-ses-bounce", bounce__bounceType="Transient")["outcomes"] == [
        "ignored: transient bounce"
    ]
    assert record(stack, "lena@example.org")["status"] == "active"


def test_a_complaint_suppresses_even_in_the_event_publishing_format(stack: Stack) -> None:
    active("lena@example.org", "DE", "de")
    event = sample_event("feedback-ses-complaint")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["eventType"] = message.pop("notificationType")  # SES event publishing names it so
    message["unknownFieldFromTheFuture"] = {"ignored": True}
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    assert invoke.invoke("FeedbackFunction", event) == {"outcomes": ["complained"]}
    assert record(stack, "lena@example.org")["status"] == "suppressed"


def test_a_campaign_pauses_when_its_bounces_pass_four_percent(stack: Stack, test_clock) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    CampaignStore(settings.get()).add_stats(CAMPAIGN, "EU", {"sent": 100})
    bounced = [{"emailAddress": f"b{n}@example.org"} for n in range(4)]
    deliver("feedback-ses-bounce", bounce__bouncedRecipients=bounced)
    assert (
        CampaignStore(settings.get()).get_campaign(CAMPAIGN).status == "active"
    )  # 4% is not past 4%
    deliver("feedback-ses-bounce", bounce__bouncedRecipients=[{"emailAddress": "b9@example.org"}])
    campaign = CampaignStore(settings.get()).get_campaign(CAMPAIGN)
    assert campaign.status == "paused" and "bounce rate 5.0%" in campaign.status_reason
    assert clock.now() == test_clock.now


def test_feedback_that_is_not_json_is_ignored(stack: Stack) -> None:
    event = sample_event("feedback-sms-stop")
    event["Records"][0]["Sns"]["Message"] = "not json"
    assert invoke.invoke("FeedbackFunction", event) == {"outcomes": ["ignored: not JSON"]}


# -- a subscriber who texted STOP: no text until START, a confirmation included --------------

SUBSCRIBER = "+14165550123"  # events/feedback-sms-stop.json's number


def subscribe_on_the_form(stack: Stack, number: str) -> Reply:
    body = f"contact={number.replace('+', '%2B')}&region=CA&locale=en"
    return stack.call("subscribe-form", body=body)


def subscribed_and_confirmed_by_text(stack: Stack, number: str) -> None:
    assert subscribe_by_text(stack, number).status == 202
    stack.drain_notices()
    (confirmation,) = to(stack, number)
    assert stack.call("confirm", path=confirm_path(confirmation.text)).status == 200
    assert record(stack, number)["status"] == "active"


def test_a_subscriber_who_texted_stop_gets_no_confirmation_text_until_start(
    stack: Stack, test_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given our number as the operator sets it
    monkeypatch.setenv("SMS_FROM", "+18005550199")
    settings.get.cache_clear()
    # And someone who subscribed by text, confirmed, and then texted STOP
    test_clock.now = TORONTO_DAYTIME
    subscribed_and_confirmed_by_text(stack, SUBSCRIBER)
    assert deliver("feedback-sms-stop", messageBody="STOP") == {"outcomes": ["stop"]}
    assert len(to(stack, SUBSCRIBER)) == 2  # the confirmation, the answer to STOP
    # When, an hour later (past the resend window), the number is put into the subscribe form
    test_clock.now = datetime(2025, 10, 27, 16, 0, tzinfo=UTC)
    stopped_page = subscribe_on_the_form(stack, SUBSCRIBER)
    fresh_page = subscribe_on_the_form(stack, "+14165550177")  # a number nobody has heard of
    stack.drain_notices()
    # Then the form answers as for anyone, its page saying to text START to our number first
    assert stopped_page.status == fresh_page.status == 202
    assert stopped_page.text == fresh_page.text
    assert "Text START to +18005550199 first" in stopped_page.text
    # And no confirmation text went to the number; the other got its own
    assert len(to(stack, SUBSCRIBER)) == 2
    assert len(to(stack, "+14165550177")) == 1
    assert record(stack, SUBSCRIBER)["status"] == "unsubscribed"
    # When the number texts START
    assert deliver(
        "feedback-sms-stop", messageBody="START", inboundMessageId="another-inbound-id"
    ) == {"outcomes": ["start"]}
    # Then it is active again, as START does for anyone who texted STOP, and told so
    assert record(stack, SUBSCRIBER)["status"] == "active"
    assert "stopped_at" not in record(stack, SUBSCRIBER)
    assert len(to(stack, SUBSCRIBER)) == 3


def test_after_start_a_later_stop_stops_again(stack: Stack, test_clock) -> None:
    test_clock.now = TORONTO_DAYTIME
    subscribed_and_confirmed_by_text(stack, SUBSCRIBER)
    deliver("feedback-sms-stop", messageBody="STOP")
    deliver("feedback-sms-stop", messageBody="START", inboundMessageId="start-1")
    deliver("feedback-sms-stop", messageBody="STOP", inboundMessageId="stop-2")
    sent = len(to(stack, SUBSCRIBER))
    test_clock.now = datetime(2025, 10, 27, 16, 0, tzinfo=UTC)
    assert subscribe_on_the_form(stack, SUBSCRIBER).status == 202
    stack.drain_notices()
    assert len(to(stack, SUBSCRIBER)) == sent
    assert record(stack, SUBSCRIBER)["status"] == "unsubscribed"


def unsubscribe_path(subscriber_number: str) -> str:
    """The one-click unsubscribe link a message to this number would carry."""
    subscriber_id = keys.contact_id(settings.get(), "sms", subscriber_number)
    expires = clock.now() + tokens.LIFETIMES[tokens.Purpose.UNSUBSCRIBE]
    token = tokens.mint(
        keys.token_keyring(settings.get()), tokens.Purpose.UNSUBSCRIBE, [subscriber_id], expires
    )
    return f"/unsubscribe/{token}"


def test_an_unsubscribe_by_link_does_not_stop_confirmation_texts(stack: Stack, test_clock) -> None:
    # Given a subscriber by text who unsubscribed with a one-click link, not by STOP
    test_clock.now = TORONTO_DAYTIME
    subscribed_and_confirmed_by_text(stack, SUBSCRIBER)
    assert stack.call("unsubscribe-one-click", path=unsubscribe_path(SUBSCRIBER)).status == 200
    assert record(stack, SUBSCRIBER)["status"] == "unsubscribed"
    # When the number is put into the form an hour later
    test_clock.now = datetime(2025, 10, 27, 16, 0, tzinfo=UTC)
    assert subscribe_on_the_form(stack, SUBSCRIBER).status == 202
    stack.drain_notices()
    # Then a confirmation text goes, and confirms
    confirmation = to(stack, SUBSCRIBER)[-1]
    assert len(to(stack, SUBSCRIBER)) == 2
    assert stack.call("confirm", path=confirm_path(confirmation.text)).status == 200
    assert record(stack, SUBSCRIBER)["status"] == "active"


def test_stop_after_an_unsubscribe_by_link_stops_confirmation_texts_too(
    stack: Stack, test_clock
) -> None:
    test_clock.now = TORONTO_DAYTIME
    subscribed_and_confirmed_by_text(stack, SUBSCRIBER)
    stack.call("unsubscribe-one-click", path=unsubscribe_path(SUBSCRIBER))
    assert deliver("feedback-sms-stop", messageBody="STOP") == {"outcomes": ["stop"]}
    test_clock.now = datetime(2025, 10, 27, 16, 0, tzinfo=UTC)
    assert subscribe_on_the_form(stack, SUBSCRIBER).status == 202
    stack.drain_notices()
    assert len(to(stack, SUBSCRIBER)) == 2  # the confirmation, the answer to STOP


def test_an_erasure_after_stop_keeps_the_number_stopped_until_start(
    stack: Stack, test_clock
) -> None:
    # Given a subscriber by text who texted STOP, then had their data erased
    test_clock.now = TORONTO_DAYTIME
    subscribed_and_confirmed_by_text(stack, SUBSCRIBER)
    deliver("feedback-sms-stop", messageBody="STOP")
    subscriber_id = keys.contact_id(settings.get(), "sms", SUBSCRIBER)
    assert SubscriberStore(settings.get()).erase(subscriber_id, "asked", clock.now())
    # Then nothing of the profile is kept: the keyed hash, the erasure and the stop
    (item,) = kept(stack, SUBSCRIBER)
    assert set(item) == {"subscriber_id", "status", "erased_at", "erased_reason", "stopped_at"}
    assert item["status"] == "stopped"
    # And the form sends the number no confirmation
    test_clock.now = datetime(2025, 10, 27, 16, 0, tzinfo=UTC)
    assert subscribe_on_the_form(stack, SUBSCRIBER).status == 202
    stack.drain_notices()
    assert len(to(stack, SUBSCRIBER)) == 2
    # When it texts START, the erasure's record is what is left, and the form works again
    assert deliver(
        "feedback-sms-stop", messageBody="START", inboundMessageId="another-inbound-id"
    ) == {"outcomes": ["start"]}
    (erased,) = kept(stack, SUBSCRIBER)
    assert set(erased) == {"subscriber_id", "status", "erased_at", "erased_reason"}
    assert erased["status"] == "erased"
    test_clock.now = datetime(2025, 10, 27, 17, 0, tzinfo=UTC)
    assert subscribe_on_the_form(stack, SUBSCRIBER).status == 202
    stack.drain_notices()
    confirmation = to(stack, SUBSCRIBER)[-1]
    assert stack.call("confirm", path=confirm_path(confirmation.text)).status == 200


def test_the_person_s_privacy_page_shows_when_they_texted_stop(stack: Stack, test_clock) -> None:
    test_clock.now = TORONTO_DAYTIME
    subscribed_and_confirmed_by_text(stack, SUBSCRIBER)
    deliver("feedback-sms-stop", messageBody="STOP")
    subscriber_id = keys.contact_id(settings.get(), "sms", SUBSCRIBER)
    path = (
        "/privacy/"
        + privacy.privacy_link(settings.get(), subscriber_id, "https://x", clock.now()).rsplit(
            "/", 1
        )[1]
    )
    data = stack.call("privacy-page", path=path, headers={"Accept": "application/json"}).json()
    assert data["status"] == "unsubscribed" and data["stopped_at"] == "2025-10-27T15:00:00Z"
    page = stack.call("privacy-page", path=path).text  # in the language they subscribed in
    assert "<dt>Texted STOP on</dt>" in page
