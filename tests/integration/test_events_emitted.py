"""Events for the organisers' own tools (issue 18 §2, "Events out"), from every place where
something happens, through the real handlers: what an organiser's endpoint would be sent (its
type, its data, its id), one event for an action repeated, counts per send batch, and never a
contact or a link's token in any of them."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local import iam, invoke, template
from optout.campaigns import schedule
from optout.core import aws, clock, events, jobs, keys, queues, settings, tokens
from optout.domain.models import Status
from optout.domain.watches import PAGE, Source, Watch
from optout.links import privacy
from optout.store import CampaignStore, SubscriberStore, WatchStore
from optout.store.subscribers import audience_shard
from optout.subscribers import subscriptions
from optout.watching import check, forward
from tests.helpers import (
    AFTER,
    BASE,
    CAMPAIGN,
    LINKEDIN,
    WatchedSite,
    active,
    at,
    confirm_path,
    deliver,
    link,
    linkedin,
    sample_event,
    to,
)
from tests.integration.conftest import Emitted, Organiser, Reply, Stack

CONFIRMED = "subscriber.confirmed"
UNSUBSCRIBED = "subscriber.unsubscribed"
ERASED = "subscriber.erased"
SENT = "reminder.sent"
CONVERSION = "conversion.recorded"
LAUNCHED = "campaign.launched"
FINISHED = "campaign.finished"
CHANGE = "policy.change_detected"
# A link's token (``k1.unsubscribe.<expiry>.<ids>.<signature>``) and a phone number in E.164.
TOKEN = re.compile(r"\bk\d+\.(confirm|unsubscribe|click|done|privacy|admin)\.")
PHONE = re.compile(r"\+[1-9]\d{6,14}")
# The LinkedIn campaign's regions as the events give them, earliest deadline first.
LINKEDIN_REGIONS = [
    {"region": "HK", "effective_at": "2025-11-02T16:00:00Z"},
    {"region": "CH", "effective_at": "2025-11-02T23:00:00Z"},
    {"region": "EEA", "effective_at": "2025-11-02T23:00:00Z"},
    {"region": "EU", "effective_at": "2025-11-02T23:00:00Z"},
    {"region": "CA", "effective_at": "2025-11-03T05:00:00Z"},
]


# A CSV import (as test_imports.py sends it): a row with proof of consent, and the header.
HEADER = (
    "contact,region,locale,timezone,platforms,consent_source,consent_at,consent_form,consent_proof"
)
PROVEN = "paper form at FOSDEM,2025-02-01T10:30:00Z,fosdem-2025-v2,box 3 folder 12"
# An ad-hoc send to the EU's German readers of LinkedIn, by email, the next morning.
THANKS = {
    "id": "thanks-2025",
    "send_at": "2025-10-28T10:00:00+01:00",
    "regions": ["EU"],
    "platforms": ["linkedin"],
    "channel": "email",
    "locales": ["de"],
    "message": {"title": "Danke!", "summary": "Wer es noch nicht getan hat: eine Minute."},
}


def import_csv(organiser: Organiser, *lines: str) -> Reply:
    body = "\r\n".join([HEADER, *lines]) + "\r\n"
    return organiser.call(
        "POST", "/admin/subscribers/import", body=body, headers={"Content-Type": "text/csv"}
    )


def contact_free(events: list[Emitted]) -> None:
    """No event carries a contact (an email address, a phone number) or a link's token."""
    for event in events:
        assert "@" not in event.body, event.body
        assert not PHONE.search(event.body), event.body
        assert not TOKEN.search(event.body), event.body


def subscriber_id(contact: str) -> str:
    return keys.contact_id(settings.get(), "email" if "@" in contact else "sms", contact)


@pytest.fixture
def reminded(stack: Stack, test_clock: Any, campaign: None) -> dict[str, str]:
    """Lena in Germany got "one week left"; the links of her email, by kind."""
    active("lena@example.org", "DE", "de")
    at(stack, test_clock, "2025-10-27T08:00:00Z")
    (email,) = to(stack, "lena@example.org")
    return {kind: link(email.text, kind) for kind in ("done", "unsubscribe")}


# -- subscriber.confirmed ---------------------------------------------------------------------


