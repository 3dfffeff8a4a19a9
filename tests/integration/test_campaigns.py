"""Policy-change webhooks to campaigns, and campaigns to the right subscribers, exactly once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from optout.campaigns import schedule
from optout.core import clock, jobs, settings
from optout.core.clock import parse_iso
from optout.domain import regions
from optout.domain.models import Reminder, reminder_region
from optout.messages import reminders as reminders_module
from optout.sending import fanout
from optout.store import AUDIENCE_SHARDS, CampaignStore, SubscriberStore
from tests.helpers import CAMPAIGN, LINKEDIN, active, linkedin
from tests.integration.conftest import Stack


def reminders(stack: Stack) -> dict[str, Reminder]:
    """The LinkedIn campaign's reminders by id (``EU-14``)."""
    return {r.reminder_id: r for r in CampaignStore(settings.get()).reminders(CAMPAIGN)}


def play_until(stack: Stack, test_clock, until: datetime) -> dict[str, Counter]:
    """Tick at every due time up to `until`, run the fan-out, and count each subscriber id
    queued per reminder."""
    queued: dict[str, Counter] = {}
    for due_at in sorted(
        {parse_iso(r.due_at) for r in reminders(stack).values() if r.state == "pending"}
    ):
        if due_at > until:
            break
        test_clock.now = due_at
        schedule.tick(settings.get(), clock.now())
        schedule.tick(settings.get(), clock.now())  # a second tick finds nothing more
        stack.run_fanout()
        for batch in stack.send_batches():
            queued.setdefault(batch["reminder"], Counter()).update(batch["ids"])
    return queued


@pytest.fixture
def people(stack: Stack) -> dict[str, str]:
    return {
        "de": active("de@example.org", "DE"),
        "fr_all_platforms": active("fr@example.org", "FR", platforms=()),
        "de_meta_only": active("meta@example.org", "DE", platforms=("meta",)),
        "no": active("no@example.org", "NO"),
        "ch": active("ch@example.org", "CH"),
        "ca": active("ca@example.org", "CA"),
        "hk": active("hk@example.org", "HK"),
        "us": active("us@example.org", "US"),
    }


