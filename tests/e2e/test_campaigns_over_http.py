"""The campaign side of the local stack, over HTTP: the demo campaign plays on the stack's
clock, and policy-change webhooks signed by the reference Standard Webhooks library."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import standardwebhooks

from tests.e2e.conftest import DEMO_SECRETS, DemoStack, StackClient, running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A demo stack whose background pump is off, so that only this test's ticks run the
    scheduler and each tick's answer tells all that happened."""
    log = tmp_path_factory.mktemp("campaign-stack") / "stack.log"
    with running_stack(log, "--pump-seconds", "0", env=DEMO_SECRETS) as client:
        yield DemoStack(client, log, DEMO_SECRETS)


PAYLOAD = json.loads(
    (
        Path(__file__).resolve().parents[2] / "events/payloads/policy-changed.linkedin.json"
    ).read_text(encoding="utf-8")
)


def post_webhook(
    stack: StackClient, secret: str, payload: dict, webhook_id: str, sent_at: datetime | None = None
):  # type: ignore[no-untyped-def]
    body = json.dumps(payload)
    at = sent_at or datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": standardwebhooks.Webhook(secret).sign(webhook_id, at, body),
    }
    return stack.post("/webhooks/policy-change", data=body.encode(), headers=headers)


def test_the_demo_campaign_s_first_reminders_go_out_when_the_clock_reaches_them(
    demo_stack: DemoStack,
) -> None:
    stack = demo_stack.client
    # Given the stack started with the LinkedIn campaign, a week before its first reminder
    banner = demo_stack.log.read_text(encoding="utf-8")
    assert "demo campaign    linkedin-genai-2025: 20 reminders planned" in banner
    # When its clock reaches "two weeks left" in Brussels (09:00 CEST) and the scheduler ticks
    stack.move_clock(set="2025-10-20T07:00:00Z").raise_for_status()
    ticked = stack.tick()
    # Then four regions' reminders started (HK's came due at 01:00 UTC), each fanned out per shard
    assert ticked["scheduled"]["SchedulerFunction"]["reminders_started"] == 4
    assert ticked["processed"]["FanoutQueue"] == 4 * 16
    assert ticked["failed"]["FanoutQueue"] == 0
    # And a second tick at the same time starts nothing again
    assert stack.tick()["scheduled"]["SchedulerFunction"]["reminders_started"] == 0


def test_a_signed_webhook_plans_a_campaign_and_its_replay_changes_nothing(
    demo_stack: DemoStack,
) -> None:
    stack, secret = demo_stack.client, demo_stack.secrets["OPTOUT_WEBHOOK_SECRET"]
    payload = {**PAYLOAD, "policy": {**PAYLOAD["policy"], "id": "linkedin-genai-2025-e2e"}}
    first = post_webhook(stack, secret, payload, "msg_e2e_1")
    assert first.status_code == 200, first.text
    assert first.json()["planned"] == 20
    replay = post_webhook(stack, secret, payload, "msg_e2e_1")
    assert (replay.status_code, replay.json()["status"]) == (200, "duplicate")


def test_forged_and_stale_webhooks_are_refused(demo_stack: DemoStack) -> None:
    stack = demo_stack.client
    forged = post_webhook(
        stack, "whsec_" + "c29tZW9uZS1lbHNlcy1rZXktMjRi", PAYLOAD, "msg_e2e_forged"
    )
    stale = post_webhook(
        stack,
        demo_stack.secrets["OPTOUT_WEBHOOK_SECRET"],
        PAYLOAD,
        "msg_e2e_stale",
        datetime.now(UTC) - timedelta(minutes=6),
    )
    assert (forged.status_code, stale.status_code) == (401, 401)
    assert "no webhook signature matches" in forged.json()["message"]
    assert "more than 5 minutes" in stale.json()["message"]