def test_a_confirmation_is_told_once_with_who_where_and_how(stack: Stack, test_clock: Any) -> None:
    # Given Ada subscribed by email, and her confirmation went out
    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    path = confirm_path(stack.outbox()[0].text)
    # When a link scanner opens the link, nothing is told
    assert stack.call("confirm-page", path=path).status == 200
    assert stack.events(CONFIRMED) == []
    # When she presses the button, and again a minute later
    assert stack.call("confirm", path=path).status == 200
    test_clock.advance(minutes=1)
    assert stack.call("confirm", path=path).status == 200
    # Then the organisers' tools are told once, what they need and no more
    (event,) = stack.events(CONFIRMED)
    assert event.timestamp == "2025-10-27T09:00:00Z"
    assert event.data == {
        "subscriber_id": subscriber_id("ada@example.org"),
        "channel": "email",
        "region": "DE",
        "locale": "de",
        "platforms": ["linkedin"],
        "confirmed_at": "2025-10-27T09:00:00Z",
        "how": "confirmed",
    }
    assert event.event_id.startswith("evt_")
    contact_free(stack.events())


def test_an_import_with_proof_is_told_as_imported_and_one_without_when_confirmed(
    stack: Stack, organiser: Organiser
) -> None:
    # Given an organiser imports Ada with proof of consent and Ben without
    rows = (f"ada@example.org,DE,de,,linkedin,{PROVEN}", "ben@example.org,AT,de,,,,,,")
    assert import_csv(organiser, *rows).status == 200
    # Then Ada, active at once, is told of as imported; Ben, pending, not yet
    (imported,) = stack.events(CONFIRMED)
    assert imported.data == {
        "subscriber_id": subscriber_id("ada@example.org"),
        "channel": "email",
        "region": "DE",
        "locale": "de",
        "platforms": ["linkedin"],
        "confirmed_at": "2025-10-27T09:00:00Z",
        "how": "imported",
    }
    # When the same file is imported again, nobody is told of again
    assert import_csv(organiser, *rows).status == 200
    assert len(stack.events(CONFIRMED)) == 1
    # When Ben presses his confirmation link, he is told of as confirmed
    stack.drain("NOTICE_QUEUE_URL", "NotifierFunction")
    token = subscriptions.confirmation_token(
        settings.get(), subscriber_id("ben@example.org"), clock.now()
    )
    assert stack.call("confirm", path=f"/confirm/{token}").status == 200
    assert [(e.data["subscriber_id"], e.data["how"]) for e in stack.events(CONFIRMED)] == [
        (subscriber_id("ada@example.org"), "imported"),
        (subscriber_id("ben@example.org"), "confirmed"),
    ]
    contact_free(stack.events())


def test_stop_and_start_by_text_are_told_once_each_however_often_sns_delivers_them(
    stack: Stack, test_clock: Any
) -> None:
    # Given a Canadian subscribed by text
    number = active("+14165550123", "CA", "en")
    # When they text STOP, delivered twice by SNS
    for _ in range(2):
        assert deliver("feedback-sms-stop") == {"outcomes": ["stop"]}
    # Then one unsubscribe is told, by keyword, from no campaign
    (stopped,) = stack.events(UNSUBSCRIBED)
    assert stopped.data == {
        "subscriber_id": number,
        "channel": "sms",
        "how": "keyword",
        "unsubscribed_at": "2025-10-27T09:00:00Z",
        "campaign_id": None,
    }
    # When they text START an hour later, delivered twice too
    test_clock.advance(hours=1)
    for _ in range(2):
        assert deliver("feedback-sms-stop", messageBody="START", inboundMessageId="start-1") == {
            "outcomes": ["start"]
        }
    # Then one confirmation is told, by keyword, at the time of the START
    (started,) = stack.events(CONFIRMED)
    assert started.data == {
        "subscriber_id": number,
        "channel": "sms",
        "region": "CA",
        "locale": "en",
        "platforms": ["linkedin"],
        "confirmed_at": "2025-10-27T10:00:00Z",
        "how": "keyword",
    }
    assert started.timestamp == "2025-10-27T10:00:00Z"
    contact_free(stack.events())


def test_start_or_stop_from_a_number_that_was_never_subscribed_tells_nothing(
    stack: Stack,
) -> None:
    deliver("feedback-sms-stop", originationNumber="+14165550199")
    deliver("feedback-sms-stop", originationNumber="+14165550199", messageBody="START")
    assert stack.events() == []