def test_the_linkedin_webhook_plans_every_region_at_the_right_instants(
    stack: Stack, test_clock
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    reply = stack.post_webhook(LINKEDIN)
    assert reply.status == 200
    assert reply.json() == {
        "campaign_id": CAMPAIGN,
        "status": "active",
        "planned": 20,
        "already_sent": 0,
        "cancelled": 0,
    }
    planned = {sk: (r.due_at, r.state) for sk, r in reminders(stack).items()}
    assert planned["EU-14"] == ("2025-10-20T07:00:00Z", "pending")
    assert planned["EEA-07"] == ("2025-10-27T08:00:00Z", "pending")
    assert planned["CH-01"] == ("2025-11-02T08:00:00Z", "pending")
    assert planned["CA-01"] == ("2025-11-02T14:00:00Z", "pending")
    assert planned["HK-00"] == ("2025-11-03T01:00:00Z", "pending")
    campaign = CampaignStore(settings.get()).get_campaign(CAMPAIGN)
    assert campaign.policy.setting_url == LINKEDIN["policy"]["setting_url"]
    assert campaign.base_url == "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"


def test_each_reminder_reaches_exactly_its_region_s_subscribers_once(
    stack: Stack, test_clock, people
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    queued = play_until(stack, test_clock, datetime(2025, 11, 4, tzinfo=UTC))
    expected = {
        "EU": {people["de"], people["fr_all_platforms"]},
        "EEA": {people["no"]},
        "CH": {people["ch"]},
        "CA": {people["ca"]},
        "HK": {people["hk"]},
    }
    assert len(queued) == 20
    for reminder_id, ids in queued.items():
        assert set(ids) == expected[reminder_region(reminder_id)], reminder_id
        assert max(ids.values()) == 1, f"{reminder_id} queued someone twice"
    for reminder in reminders(stack).values():
        assert reminder.state == "fanned-out"
        assert reminder.audience_size == len(expected[reminder.region])
        assert reminder.shards_done == reminder.fanout_jobs == AUDIENCE_SHARDS
        assert reminder.finished_at


def test_two_ticks_at_once_queue_each_fan_out_once(
    stack: Stack, test_clock, people, monkeypatch
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    # "two weeks left" is due in the EU, EEA, CH and HK
    test_clock.now = datetime(2025, 10, 20, 7, 0, tzinfo=UTC)
    # The second tick runs whole between the first one's read of the due index and its leases
    # (interleaved by hand: DynamoDB's conditional writes are atomic, moto's are not under threads).
    read = CampaignStore.due
    results: list[dict] = []

    def read_then_let_the_other_tick_run(self, until):  # type: ignore[no-untyped-def]
        due = read(self, until)
        if not results:
            results.append({})
            results.append(schedule.tick(settings.get(), clock.now()))
        return due

    monkeypatch.setattr(CampaignStore, "due", read_then_let_the_other_tick_run)
    results.append(schedule.tick(settings.get(), clock.now()))
    results.pop(0)
    assert sorted(result["reminders_started"] for result in results) == [0, 4]
    stack.run_fanout()
    ids = Counter(i for batch in stack.send_batches() for i in batch["ids"])
    assert ids == Counter(
        {
            people["de"]: 1,
            people["fr_all_platforms"]: 1,
            people["no"]: 1,
            people["ch"]: 1,
            people["hk"]: 1,
        }
    )


def test_a_tick_that_died_holding_a_lease_is_redone_after_the_lease(
    stack: Stack, test_clock, people
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(
        linkedin(regions=[{"region": "CA", "effective_at": "2025-11-03T00:00:00-05:00"}])
    )
    test_clock.now = datetime(2025, 10, 20, 13, 0, tzinfo=UTC)
    campaigns = CampaignStore(settings.get())
    (due,) = campaigns.due(clock.now()).reminders
    assert campaigns.lease(due, clock.now(), schedule.LEASE)  # then the tick died
    assert schedule.tick(settings.get(), clock.now())["reminders_started"] == 0
    test_clock.advance(minutes=10)
    assert schedule.tick(settings.get(), clock.now())["reminders_started"] == 1
    stack.run_fanout()
    assert [batch["ids"] for batch in stack.send_batches()] == [[people["ca"]]]


def test_after_an_outage_only_the_latest_due_reminder_goes_out(
    stack: Stack, test_clock, people
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    test_clock.now = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)  # nothing ran for two weeks
    ticked = schedule.tick(settings.get(), clock.now())
    assert (ticked["reminders_started"], ticked["reminders_superseded"]) == (5, 5)
    stack.run_fanout()
    sent = {batch["reminder"] for batch in stack.send_batches()}
    assert sent == {f"{region}-07" for region in ("EU", "EEA", "CH", "CA", "HK")}
    assert reminders(stack)["EU-14"].state == "superseded"


# An outage that ends at 22:30 on the last day where the region's reference zone is, 90
# minutes before its deadline (local midnight on 3 November): Berlin (UTC+1), Toronto (UTC-5)
# and Hong Kong (UTC+8), whose deadline falls in the UTC afternoon before.
OUTAGE_ENDS = {
    "DE": datetime(2025, 11, 2, 21, 30, tzinfo=UTC),
    "CA": datetime(2025, 11, 3, 3, 30, tzinfo=UTC),
    "HK": datetime(2025, 11, 2, 14, 30, tzinfo=UTC),
}


@pytest.mark.parametrize("region", sorted(OUTAGE_ENDS))
def test_after_an_outage_that_ends_on_the_last_evening_the_last_day_email_still_goes_out(
    stack: Stack, test_clock, region: str
) -> None:
    # Given a subscriber in the region and the campaign planned weeks ahead
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    contact = f"{region.lower()}-outage@example.org"
    active(contact, region)
    stack.post_webhook(LINKEDIN)
    # When nothing ran until 22:30 on the last day there, 90 minutes before the deadline
    test_clock.now = OUTAGE_ENDS[region]
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    # Then they get the "last day" email now, not the next morning's "live now" instead
    (message,) = [m for m in stack.outbox() if m.to == contact]
    assert message.subject.startswith("Last day to opt out")
    # And "live now" still follows the next morning
    test_clock.now = OUTAGE_ENDS[region] + timedelta(hours=12)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    subjects = [m.subject for m in stack.outbox() if m.to == contact]
    assert len(subjects) == 2 and subjects[1].startswith("Now live")


MOBILES = {"DE": "+4915123456789", "CA": "+14165550123", "HK": "+85291234567"}


def play(stack: Stack, test_clock, until: datetime) -> None:
    """Move the clock to `until` and run a tick and everything it queues."""
    test_clock.now = until
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()


@pytest.mark.parametrize("region", sorted(OUTAGE_ENDS))
def test_a_last_day_text_held_over_the_night_past_the_deadline_gives_way_to_live_now(
    stack: Stack, test_clock, region: str
) -> None:
    # Given a subscriber by text and the campaign planned weeks ahead
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    active(MOBILES[region], region, "en")
    stack.post_webhook(LINKEDIN)
    # When nothing ran until 22:30 on the last day there: "last day" starts, but its text
    # waits for 08:00, which is after the midnight deadline
    play(stack, test_clock, OUTAGE_ENDS[region])
    assert stack.outbox() == []
    # Then at 08:00 they get no stale "last day" text ...
    play(stack, test_clock, OUTAGE_ENDS[region] + timedelta(hours=9, minutes=30))
    assert stack.outbox() == []
    # ... but "live now" at 09:00, alone
    play(stack, test_clock, OUTAGE_ENDS[region] + timedelta(hours=10, minutes=30))
    (text,) = stack.outbox()
    assert text.channel == "sms" and text.text.startswith("Now live"), text.text
    # And the organiser sees why "last day" reached nobody
    group = regions.resolve(region).group
    stats = CampaignStore(settings.get()).stats(CAMPAIGN)
    assert stats[group]["skipped_superseded"] == 1 and stats[group]["deferred"] == 1


def test_a_text_held_over_the_night_past_the_deadline_still_goes_when_nothing_follows_it(
    stack: Stack, test_clock
) -> None:
    # Given a campaign without a "live now" reminder, and a subscriber by text in Berlin
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    active(MOBILES["DE"], "DE", "en")
    stack.post_webhook(linkedin(plan={"offsets_days": [14, 7, 1]}))
    # When "last day" started at 22:30, its text held back until after the deadline
    play(stack, test_clock, OUTAGE_ENDS["DE"])
    play(stack, test_clock, OUTAGE_ENDS["DE"] + timedelta(hours=9, minutes=30))
    # Then it still goes out at 08:00: nothing else would tell them
    (text,) = stack.outbox()
    assert text.text.startswith("Last day"), text.text


def test_after_an_outage_that_ends_past_the_deadline_the_last_day_gives_way_to_live_now(
    stack: Stack, test_clock
) -> None:
    # Given a subscriber in Berlin and the campaign planned weeks ahead
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    active("de-late@example.org", "DE")
    stack.post_webhook(LINKEDIN)
    # When nothing ran until half past midnight on 3 November in Berlin, past the deadline
    test_clock.now = datetime(2025, 11, 2, 23, 30, tzinfo=UTC)
    ticked = schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    # Then no stale "last day" goes out; "live now" comes at 09:00
    assert [m for m in stack.outbox() if m.to == "de-late@example.org"] == []
    assert reminders(stack)["EU-01"].state == "superseded"
    assert ticked["reminders_started"] <= 3  # the regions whose deadline has not passed
    test_clock.now = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    (message,) = [m for m in stack.outbox() if m.to == "de-late@example.org"]
    assert message.subject.startswith("Now live")


def test_a_campaign_created_late_sends_only_the_latest_past_reminder(
    stack: Stack, test_clock, people
) -> None:
    test_clock.now = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    states = {sk: r.state for sk, r in reminders(stack).items()}
    assert states["EU-14"] == "skipped" and states["EU-07"] == "pending"
    assert schedule.tick(settings.get(), clock.now())["reminders_started"] == 5


def test_a_moved_deadline_re_plans_only_what_has_not_gone_out(
    stack: Stack, test_clock, people
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN, webhook_id="msg_first")
    play_until(
        stack, test_clock, datetime(2025, 10, 20, 23, 0, tzinfo=UTC)
    )  # "two weeks left" went out
    moved = linkedin(
        regions=[
            {**entry, "effective_at": "2025-11-10T00:00:00+01:00"}
            if entry["region"] == "EU"
            else entry
            for entry in LINKEDIN["regions"]
        ]
    )
    reply = stack.post_webhook(moved, webhook_id="msg_moved")
    assert reply.json()["already_sent"] == 5  # the d14 reminders of all five regions
    eu = {sk: (r.due_at, r.state) for sk, r in reminders(stack).items() if sk.startswith("EU-")}
    assert eu == {
        "EU-14": ("2025-10-20T07:00:00Z", "fanned-out"),
        "EU-07": ("2025-11-03T08:00:00Z", "pending"),
        "EU-01": ("2025-11-09T08:00:00Z", "pending"),
        "EU-00": ("2025-11-10T08:00:00Z", "pending"),
        # "two weeks left" went out: the EU is told the new date at once (test_moved_deadline)
        "EU-N1": ("2025-10-20T13:00:00Z", "pending"),
    }
    assert reminders(stack)["CA-07"].due_at == "2025-10-27T13:00:00Z"  # unchanged


def test_a_region_removed_cancels_its_pending_reminders(stack: Stack, test_clock, people) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN, webhook_id="msg_first")
    without_hk = linkedin(
        regions=[entry for entry in LINKEDIN["regions"] if entry["region"] != "HK"]
    )
    assert stack.post_webhook(without_hk, webhook_id="msg_second").json()["cancelled"] == 4
    assert {r.state for sk, r in reminders(stack).items() if sk.startswith("HK-")} == {"cancelled"}
    queued = play_until(stack, test_clock, datetime(2025, 11, 4, tzinfo=UTC))
    assert people["hk"] not in {i for ids in queued.values() for i in ids}


def test_a_withdrawal_cancels_every_pending_reminder_and_is_idempotent(
    stack: Stack, test_clock, people
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN, webhook_id="msg_first")
    withdrawal = {"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": CAMPAIGN}}
    assert stack.post_webhook(withdrawal, webhook_id="msg_w1").json() == {
        "campaign_id": CAMPAIGN,
        "status": "withdrawn",
        "cancelled": 20,
    }
    assert stack.post_webhook(withdrawal, webhook_id="msg_w2").json()["cancelled"] == 0
    test_clock.now = datetime(2025, 11, 4, tzinfo=UTC)
    assert schedule.tick(settings.get(), clock.now())["reminders_started"] == 0
    assert CampaignStore(settings.get()).get_campaign(CAMPAIGN).status == "withdrawn"


def test_a_replayed_delivery_answers_200_and_changes_nothing(stack: Stack, test_clock) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN, webhook_id="msg_once")
    before = reminders(stack)
    # days later the sender retries the same id, freshly signed; meanwhile the body differs
    test_clock.advance(days=3)
    moved = linkedin(regions=[{"region": "EU", "effective_at": "2025-12-01T00:00:00+01:00"}])
    reply = stack.post_webhook(moved, webhook_id="msg_once")
    assert (reply.status, reply.json()) == (200, {"campaign_id": CAMPAIGN, "status": "duplicate"})
    assert reminders(stack) == before


@pytest.mark.parametrize(
    "sign",
    [
        {"secret": "whsec_" + "Zm9yZ2VkLWtleS1mb3ItdGVzdHMtMDEyMw=="},  # someone else's key
        # (offsets from the time the test runs: a time taken at collection may be minutes old)
        {"timestamp": -timedelta(minutes=10)},  # stale
        {"timestamp": timedelta(minutes=10)},  # from the future
        {"signature": "v1,bm90IG91cnM= v2,whatever ,,, v1"},  # malformed entries
        {"signature": ""},
    ],
)
def test_a_forged_stale_or_malformed_delivery_is_a_401_and_writes_nothing(
    stack: Stack, sign: dict
) -> None:
    if "timestamp" in sign:
        sign = {"timestamp": datetime.now(UTC) + sign["timestamp"]}
    reply = stack.post_webhook(LINKEDIN, **sign)
    assert reply.status == 401 and reply.json()["error"] == "WebhookUnauthorized"
    assert stack.items("CAMPAIGNS_TABLE") == [] and stack.items("DELIVERIES_TABLE") == []


def test_an_invalid_body_is_a_400_listing_every_problem_and_writes_nothing(stack: Stack) -> None:
    bad = linkedin(regions=[{"region": "Mars", "effective_at": "2025-11-03T00:00:00"}])
    bad["policy"] = {**LINKEDIN["policy"], "setting_url": "http://www.linkedin.com"}
    reply = stack.post_webhook(bad)
    assert reply.status == 400
    assert set(reply.json()["problems"]) == {
        "policy.setting_url",
        "regions[0].region",
        "regions[0].effective_at",
    }
    assert stack.items("CAMPAIGNS_TABLE") == [] and stack.items("DELIVERIES_TABLE") == []


def test_a_body_over_64_kib_is_a_413(stack: Stack) -> None:
    huge = linkedin(policy={**LINKEDIN["policy"], "summary": "x" * 70_000})
    assert stack.post_webhook(huge).status == 413
    assert stack.items("CAMPAIGNS_TABLE") == []


def test_a_fan_out_short_of_time_continues_and_a_redelivered_job_resumes(
    stack: Stack, test_clock, monkeypatch
) -> None:
    monkeypatch.setattr(fanout, "PAGE_SIZE", 3)
    everyone = {active(f"p{n}@example.org", "FR") for n in range(40)}
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(
        linkedin(regions=[{"region": "EU", "effective_at": "2025-11-03T00:00:00+01:00"}])
    )
    test_clock.now = datetime(2025, 10, 20, 7, 0, tzinfo=UTC)
    schedule.tick(settings.get(), clock.now())
    queued_jobs = [jobs.read(jobs.FanoutJob, job) for job in stack.fanout_jobs()]
    busiest = max(
        queued_jobs,
        key=lambda job: len(
            SubscriberStore(settings.get()).audience_page(job.group, job.shard, "", 1000)[0]
        ),
    )
    # a job that runs out of time after its first page hands on a continuation
    first = fanout.run(settings.get(), busiest, lambda: 0, clock.now())
    assert first["outcome"] == "continued" and first["queued"] == 3
    # SQS redelivers the original job too (as after a crash): it resumes at the checkpoint
    for job in queued_jobs:
        fanout.run(settings.get(), job, lambda: 60_000, clock.now())
    stack.run_fanout()  # the continuation finds the shard done
    queued = Counter(i for batch in stack.send_batches() for i in batch["ids"])
    assert set(queued) == everyone and max(queued.values()) == 1
    reminder = reminders(stack)["EU-14"]
    assert reminder.audience_size == 40 and reminder.state == "fanned-out"


def test_a_withdrawn_campaign_changed_again_is_planned_again(stack: Stack, test_clock) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN, webhook_id="msg_1")
    stack.post_webhook(
        {"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": CAMPAIGN}},
        webhook_id="msg_2",
    )
    again = stack.post_webhook(LINKEDIN, webhook_id="msg_3")
    assert again.json()["planned"] == 20
    assert {r.state for r in reminders(stack).values()} == {"pending"}


