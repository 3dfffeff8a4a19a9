"""The scheduler queues each due reminder's fan-out exactly once, one job per audience shard."""

from __future__ import annotations

from datetime import timedelta

from local import invoke
from optout import clock, settings
from optout.store import AUDIENCE_SHARDS, CampaignStore
from tests.integration.conftest import Stack, sample_event


def fanout_jobs(stack: Stack) -> list[dict]:
    jobs: list[dict] = []
    while batch := stack._peek(stack.env["FANOUT_QUEUE_URL"]):
        jobs.extend(batch)
        for message in stack.sqs.receive_message(
            QueueUrl=stack.env["FANOUT_QUEUE_URL"], MaxNumberOfMessages=10
        ).get("Messages", []):
            stack.sqs.delete_message(
                QueueUrl=stack.env["FANOUT_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"]
            )
    return jobs


def tick() -> dict:
    return invoke.invoke("SchedulerFunction", sample_event("scheduler-tick"))


def test_a_due_reminder_is_fanned_out_once_and_a_future_one_waits(stack: Stack) -> None:
    campaigns = CampaignStore(settings.get())
    now = clock.now()
    campaigns.put_reminder(
        "linkedin-genai-2025", "EU", "one-week", now - timedelta(minutes=1), ["EU"]
    )
    campaigns.put_reminder("linkedin-genai-2025", "EU", "last-day", now + timedelta(days=6), ["EU"])
    assert tick() == {"reminders_started": 1}
    jobs = sorted(fanout_jobs(stack), key=lambda job: job["shard"])
    assert [job["shard"] for job in jobs] == list(range(AUDIENCE_SHARDS))
    assert {(job["group"], job["reminder"]) for job in jobs} == {("EU", "REMINDER#EU#one-week")}
    assert tick() == {"reminders_started": 0}
    assert fanout_jobs(stack) == []


def test_an_eea_reminder_reaches_every_shard_of_both_home_groups(stack: Stack) -> None:
    CampaignStore(settings.get()).put_reminder("c1", "EEA", "live", clock.now(), ["EU", "EEA"])
    tick()
    jobs = fanout_jobs(stack)
    assert len(jobs) == 2 * AUDIENCE_SHARDS
    assert {job["group"] for job in jobs} == {"EU", "EEA"}


def test_a_reminder_leased_by_another_tick_waits_for_the_lease_to_run_out(
    stack: Stack, test_clock
) -> None:
    campaigns = CampaignStore(settings.get())
    campaigns.put_reminder("c1", "CA", "last-day", clock.now(), ["CA"])
    (reminder,) = campaigns.due_reminders(clock.now())
    assert campaigns.lease_reminder(
        reminder, clock.now(), timedelta(minutes=10)
    )  # a tick that then died
    assert tick() == {"reminders_started": 0}
    test_clock.advance(minutes=10)
    assert tick() == {"reminders_started": 1}
    assert len(fanout_jobs(stack)) == AUDIENCE_SHARDS