# -- subscriber.unsubscribed ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "how"),
    [("", "link"), ("List-Unsubscribe=One-Click", "one-click")],
    ids=["the-page-s-button", "rfc-8058-one-click"],
)
def test_an_unsubscribe_is_told_once_with_how_and_the_campaign_it_came_from(
    stack: Stack, test_clock: Any, reminded: dict[str, str], body: str, how: str
) -> None:
    # When a mail scanner opens the unsubscribe page, nothing is told
    assert stack.call("unsubscribe-page", path=reminded["unsubscribe"]).status == 200
    assert stack.events(UNSUBSCRIBED) == []
    # When Lena unsubscribes, twice
    for _ in range(2):
        reply = stack.call("unsubscribe-one-click", path=reminded["unsubscribe"], body=body)
        assert reply.status == 200
    # Then it is told once, how she did it, and from which campaign's reminder
    (event,) = stack.events(UNSUBSCRIBED)
    assert event.data == {
        "subscriber_id": subscriber_id("lena@example.org"),
        "channel": "email",
        "how": how,
        "unsubscribed_at": "2025-10-27T08:00:00Z",
        "campaign_id": CAMPAIGN,
    }
    contact_free(stack.events())


@pytest.mark.parametrize("kind", ["bounce", "complaint"])
def test_a_bounce_or_complaint_that_ends_a_subscription_is_told_once(
    stack: Stack, kind: str
) -> None:
    lena = active("lena@example.org", "DE", "de")
    for _ in range(2):  # SNS delivers at least once
        deliver(f"feedback-ses-{kind}")
    (event,) = stack.events(UNSUBSCRIBED)
    assert event.data == {
        "subscriber_id": lena,
        "channel": "email",
        "how": kind,
        "unsubscribed_at": "2025-10-27T09:00:00Z",
        "campaign_id": CAMPAIGN,  # the bounced email's tag
    }
    contact_free(stack.events())


def test_someone_still_pending_or_gone_already_is_not_told_of_as_unsubscribed(
    stack: Stack,
) -> None:
    # Given Ada subscribed and never confirmed, and Lena unsubscribed long ago
    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    ada = subscriber_id("ada@example.org")
    active("lena@example.org", "DE", "de", status=Status.UNSUBSCRIBED)
    # When Ada uses an unsubscribe link, and Lena's address bounces
    expires = clock.now() + timedelta(days=1)
    token = tokens.mint(
        keys.token_keyring(settings.get()), tokens.Purpose.UNSUBSCRIBE, [ada], expires
    )
    assert stack.call("unsubscribe-one-click", path=f"/unsubscribe/{token}").status == 200
    deliver("feedback-ses-bounce")
    # Then nothing is told: neither was ever told of as subscribed now
    assert stack.events() == []


def test_a_number_the_sms_provider_says_opted_out_is_told_as_stopped_by_keyword(
    stack: Stack, test_clock: Any, campaign: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = active("+14165550123", "CA", "en")

    def opted_out(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "OptedOut", "Message": "Phone number is opted out"}}, "Publish"
        )

    monkeypatch.setattr(aws.send_client("sns"), "publish", opted_out)
    at(stack, test_clock, "2025-10-27T13:00:00Z")  # "one week left" in Canada
    (event,) = stack.events(UNSUBSCRIBED)
    assert event.data == {
        "subscriber_id": number,
        "channel": "sms",
        "how": "keyword",
        "unsubscribed_at": "2025-10-27T13:00:00Z",
        "campaign_id": CAMPAIGN,
    }
    (batch,) = stack.events(SENT)
    assert batch.data["counts"] == {"failed": 1}
    contact_free(stack.events())


# -- subscriber.erased ------------------------------------------------------------------------


def test_an_erasure_is_told_once_with_the_id_alone(stack: Stack, test_clock: Any) -> None:
    lena = active("lena@example.org", "DE", "de")
    path = privacy.privacy_link(settings.get(), lena, BASE, clock.now()).removeprefix(BASE)
    for _ in range(2):
        assert stack.call("privacy-erase", path=path).status == 200
    (event,) = stack.events()
    assert (event.type, event.data) == (
        ERASED,
        {"subscriber_id": lena, "erased_at": "2025-10-27T09:00:00Z"},
    )
    contact_free(stack.events())


# -- reminder.sent ----------------------------------------------------------------------------


def same_shard(count: int) -> list[str]:
    """`count` German addresses whose subscribers share one audience shard (one send batch)."""
    by_shard: dict[int, list[str]] = {}
    for number in range(200):
        address = f"p{number}@example.org"
        shard = by_shard.setdefault(audience_shard(subscriber_id(address)), [])
        shard.append(address)
        if len(shard) == count:
            return shard
    raise AssertionError("no shard holds that many of 200 addresses")