def test_a_fan_out_job_that_arrives_before_its_reminder_started_is_retried_not_dropped(
    stack: Stack, test_clock
) -> None:
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    stack.post_webhook(LINKEDIN)
    job = jobs.FanoutJob(CAMPAIGN, "EU-14", group="EU", shard=0)
    with pytest.raises(RuntimeError, match="not fanning out"):
        fanout.run(settings.get(), job, lambda: 60_000, clock.now())


def test_a_title_on_two_lines_is_refused(stack: Stack) -> None:
    bad = linkedin(
        policy={**LINKEDIN["policy"], "title": "LinkedIn\\r\\nBcc: everyone@example.org"}
    )
    bad["policy"]["title"] = "LinkedIn\r\nBcc: everyone@example.org"
    reply = stack.post_webhook(bad)
    assert reply.status == 400 and "policy.title" in reply.json()["problems"]


def test_a_made_short_title_fits_a_text_s_two_segments_in_every_language(
    stack: Stack, test_clock
) -> None:
    # Given the contract's example (no short title), with long titles in German and Chinese
    example = json.loads(
        (
            Path(__file__).resolve().parents[2]
            / "events/payloads/policy-changed.contract-example.json"
        ).read_text(encoding="utf-8")
    )
    example["policy"]["translations"] = {
        "de": {"title": "LinkedIn verwendet Mitgliederdaten zum Training generativer KI-Modelle"},
        # 100 characters of a script without spaces: as a short title uncut, a text of 3 segments
        "zh-HK": {"title": "領英將使用會員資料訓練生成式人工智能模型" * 5},
    }
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(example).status == 200
    # When every reminder's first text is rendered in every language
    campaign_id = example["policy"]["id"]
    store = CampaignStore(settings.get())
    campaign = store.get_campaign(campaign_id)
    for reminder in store.reminders(campaign_id):
        # Then none takes more than two segments (RenderError names the language otherwise)
        reminders_module.check_templates(
            settings.get(), campaign, reminder, clock.now(),
            max_sms_segments=reminders_module.MAX_SMS_SEGMENTS,
        )  # fmt: skip


