"""A/B tests under faults: a scheduler tick that dies between deciding the winner and queuing the
rest's fan-out. The tick after the lease does it again: the first decision stands (conversions
that came in between change nothing), the rest gets that one variant once, and the reminder's
fan-out ends counted once for each phase."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from optout.campaigns import schedule
from optout.core import clock, queues, settings
from optout.sending import catch_up, sender
from optout.store import CampaignStore
from tests.helpers import CAMPAIGN, LINKEDIN, active, link, to
from tests.integration.conftest import ADMIN_TOKEN, Organiser, Stack

PEOPLE = 40
TEST = {
    "days_before": 7,
    "share": 0.5,
    "variants": [
        {"name": "A", "subject": {"en": "Variant A"}},
        {"name": "B", "subject": {"en": "Variant B"}},
    ],
}


def tick(stack: Stack, test_clock: Any, moment: str) -> dict[str, int]:
    test_clock.now = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    ticked = schedule.tick(settings.get(), clock.now())
    stack.run_fanout()
    stack.run_sender()
    return ticked


def test_a_tick_that_dies_after_deciding_is_redone_with_the_same_winner(
    stack: Stack, test_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given "one week left" tested on half of forty people, and its test share sent
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    stack.put_secret("AdminTokenSecret", ADMIN_TOKEN)
    body = json.dumps({"ab_tests": [TEST]})
    assert (
        Organiser().call("POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=body).status == 200
    )
    people = [f"p{n:02d}@example.org" for n in range(PEOPLE)]
    for address in people:
        active(address, "DE", "en")
    tick(stack, test_clock, "2025-10-27T08:00:00Z")
    first = {a: to(stack, a)[0].subject for a in people if to(stack, a)}

    # When the tick after the wait decides the EU's test (too few conversions: A), then dies
    # before queuing its rest's fan-out
    real = queues.enqueue_many

    def dies_on_the_rest(url: str, jobs: list[Any]) -> None:
        if any(getattr(job, "phase", "") == "rest" and job.reminder == "EU-07" for job in jobs):
            raise RuntimeError("the tick died here")
        real(url, jobs)

    monkeypatch.setattr(queues, "enqueue_many", dies_on_the_rest)
    test_clock.now = datetime(2025, 10, 27, 12, 5, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        schedule.tick(settings.get(), clock.now())
    monkeypatch.setattr(queues, "enqueue_many", real)
    # ... and meanwhile every B reader says they switched it off
    for address, subject in first.items():
        if subject == "Variant B":
            assert stack.call("done", path=link(to(stack, address)[0].text, "done")).status == 200

    # Then the tick after the lease sends the rest the first decision's winner, once each
    ticked = tick(stack, test_clock, "2025-10-27T12:20:00Z")
    assert ticked["ab_rest_started"] >= 1
    rest = [a for a in people if a not in first]
    assert rest and all([m.subject for m in to(stack, a)] == ["Variant A"] for a in rest)
    assert all(len(to(stack, a)) == 1 for a in first)
    phase = CampaignStore(settings.get()).ab_phase(CAMPAIGN, "EU-07")
    assert phase is not None and phase.winner == "A"
    assert phase.reason.startswith("too few conversions to tell (0 in all")
    reminder = CampaignStore(settings.get()).get_reminder(CAMPAIGN, "EU-07")
    assert reminder is not None and reminder.state == "fanned-out"


def test_a_test_share_fanout_that_dies_before_its_checkpoint_counts_the_held_once(
    stack: Stack, test_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given "one week left" tested on half of forty people
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    stack.put_secret("AdminTokenSecret", ADMIN_TOKEN)
    body = json.dumps({"ab_tests": [TEST]})
    assert (
        Organiser().call("POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=body).status == 200
    )
    people = [f"p{n:02d}@example.org" for n in range(PEOPLE)]
    for address in people:
        active(address, "DE", "en")
    # When each fan-out job of its test share dies once, after paging its shard but before
    # marking it done (SQS delivers it again)
    real = CampaignStore.finish_shard
    died: set[str] = set()

    def dies_once(self: CampaignStore, reminder: Any, shard: str, *args: Any, **kw: Any) -> None:
        if (reminder.reminder_id, shard) not in died:
            died.add((reminder.reminder_id, shard))
            raise RuntimeError("the fan-out died here")
        real(self, reminder, shard, *args, **kw)

    monkeypatch.setattr(CampaignStore, "finish_shard", dies_once)
    tick(stack, test_clock, "2025-10-27T08:00:00Z")
    while stack.run_fanout()["processed"] or stack.run_fanout()["failed"]:
        pass  # a drain stops at a batch that failed whole: drain again until all are done
    stack.run_sender()
    monkeypatch.setattr(CampaignStore, "finish_shard", real)
    assert any(reminder == "EU-07" for reminder, _shard in died)
    # Then the organiser reads each held person once: the rest, everyone the share did not get
    got = [a for a in people if to(stack, a)]
    phase = CampaignStore(settings.get()).ab_phase(CAMPAIGN, "EU-07")
    assert phase is not None and phase.held == PEOPLE - len(got)


def test_a_held_late_joiner_is_counted_once_when_the_batch_comes_again(
    stack: Stack, test_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given "one week left"'s test share sent
    test_clock.now = datetime(2025, 10, 13, 9, 0, tzinfo=UTC)
    assert stack.post_webhook(LINKEDIN).status == 200
    stack.put_secret("AdminTokenSecret", ADMIN_TOKEN)
    body = json.dumps({"ab_tests": [TEST]})
    assert (
        Organiser().call("POST", f"/admin/campaigns/{CAMPAIGN}/ab-tests", body=body).status == 200
    )
    tick(stack, test_clock, "2025-10-27T08:00:00Z")
    held = CampaignStore(settings.get()).ab_phase(CAMPAIGN, "EU-07")
    assert held is not None and held.held == 0
    # When late joiners are caught up during the wait, and the sender's batch dies at its end
    # (SQS delivers it again)
    test_clock.now = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)
    late = [f"late{n:02d}@example.org" for n in range(20)]
    ids = [active(address, "DE", "en") for address in late]
    real = sender._tell_sent
    calls: list[int] = []

    def dies_once(*args: Any, **kw: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the sender died here")
        real(*args, **kw)

    monkeypatch.setattr(sender, "_tell_sent", dies_once)
    catch_up.request(settings.get(), ids, test_clock.now)
    stack.drain_notices()
    stack.run_sender()
    stack.run_sender()
    assert len(calls) >= 2  # the batch came again
    # Then each of the rest among them is held once: not twice for the batch's second coming
    caught_up = [a for a in late if to(stack, a)]
    phase = CampaignStore(settings.get()).ab_phase(CAMPAIGN, "EU-07")
    assert phase is not None and phase.held == len(late) - len(caught_up)