def test_each_send_batch_is_told_once_with_its_counts_per_outcome(
    stack: Stack, test_clock: Any, campaign: None
) -> None:
    # Given three people of one shard, one of whom leaves after the fan-out read them, and Max
    # in another shard
    together = same_shard(3)
    for address in together:
        active(address, "DE", "de")
    alone = next(
        f"q{n}@example.org"
        for n in range(200)
        if audience_shard(subscriber_id(f"q{n}@example.org"))
        != audience_shard(subscriber_id(together[0]))
    )
    active(alone, "AT", "de")
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)  # "one week left" in the EU
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    SubscriberStore(settings.get()).unsubscribe(subscriber_id(together[2]), clock.now())
    stack.run_sender()
    # Then one event per send batch, each person of it counted once under their outcome
    told = stack.events(SENT)
    assert sorted(json.dumps(event.data["counts"]) for event in told) == sorted(
        [json.dumps({"sent": 2, "skipped_unsubscribed": 1}), json.dumps({"sent": 1})]
    )
    reminder = CampaignStore(settings.get()).get_reminder(CAMPAIGN, "EU-07")
    assert reminder is not None and len(told) == reminder.batches == 2
    for event in told:
        assert {k: v for k, v in event.data.items() if k != "counts"} == {
            "campaign_id": CAMPAIGN,
            "reminder": "EU-07",
            "region": "EU",
            "kind": "one-week-left",
            "catch_up": False,
        }
        assert event.timestamp == "2025-10-27T08:00:00Z"
    assert len({event.event_id for event in told}) == 2
    # And the counts add up to what the campaign's counters say
    stats = CampaignStore(settings.get()).stats(CAMPAIGN)["EU"]
    assert sum(event.data["counts"].get("sent", 0) for event in told) == stats["sent"] == 3
    contact_free(stack.events())