def test_a_batch_deferred_again_while_its_release_is_under_way_is_kept(stack: Stack) -> None:
    # Given a held batch a tick has read and queued
    campaigns = CampaignStore(settings.get())
    job = jobs.SendJob(CAMPAIGN, "EU-07", ("someone",))
    first, again = datetime(2025, 10, 27, 8, tzinfo=UTC), datetime(2025, 10, 27, 8, 30, tzinfo=UTC)
    campaigns.put_deferred(job, "EU", first, "missing or invalid settings: SMS_HTTP_URL")
    (released,) = campaigns.due(first).batches
    # When a sender holds the same batch back again before the tick forgets the first one
    campaigns.put_deferred(job, "EU", again, "missing or invalid settings: SMS_HTTP_URL")
    campaigns.release_deferred(released)
    # Then the new deferral stays, due at its own time
    assert [batch.due_at for batch in campaigns.due(again).batches] == ["2025-10-27T08:30:00Z"]


def test_a_malformed_deferred_notice_is_left_for_a_person_and_the_others_still_go(
    stack: Stack,
) -> None:
    campaigns = CampaignStore(settings.get())
    at = datetime(2025, 10, 27, 8, tzinfo=UTC)
    good = jobs.NoticeJob("sub-good", "2025-10-27T01:00:00Z", "https://example.org")
    campaigns.put_deferred_notice(good, at)
    campaigns.put_deferred_notice(jobs.NoticeJob("sub-bad", "t", "u"), at)
    stack._aws.resource("dynamodb").Table(stack.env["CAMPAIGNS_TABLE"]).update_item(
        Key={"pk": "NOTICE#sub-bad", "sk": "NOTICE#confirm"},
        UpdateExpression="REMOVE job.base_url",  # as a bad write might have left it
    )
    ticked = schedule.tick(settings.get(), at)
    assert ticked["deferred_notices_released"] == 1
    assert [job["subscriber_id"] for job in stack.notice_jobs()] == ["sub-good"]
    left = [notice.body.get("subscriber_id") for notice in campaigns.due(at).notices]
    assert left == ["sub-bad"]
