"""Late joiners caught up (issue 16 §1): whoever becomes active while the LinkedIn campaign is
under way gets their region's latest reminder at once, once, and then the rest as everyone does.

The LinkedIn campaign's dates (UTC): the EU's "one week left" goes out on 27 October at 08:00,
"last day" on 2 November at 08:00, the deadline is 2 November 23:00 and "live now" goes out on
3 November at 08:00; Canada's "one week left" on 27 October at 13:00 (09:00 in Toronto).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from local import invoke
from optout.core import keys, settings
from optout.sending import catch_up
from optout.store import CampaignStore
from tests.helpers import (
    CAMPAIGN,
    LINKEDIN,
    active,
    at,
    confirm_path,
    deliver,
    linkedin,
    sample_event,
    to,
)
from tests.integration.conftest import Organiser, Sent, Stack

ADA = "ada@example.org"  # in Germany: the EU's reminders
TORONTO = "+14165550123"  # the number events/feedback-sms-stop.json texts from


def join(
    stack: Stack,
    test_clock,
    moment: str,
    contact: str = ADA,
    region: str = "DE",
    *,
    confirmed: str = "",
) -> None:
    """At `moment`, the person subscribes by the form and confirms the link they were sent (at
    `confirmed`, if given); then the notifier and the sender do what that asks of them."""
    test_clock.now = when(moment)
    body = {"contact": contact, "region": region, "locale": "en", "platforms": ["linkedin"]}
    assert stack.call("subscribe-json", body=json.dumps(body)).status == 202
    stack.drain_notices()
    confirmation = to(stack, contact)[-1]
    if confirmed:
        test_clock.now = when(confirmed)
    assert stack.call("confirm", path=confirm_path(confirmation.text)).status == 200
    stack.drain_notices()
    stack.run_sender()


def when(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def reminders_to(stack: Stack, contact: str) -> list[Sent]:
    """The reminders `contact` was sent: an email's "I've switched it off" link, a text's
    short link (not their confirmation, nor the answers to their texts)."""
    return [
        message
        for message in to(stack, contact)
        if "/done/" in message.text or "/s/" in message.text
    ]


def region_stats(region: str) -> dict[str, int]:
    return CampaignStore(settings.get()).stats(CAMPAIGN).get(region, {})


def test_someone_who_confirms_after_one_week_left_gets_it_at_once_and_then_the_rest(
    stack: Stack, test_clock, campaign
) -> None:
    # Given "one week left" went out to the EU before Ada signed up
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    # When she confirms the next day
    join(stack, test_clock, "2025-10-28T09:00:00Z")
    # Then "one week left" reaches her at once, counted as sent and as caught up
    (first,) = reminders_to(stack, ADA)
    assert first.subject.startswith("6 days left")  # the time left when sent, not "1 week"
    assert region_stats("EU")["caught_up"] == 1 and region_stats("EU")["sent"] == 1
    # And "last day" reaches her with everyone, once
    at(stack, test_clock, "2025-11-02T08:00:00Z")
    assert len(reminders_to(stack, ADA)) == 2
    assert region_stats("EU")["caught_up"] == 1


def test_a_confirmation_posted_twice_catches_up_once(stack: Stack, test_clock, campaign) -> None:
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    join(stack, test_clock, "2025-10-28T09:00:00Z")
    # When the button is pressed again, on the same link
    confirmation = to(stack, ADA)[0]
    assert stack.call("confirm", path=confirm_path(confirmation.text)).status == 200
    stack.drain_notices()
    stack.run_sender()
    # Then the reminder she already has is not sent again
    assert len(reminders_to(stack, ADA)) == 1
    assert region_stats("EU")["caught_up"] == 1 and region_stats("EU")["skipped_duplicate"] == 1


def test_someone_who_confirms_before_any_reminder_waits_for_the_first(
    stack: Stack, test_clock, campaign
) -> None:
    join(stack, test_clock, "2025-10-14T09:00:00Z")
    assert reminders_to(stack, ADA) == []
    at(stack, test_clock, "2025-10-20T07:00:00Z")  # "two weeks left" in the EU
    assert len(reminders_to(stack, ADA)) == 1
    assert "caught_up" not in region_stats("EU")


def test_after_the_deadline_a_late_joiner_gets_live_now_and_never_a_stale_last_day(
    stack: Stack, test_clock, campaign
) -> None:
    # Given "last day" went out and the deadline passed, "live now" not yet
    at(stack, test_clock, "2025-11-02T08:00:00Z")
    join(stack, test_clock, "2025-11-03T02:00:00Z")
    # Then nothing at once: "last day" would no longer be true
    assert reminders_to(stack, ADA) == []
    # And "live now" reaches her with everyone
    at(stack, test_clock, "2025-11-03T08:00:00Z")
    assert len(reminders_to(stack, ADA)) == 1
    # And someone who confirms the day after gets "live now" at once
    join(stack, test_clock, "2025-11-04T09:00:00Z", contact="bo@example.org", region="FR")
    assert len(reminders_to(stack, "bo@example.org")) == 1
    assert region_stats("EU")["caught_up"] == 1


def test_a_text_caught_up_at_night_waits_for_the_morning(
    stack: Stack, test_clock, campaign
) -> None:
    # Given Canada's "one week left" went out
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    # When someone in Toronto subscribes in the afternoon, and confirms at 23:00
    join(
        stack,
        test_clock,
        "2025-10-27T20:00:00Z",
        contact=TORONTO,
        region="CA",
        confirmed="2025-10-28T03:00:00Z",
    )
    # Then no text at night: it is held for 08:00 in Toronto, and goes then
    assert reminders_to(stack, TORONTO) == []
    at(stack, test_clock, "2025-10-28T12:00:00Z")
    (text,) = reminders_to(stack, TORONTO)
    assert text.channel == "sms" and "/s/" in text.text
    assert region_stats("CA")["caught_up"] == 1


def test_a_start_after_a_stop_does_not_send_a_reminder_again(
    stack: Stack, test_clock, campaign
) -> None:
    # Given a Torontonian who had "one week left", then texted STOP, then START
    join(stack, test_clock, "2025-10-14T15:00:00Z", contact=TORONTO, region="CA")
    at(stack, test_clock, "2025-10-27T13:00:00Z")
    assert len(reminders_to(stack, TORONTO)) == 1
    deliver("feedback-sms-stop", messageBody="STOP")
    deliver("feedback-sms-stop", messageBody="START", inboundMessageId="a-later-inbound-id")
    stack.drain_notices()
    stack.run_sender()
    # Then the catch-up finds the reminder already sent to them, and sends nothing again
    assert len(reminders_to(stack, TORONTO)) == 1
    assert region_stats("CA")["skipped_duplicate"] == 1 and "caught_up" not in region_stats("CA")


def test_someone_imported_with_proof_of_consent_is_caught_up(
    stack: Stack, test_clock, campaign, organiser: Organiser
) -> None:
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    test_clock.now = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)
    csv = (
        "contact,region,locale,platforms,consent_source,consent_at,consent_form\r\n"
        "cy@example.org,NL,nl,linkedin,paper form at FOSDEM,2025-02-01T10:30:00Z,fosdem-v2\r\n"
    )
    reply = organiser.call(
        "POST", "/admin/subscribers/import", body=csv, headers={"Content-Type": "text/csv"}
    )
    assert reply.status == 200 and reply.json()["imported_active"] == 1
    stack.drain_notices()
    stack.run_sender()
    assert len(reminders_to(stack, "cy@example.org")) == 1
    assert region_stats("EU")["caught_up"] == 1


def test_an_organiser_turns_catching_up_off_and_on(
    stack: Stack, test_clock, campaign, organiser: Organiser
) -> None:
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    # When the organiser turns it off
    path = f"/admin/campaigns/{CAMPAIGN}"
    off = organiser.call("POST", f"{path}/catch-up", body=json.dumps({"enabled": False}))
    assert off.status == 200 and off.json() == {"campaign_id": CAMPAIGN, "catch_up": False}
    # Then the campaign and its launch check say so, and a late joiner waits for "last day"
    assert organiser.call("GET", path).json()["catch_up"] is False
    assert organiser.call("GET", f"{path}/launch-check").json()["catch_up"] is False
    join(stack, test_clock, "2025-10-28T09:00:00Z")
    assert reminders_to(stack, ADA) == []
    # When it is on again (as a dashboard form sends it), the next late joiner is caught up
    on = organiser.call(
        "POST",
        f"{path}/catch-up",
        body="enabled=true",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "*/*"},
    )
    assert on.status == 200 and on.json()["catch_up"] is True, on.text
    join(stack, test_clock, "2025-10-29T09:00:00Z", contact="bo@example.org", region="FR")
    assert len(reminders_to(stack, "bo@example.org")) == 1
    # And a value that is not a yes or a no, or a field it does not know, is refused, named
    wrong = organiser.call("POST", f"{path}/catch-up", body=json.dumps({"enabled": "maybe"}))
    assert wrong.status == 400 and "enabled" in wrong.json()["problems"]
    extra = organiser.call(
        "POST", f"{path}/catch-up", body=json.dumps({"enabled": False, "forever": True})
    )
    assert extra.status == 400 and list(extra.json()["problems"]) == ["forever"]
    assert organiser.call("GET", path).json()["catch_up"] is True  # nothing changed


def test_a_webhook_may_plan_a_campaign_without_catching_up(
    stack: Stack, test_clock, organiser: Organiser
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(linkedin(plan={"catch_up": False})).status == 200
    assert organiser.call("GET", f"/admin/campaigns/{CAMPAIGN}").json()["catch_up"] is False
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    join(stack, test_clock, "2025-10-28T09:00:00Z")
    assert reminders_to(stack, ADA) == []


def test_whoever_is_not_active_any_more_is_not_caught_up(
    stack: Stack, test_clock, campaign
) -> None:
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    test_clock.now = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)
    # A catch-up job that arrives after the person left (or for nobody we know)
    gone = keys.contact_id(settings.get(), "email", "nobody@example.org")
    catch_up.request(settings.get(), [gone], test_clock.now)
    stack.drain_notices()
    stack.run_sender()
    assert stack.outbox() == [] and "caught_up" not in region_stats("EU")


def test_a_catch_up_job_delivered_twice_sends_once(stack: Stack, test_clock, campaign) -> None:
    # Given "one week left" went out, and Ada active since (written as the confirmation would)
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    test_clock.now = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)
    ada = active(ADA, "DE")
    # When the notifier gets the sample catch-up job for her, twice (SQS: at least once)
    event = sample_event("notice-catch-up")
    job = json.loads(event["Records"][0]["body"])
    event["Records"][0]["body"] = json.dumps({**job, "subscriber_ids": [ada]})
    for _ in range(2):
        assert invoke.invoke("NotifierFunction", event) == {"batchItemFailures": []}
    stack.run_sender()
    # Then "one week left" reached her once: one catch-up sent, the other found it claimed
    assert len(reminders_to(stack, ADA)) == 1
    assert region_stats("EU")["caught_up"] == 1 and region_stats("EU")["skipped_duplicate"] == 1


def test_a_late_joiner_after_the_deadline_moved_is_told_the_date_that_holds(
    stack: Stack, test_clock, campaign
) -> None:
    # Given "one week left" went out for 3 November, then LinkedIn postponed the EU a week
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    postponed = linkedin(
        regions=[
            {**entry, "effective_at": "2025-11-10T00:00:00+01:00"}
            if entry["region"] == "EU"
            else entry
            for entry in LINKEDIN["regions"]
        ]
    )
    test_clock.now = datetime(2025, 10, 27, 12, 0, tzinfo=UTC)
    assert stack.post_webhook(postponed, webhook_id="msg_postponed").status == 200
    # When Ada confirms the next day
    join(stack, test_clock, "2025-10-28T09:00:00Z")
    # Then the reminder she is caught up with counts the days to 10 November, not 3 November
    (first,) = reminders_to(stack, ADA)
    assert first.subject.startswith("2 weeks left"), first.subject
    assert "November 10, 2025" in first.text or "10 November 2025" in first.text, first.text