def test_the_demo_reminders_reach_each_subscriber_in_their_language(demo_stack: DemoStack) -> None:
    stack = demo_stack.client
    # When "one week left" comes in the EU (Brussels 09:00) and then in Canada (Toronto 09:00)
    for moment in ("2025-10-27T08:00:00Z", "2025-10-27T13:00:00Z"):
        stack.move_clock(set=moment).raise_for_status()
        stack.tick()
    # (the demo's campaign, or the one a test above posted for the same change: one reminder a
    # day reaches a person, MessagesPerDay, the other campaign's waits for the next day)
    linkedin = [m for m in stack.outbox() if ".linkedin-genai-2025" in m["text"]]
    reminders = {m["to"]: m for m in linkedin}
    # Then each demo subscriber has it, in their language, with their deadline and links
    assert reminders["lena.schmidt@example.org"]["subject"].startswith("Noch 1 Woche")
    assert "3. November 2025" in reminders["lena.schmidt@example.org"]["text"]
    assert "3 novembre 2025" in reminders["camille.martin@example.org"]["text"]
    assert "3 novembre 2025" in reminders["julie.tremblay@example.org"]["text"]  # Toronto time
    assert (
        reminders["lena.schmidt@example.org"]["headers"]["List-Unsubscribe-Post"]
        == "List-Unsubscribe=One-Click"
    )
    texts = [m["text"] for m in stack.outbox() if m["to"] == "+14165550123"]
    assert "STOP" in texts[0] and not any(
        "STOP" in text for text in texts[1:]
    )  # first says how to stop
    one_week = [
        m for m in linkedin if m["to"] == "lena.schmidt@example.org" and "1 Woche" in m["subject"]
    ]
    assert len(one_week) == 1


def test_the_coalition_s_members_get_each_reminder_once_from_the_organisation_joined_first(
    demo_stack: DemoStack,
) -> None:
    stack = demo_stack.client
    # Given the demo's coalition: Privacy Action Canada joined the campaign; Owen joined the
    # deployment's own organisation first, then it; Julie joined it alone
    banner = demo_stack.log.read_text(encoding="utf-8")
    partner_token = re.search(r"/admin with (oot_[\w-]+)", banner)
    assert partner_token, banner
    # When "one week left" comes in Canada (Toronto 09:00)
    stack.move_clock(set="2025-10-27T13:00:00Z").raise_for_status()
    stack.tick()
    one_week = [m for m in stack.outbox() if ".linkedin-genai-2025.CA-07." in m["text"]]
    # Then each of them has it once, from the organisation they joined first
    owen = [m for m in one_week if m["to"] == "owen.clarke@example.org"]
    julie = [m for m in one_week if m["to"] == "julie.tremblay@example.org"]
    assert (len(owen), len(julie)) == (1, 1)
    assert "reminders@optout.example.org" in owen[0]["headers"]["From"]
    assert "rappels@pac.example.org" in julie[0]["headers"]["From"]
    assert "1 Example Street, Toronto" in julie[0]["text"]  # the partner's postal address
    # And the partner's organisers see the campaign they joined, and nothing of the list's
    partner = {"Authorization": f"Bearer {partner_token.group(1)}", "Accept": "application/json"}
    campaigns = stack.get("/admin/campaigns", headers=partner)
    assert campaigns.status_code == 200
    assert "linkedin-genai-2025" in campaigns.text
    assert stack.get("/admin/list-health", headers=partner).status_code == 403
    # And its own subscribe form carries its name
    form = stack.get("/o/pac/subscribe")
    assert form.status_code == 200 and "Privacy Action Canada (demo)" in form.text


def test_after_an_outage_on_the_last_evening_toronto_texts_get_live_now_not_a_stale_last_day(
    demo_stack: DemoStack,
) -> None:
    stack, toronto = demo_stack.client, "+14165550123"
    before = len([m for m in stack.outbox() if m["to"] == toronto])
    # Given nothing ran after "one week left" until 22:30 in Toronto on the last day, 90
    # minutes before the deadline: "last day" starts, but a text must wait for 08:00, and
    # 08:00 is after the deadline
    stack.move_clock(set="2025-11-03T03:30:00Z").raise_for_status()
    stack.tick()
    # When the morning comes, then 09:00, when "live now" is due
    for moment in ("2025-11-03T13:05:00Z", "2025-11-03T14:05:00Z"):
        stack.move_clock(set=moment).raise_for_status()
        stack.tick()
    # Then the phone got "live now" since, never a stale "last day" an hour before it; and one
    # text that day (MessagesPerDay), though it is in two campaigns: the demo's, and the one a
    # test above posted; the other's "live now" waits for the next day
    texts = [m["text"] for m in stack.outbox() if m["to"] == toronto][before:]
    assert len(texts) == 1 and texts[0].startswith("Now live"), texts