def test_an_ad_hoc_send_is_no_campaign_but_its_batches_are_told(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    active("anna@example.org", "DE", "de")
    assert organiser.call("POST", "/admin/sends", body=json.dumps(THANKS)).status == 201
    at(stack, test_clock, "2025-10-28T09:00:00Z")
    assert stack.events(LAUNCHED) == []
    (told,) = stack.events(SENT)
    assert told.data["campaign_id"] == "thanks-2025" and told.data["kind"] == "announcement"
    assert told.data["counts"] == {"sent": 1}
    # and cancelling it tells of no campaign's end either
    assert organiser.call("POST", "/admin/campaigns/thanks-2025/cancel").status == 200
    assert stack.events(FINISHED) == []


# -- conversion.recorded ----------------------------------------------------------------------


def test_a_conversion_is_told_once_and_never_for_a_link_scanner(
    stack: Stack, test_clock: Any, reminded: dict[str, str]
) -> None:
    test_clock.advance(hours=2)
    # When a scanner (or Lena) opens the "I've switched it off" page, nothing is told
    assert stack.call("done-page", path=reminded["done"]).status == 200
    assert stack.events(CONVERSION) == []
    # When she presses its button, and again the next day
    assert stack.call("done", path=reminded["done"]).status == 200
    test_clock.advance(days=1)
    assert stack.call("done", path=reminded["done"]).status == 200
    # Then one conversion is told, with the campaign, the reminder and the channel
    (event,) = stack.events(CONVERSION)
    assert event.data == {
        "campaign_id": CAMPAIGN,
        "subscriber_id": subscriber_id("lena@example.org"),
        "region": "EU",
        "reminder": "EU-07",
        "channel": "email",
        "recorded_at": "2025-10-27T10:00:00Z",
    }
    contact_free(stack.events())


# -- campaign.launched and campaign.finished --------------------------------------------------


def test_a_campaign_a_policy_change_creates_is_told_launched_once(
    stack: Stack, test_clock: Any, campaign: None
) -> None:
    # The same change delivered again, and an update of its deadlines, launch nothing more
    assert stack.post_webhook(LINKEDIN, webhook_id="msg_1").json()["status"] == "duplicate"
    assert stack.post_webhook(LINKEDIN, webhook_id="msg_again").status == 200
    (event,) = stack.events(LAUNCHED)
    assert event.data == {
        "campaign_id": CAMPAIGN,
        "platform": "linkedin",
        "title": LINKEDIN["policy"]["title"],
        "regions": LINKEDIN_REGIONS,
        "launched_at": "2025-10-13T09:00:00Z",
    }
    assert event.timestamp == "2025-10-13T09:00:00Z"
    contact_free(stack.events())


def test_a_draft_is_told_launched_when_an_organiser_launches_it(
    stack: Stack, organiser: Organiser, test_clock: Any
) -> None:
    reply = organiser.call("POST", "/admin/campaigns", body=json.dumps(LINKEDIN), query="draft=yes")
    assert reply.json()["status"] == "draft"
    assert stack.events(LAUNCHED) == []
    test_clock.advance(hours=3)
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/launch").status == 200
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/launch").status == 409
    (event,) = stack.events(LAUNCHED)
    assert event.data["launched_at"] == "2025-10-27T12:00:00Z"
    # and a pause and its resume are no launch
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/pause").status == 200
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/resume").status == 200
    assert len(stack.events(LAUNCHED)) == 1


def test_a_withdrawal_finishes_the_campaign_once_and_a_revival_is_a_new_run(
    stack: Stack, test_clock: Any, campaign: None
) -> None:
    withdrawal = {"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": CAMPAIGN}}
    test_clock.now = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(withdrawal, webhook_id="msg_w1").status == 200
    assert stack.post_webhook(withdrawal, webhook_id="msg_w2").status == 200
    (finished,) = stack.events(FINISHED)
    assert finished.data == {
        "campaign_id": CAMPAIGN,
        "platform": "linkedin",
        "title": LINKEDIN["policy"]["title"],
        "regions": LINKEDIN_REGIONS,
        "launched_at": "2025-10-13T09:00:00Z",
        "finished_at": "2025-10-20T09:00:00Z",
        "reason": "withdrawn",
    }
    # When the change comes back a day later, the campaign runs again: launched anew
    test_clock.now = datetime(2025, 10, 21, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(linkedin(), webhook_id="msg_back").status == 200
    first, again = stack.events(LAUNCHED)
    assert again.data["launched_at"] == "2025-10-21T09:00:00Z"
    assert again.event_id != first.event_id
    # And it finishes once, when its last reminder is out and its deadlines passed
    at(stack, test_clock, "2025-11-03T15:00:00Z")
    at(stack, test_clock, "2025-11-03T16:00:00Z")
    old_run, new_run = stack.events(FINISHED)
    assert new_run.data["reason"] == "completed"
    assert new_run.data["launched_at"] == "2025-10-21T09:00:00Z"
    assert new_run.event_id != old_run.event_id


def test_a_campaign_finishes_once_when_every_reminder_is_out_and_every_deadline_passed(
    stack: Stack, test_clock: Any, campaign: None
) -> None:
    active("julie@example.org", "CA", "fr-CA")
    # Canada's deadline (the last) passes; its "live now" is still to go out the next morning
    at(stack, test_clock, "2025-11-03T05:00:00Z")
    assert stack.events(FINISHED) == []
    # It goes out at 09:00 in Toronto; an hour after that fan-out, the campaign has finished
    at(stack, test_clock, "2025-11-03T14:00:00Z")
    assert [sent.subject for sent in to(stack, "julie@example.org")]  # reminders went out
    at(stack, test_clock, "2025-11-03T14:30:00Z")
    assert stack.events(FINISHED) == []
    ticked = at(stack, test_clock, "2025-11-03T15:00:00Z")
    assert ticked["campaigns_finished"] == 1
    at(stack, test_clock, "2025-11-04T15:00:00Z")
    (event,) = stack.events(FINISHED)
    assert event.data == {
        "campaign_id": CAMPAIGN,
        "platform": "linkedin",
        "title": LINKEDIN["policy"]["title"],
        "regions": LINKEDIN_REGIONS,
        "launched_at": "2025-10-13T09:00:00Z",
        "finished_at": "2025-11-03T15:00:00Z",
        "reason": "completed",
    }
    # and the reminders' batches were told before it, each once
    assert all(event.data["counts"] for event in stack.events(SENT))
    contact_free(stack.events())


def test_a_campaign_finishes_only_once_every_send_batch_its_fan_outs_queued_is_done(
    stack: Stack, test_clock: Any, campaign: None
) -> None:
    # Given two people in Canada in two audience shards (two send batches)
    first = "julie@example.org"
    second = next(
        f"q{n}@example.org"
        for n in range(200)
        if audience_shard(subscriber_id(f"q{n}@example.org"))
        != audience_shard(subscriber_id(first))
    )
    active(first, "CA", "fr-CA")
    active(second, "CA", "en")
    at(stack, test_clock, "2025-11-03T05:00:00Z")
    # When Canada's last reminder fans out, but the sender, paced to the account's rate, has
    # not yet sent its batches: one of them is delivered twice, the other not at all yet
    test_clock.now = datetime(2025, 11, 3, 14, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    one, other = (jobs.read(jobs.SendJob, body) for body in stack.send_batches())
    queues.enqueue(stack.env["SEND_QUEUE_URL"], one)
    queues.enqueue(stack.env["SEND_QUEUE_URL"], one)
    stack.run_sender()
    # Then hours after the fan-out the campaign has not finished: a batch is still to go
    for hour in (15, 16, 20):
        test_clock.now = datetime(2025, 11, 3, hour, 0, tzinfo=UTC)
        assert schedule.tick(settings.get(), clock.now())["campaigns_finished"] == 0
    assert stack.events(FINISHED) == []
    # And once the other batch is sent, it finishes, after every reminder.sent
    queues.enqueue(stack.env["SEND_QUEUE_URL"], other)
    stack.run_sender()
    at(stack, test_clock, "2025-11-03T21:00:00Z")
    (finished,) = stack.events(FINISHED)
    assert finished.data["finished_at"] == "2025-11-03T21:00:00Z"
    assert stack.events()[-1].type == FINISHED


def test_a_paused_campaign_waits_to_finish_until_it_is_resumed(
    stack: Stack, organiser: Organiser, test_clock: Any, campaign: None
) -> None:
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/pause").status == 200
    at(stack, test_clock, "2025-11-04T12:00:00Z")
    assert stack.events(FINISHED) == []
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/resume").status == 200
    at(stack, test_clock, "2025-11-04T13:00:00Z")  # the held reminders go out
    at(stack, test_clock, "2025-11-04T14:00:00Z")
    (event,) = stack.events(FINISHED)
    assert event.data["reason"] == "completed"


# -- a function that stops between its write and its event: the retry tells it ---------------


def failing_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
    """Make `owner.name` raise the first time it is called, as if the Lambda died there."""
    real = getattr(owner, name)
    calls = []

    def once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(f"the Lambda died in {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, once)


@pytest.mark.parametrize("dies_in", ["mark_launched", "emit"])
def test_a_creation_that_dies_before_its_launch_is_told_tells_it_on_the_retry(
    stack: Stack, test_clock: Any, monkeypatch: pytest.MonkeyPatch, dies_in: str
) -> None:
    # Given the webhook's first delivery dies after the campaign is saved active: before its
    # run is recorded, or before its event is queued
    failing_once(monkeypatch, CampaignStore if dies_in == "mark_launched" else events, dies_in)
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        stack.post_webhook(LINKEDIN, webhook_id="msg_1")
    assert stack.events(LAUNCHED) == []
    # When the sender retries it a minute later (twice)
    test_clock.now = datetime(2025, 10, 13, 9, 1, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN, webhook_id="msg_1").status == 200
    assert stack.post_webhook(LINKEDIN, webhook_id="msg_2").status == 200
    # Then the launch is told once, as the first delivery would have told it
    (launched,) = stack.events(LAUNCHED)
    assert launched.data["launched_at"] == "2025-10-13T09:00:00Z"
    # and the run finishes when its deadlines have passed and its last reminders went out
    at(stack, test_clock, "2025-11-04T12:00:00Z")
    at(stack, test_clock, "2025-11-04T13:00:00Z")
    (finished,) = stack.events(FINISHED)
    assert finished.data["launched_at"] == "2025-10-13T09:00:00Z"
    assert finished.data["reason"] == "completed"


def test_a_revival_that_dies_before_its_launch_is_told_tells_it_on_the_retry(
    stack: Stack, test_clock: Any, campaign: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    withdrawal = {"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": CAMPAIGN}}
    test_clock.now = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(withdrawal, webhook_id="msg_w").status == 200
    # Given the revival's first delivery dies between the campaign saved and its event
    failing_once(monkeypatch, events, "emit")
    test_clock.now = datetime(2025, 10, 21, 9, 0, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        stack.post_webhook(linkedin(), webhook_id="msg_back")
    # When it is delivered again
    assert stack.post_webhook(linkedin(), webhook_id="msg_back").status == 200
    # Then the new run is told launched once
    _, again = stack.events(LAUNCHED)
    assert again.data["launched_at"] == "2025-10-21T09:00:00Z"
    assert len(stack.events(LAUNCHED)) == 2


@pytest.mark.parametrize("dies_in", ["finish", "emit"])
def test_a_withdrawal_that_dies_before_its_finish_is_told_tells_it_on_the_retry(
    stack: Stack, test_clock: Any, campaign: None, monkeypatch: pytest.MonkeyPatch, dies_in: str
) -> None:
    withdrawal = {"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": CAMPAIGN}}
    # Given the withdrawal's first delivery dies after the campaign is marked withdrawn
    failing_once(monkeypatch, CampaignStore if dies_in == "finish" else events, dies_in)
    test_clock.now = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        stack.post_webhook(withdrawal, webhook_id="msg_w")
    # When it is delivered again, and again
    assert stack.post_webhook(withdrawal, webhook_id="msg_w").status == 200
    assert stack.post_webhook(withdrawal, webhook_id="msg_w2").status == 200
    # Then the run is told finished once, withdrawn
    (finished,) = stack.events(FINISHED)
    assert finished.data["reason"] == "withdrawn"
    assert finished.data["launched_at"] == "2025-10-13T09:00:00Z"
    assert finished.data["finished_at"] == "2025-10-20T09:00:00Z"


def test_a_tick_that_dies_before_telling_a_finish_leaves_it_to_the_next(
    stack: Stack, test_clock: Any, campaign: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(stack, test_clock, "2025-11-04T11:00:00Z")
    assert stack.events(FINISHED) == []
    # Given the tick that finds the campaign finished dies before its event is queued
    failing_once(monkeypatch, events, "emit")
    test_clock.now = datetime(2025, 11, 4, 12, 0, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        schedule.tick(settings.get(), clock.now())
    # When a tick comes after its lease ran out, and another
    at(stack, test_clock, "2025-11-04T12:11:00Z")
    at(stack, test_clock, "2025-11-04T13:11:00Z")
    # Then the finish is told once, with the time the run ended
    (finished,) = stack.events(FINISHED)
    assert finished.data["finished_at"] == "2025-11-04T12:00:00Z"
    assert finished.data["reason"] == "completed"


# -- campaigns launched before runs were recorded ---------------------------------------------


def as_before_runs(stack: Stack) -> None:
    """Make the campaign's items as a deployment before runs were recorded wrote them: no
    `launched_at` on the campaign, no finish check."""
    table = aws.table(stack.env["CAMPAIGNS_TABLE"])
    pk = f"CAMPAIGN#{CAMPAIGN}"
    table.update_item(Key={"pk": pk, "sk": "CAMPAIGN"}, UpdateExpression="REMOVE launched_at")
    table.delete_item(Key={"pk": pk, "sk": "FINISH"})


def test_a_campaign_launched_before_runs_were_recorded_finishes_when_the_scheduler_next_sends(
    stack: Stack, test_clock: Any, campaign: None
) -> None:
    as_before_runs(stack)
    active("lena@example.org", "DE", "de")
    # When the scheduler (as AWS runs it, under its own role) next fans out one of its
    # reminders, and its deadlines pass
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
    assert invoke.invoke("SchedulerFunction", invoke.scheduled_event(test_clock.now))
    stack.run_fanout()
    stack.run_sender()
    at(stack, test_clock, "2025-11-04T12:00:00Z")
    at(stack, test_clock, "2025-11-04T13:00:00Z")
    # Then its run, taken to have begun when it was created, is told launched (here the
    # same event as its creation's, which a deployment before runs never told) and finished
    launched = stack.events(LAUNCHED)[-1]
    assert launched.data["launched_at"] == "2025-10-13T09:00:00Z"
    (finished,) = stack.events(FINISHED)
    assert finished.data["launched_at"] == "2025-10-13T09:00:00Z"
    assert finished.data["reason"] == "completed"
    assert finished.event_id != launched.event_id


@pytest.mark.parametrize("touched_by", ["policy update", "withdrawal"])
def test_a_campaign_launched_before_runs_were_recorded_gets_its_run_when_a_change_touches_it(
    stack: Stack, test_clock: Any, campaign: None, touched_by: str
) -> None:
    as_before_runs(stack)
    test_clock.now = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)
    withdrawal = {"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": CAMPAIGN}}
    body = withdrawal if touched_by == "withdrawal" else linkedin()
    assert stack.post_webhook(body, webhook_id="msg_2").status == 200
    at(stack, test_clock, "2025-11-04T12:00:00Z")
    at(stack, test_clock, "2025-11-04T13:00:00Z")
    (finished,) = stack.events(FINISHED)
    assert finished.data["launched_at"] == "2025-10-13T09:00:00Z"
    assert finished.data["reason"] == ("withdrawn" if touched_by == "withdrawal" else "completed")


# -- the finish check of one run, never another's ---------------------------------------------


def test_forgetting_an_old_runs_finish_check_leaves_the_new_runs(
    stack: Stack, test_clock: Any, campaign: None
) -> None:
    store = CampaignStore(settings.get())
    until = datetime(2025, 12, 1, tzinfo=UTC)
    (old,) = store.due(until).finish_checks
    # Given a revival planted its run's check (the same key) after a tick read the old one
    store.mark_launched(CAMPAIGN, datetime(2025, 10, 21, 9, 0, tzinfo=UTC), "2025-11-03T05:00:00Z")
    # When the tick forgets the check it holds
    store.forget_finish_check(old)
    # Then the new run's check is still there
    (new,) = store.due(until).finish_checks
    assert new.launched_at == "2025-10-21T09:00:00Z"


def test_batches_held_while_paused_do_not_hold_a_revived_runs_finish(
    stack: Stack, organiser: Organiser, test_clock: Any, campaign: None
) -> None:
    # Given a batch fanned out, then held because the campaign was paused before it went
    active("lena@example.org", "DE", "de")
    test_clock.now = datetime(2025, 10, 27, 8, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    assert organiser.call("POST", f"/admin/campaigns/{CAMPAIGN}/pause").status == 200
    stack.run_sender()
    assert CampaignStore(settings.get()).count_held_batches(CAMPAIGN) == 1
    # When the change is withdrawn, and comes back
    withdrawal = {"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": CAMPAIGN}}
    assert stack.post_webhook(withdrawal, webhook_id="msg_w").status == 200
    test_clock.now = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(linkedin(), webhook_id="msg_back").status == 200
    # Then the revived run finishes once its deadlines have passed
    at(stack, test_clock, "2025-11-04T12:00:00Z")
    at(stack, test_clock, "2025-11-04T13:00:00Z")
    _, new_run = stack.events(FINISHED)
    assert new_run.data["reason"] == "completed"
    assert new_run.data["launched_at"] == "2025-10-28T09:00:00Z"


# -- policy.change_detected -------------------------------------------------------------------


def run_watcher() -> dict[str, int]:
    """The hourly watcher's run, as EventBridge invokes it."""
    result: dict[str, int] = invoke.invoke("WatcherFunction", sample_event("watcher-hourly"))
    return result


def test_a_policy_change_found_is_told_with_what_allies_get_under_the_change_s_id(
    stack: Stack, test_clock: Any, site: WatchedSite
) -> None:
    watch = Watch(
        watch_id="linkedin-generative-ai",
        platform="linkedin",
        title="LinkedIn: Data for Generative AI Improvement",
        source=Source(PAGE, url=site.url()),
        setting_url="https://www.linkedin.com/mypreferences/d/settings/data-for-ai-improvement",
    )
    assert WatchStore(settings.get()).create(watch)
    assert run_watcher() == {"first": 1}
    assert stack.events() == []  # the first version is no change
    site.page = AFTER
    test_clock.advance(hours=1)
    assert run_watcher() == {"changed": 1}
    (event,) = stack.events(CHANGE)
    [change] = WatchStore(settings.get()).changes()
    assert event.data == forward.event_data(asdict(change))
    assert json.loads(forward.event_body(asdict(change)))["data"] == event.data
    assert event.timestamp == change.detected_at
    assert "train generative AI" in " ".join(event.data["added"])
    # Told again (a run that stopped before noting it told), it is the same event
    check.tell(settings.get(), WatchStore(settings.get()), change, watch)
    first, again = stack.events(CHANGE)
    assert (again.event_id, again.body) == (first.event_id, first.body)
    contact_free(stack.events())


# -- who may queue events ---------------------------------------------------------------------

PRODUCERS = {
    "SubscriptionsFunction",  # a confirmation
    "AdminFunction",  # an import with proof, a launch, a cancel
    "FeedbackFunction",  # STOP, START, bounces and complaints
    "FeedbackHttpFunction",  # the same feedback over HTTPS
    "LinksFunction",  # an unsubscribe, an erasure, a conversion
    "WebhooksFunction",  # a campaign created active, revived or withdrawn
    "SchedulerFunction",  # a campaign finished
    "SenderFunction",  # each send batch, a number opted out at the provider
    "WatcherFunction",  # a policy change found
    "EventsFunction",  # not an event: its own delivery jobs, and their retries
}


def test_exactly_the_functions_where_something_happens_may_queue_events() -> None:
    deployment = template.Deployment(
        "optout-test",
        "eu-west-1",
        "123456789012",
        {"SmsHttpTokenSecretArn": "", "EncryptionKeyArn": ""},
        {},
        {},
    )
    queue = "arn:aws:sqs:eu-west-1:123456789012:optout-test-EventsQueue"
    may = {
        name
        for name, role in iam.roles(deployment).items()
        if role.decide("sqs:SendMessage", queue) == "allowed"
    }
    assert may == PRODUCERS
