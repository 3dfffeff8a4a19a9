"""The published contract (DESIGN.md section 1), spoken as another program speaks it.

A policy monitor, a mail client and an organiser's script are written from that section alone,
so these tests know nothing of the project's code or schema: routes and bodies are the
contract's own, the webhook body is its example byte for byte (events/payloads/
policy-changed.contract-example.json, only its dates moved ahead of the stack's clock), signed
by the Standard Webhooks reference library; answers are read as such a client reads them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import standardwebhooks

from tests.e2e.conftest import DEMO_SECRETS, StackClient, running_stack

pytestmark = pytest.mark.slow

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "events/payloads/policy-changed.contract-example.json"
)
SECRET, TOKEN = DEMO_SECRETS["OPTOUT_WEBHOOK_SECRET"], DEMO_SECRETS["OPTOUT_ADMIN_TOKEN"]
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
# The stack's clock for this module: a Monday morning in Europe and in Toronto, 20 days before
# the example's deadlines once they are moved here.
START = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
OUTBOX_FIELDS = {"channel", "to", "subject", "text", "html", "headers", "sent_at"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackClient]:
    """`make run DEMO=0` with the secrets given, as an outside client would start it."""
    log = tmp_path_factory.mktemp("contract-stack") / "stack.log"
    with running_stack(log, "--no-demo", env=DEMO_SECRETS) as client:
        client.move_clock(set=START.isoformat().replace("+00:00", "Z")).raise_for_status()
        yield client


def example_body(deadline_day: datetime, policy_id: str) -> str:
    """The contract's example as published, its dates moved to `deadline_day` (the time of
    day and offset kept) and its id made unique: every other byte is the example's."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r'"\d{4}-\d{2}-\d{2}T', f'"{deadline_day:%Y-%m-%d}T', text)
    return text.replace('"linkedin-genai-contract-example"', f'"{policy_id}"')


def signed_headers(body: str) -> dict[str, str]:
    """A Standard Webhooks delivery's headers for `body`, signed by the reference library."""
    message_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)  # webhook timestamps are checked against real time
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": standardwebhooks.Webhook(SECRET).sign(message_id, now, body),
    }


def post_signed(stack: StackClient, body: str) -> requests.Response:
    return stack.post("/webhooks/policy-change", data=body.encode(), headers=signed_headers(body))


def at_one_week_left(stack: StackClient) -> None:
    """The stack's clock at the example's "one week left", a weekday afternoon in both
    regions, with everything due sent."""
    stack.move_clock(set=(START + timedelta(days=13)).isoformat().replace("+00:00", "Z"))
    stack.tick()


def messages_to(stack: StackClient, contact: str) -> list[dict[str, Any]]:
    return [m for m in stack.outbox() if m["to"] == contact]


def links_in(message: dict[str, Any], route: str) -> list[str]:
    found = re.findall(rf"https?://[^\s\"'<>]*(/{route}/[^\s\"'<>]+)", message["text"])
    return [path.replace("&amp;", "&") for path in found]


def subscribe_and_confirm(stack: StackClient, body: dict[str, Any]) -> None:
    """The section 1.2 double opt-in: 202, a message with a /confirm link, GET shows, POST
    activates."""
    answer = stack.post("/subscribe", json=body)
    assert answer.status_code == 202, answer.text
    stack.tick()
    (confirmation,) = messages_to(stack, body["contact"])
    assert set(confirmation) >= OUTBOX_FIELDS
    (confirm,) = set(links_in(confirmation, "confirm"))
    assert stack.get(confirm).status_code == 200
    assert stack.get(confirm).status_code == 200  # a link scanner's second look changes nothing
    assert 200 <= stack.post(confirm, allow_redirects=False).status_code < 400


@pytest.fixture(scope="module")
def campaign(stack: StackClient) -> dict[str, Any]:
    """The example campaign, created by the signed example body, with one email subscriber in
    Germany and one text subscriber in Canada."""
    policy_id = f"contract-{uuid.uuid4().hex[:8]}"
    answer = post_signed(stack, example_body(START + timedelta(days=20), policy_id))
    assert 200 <= answer.status_code < 300, answer.text
    email = f"contract-{uuid.uuid4().hex[:8]}@example.org"
    subscribe_and_confirm(stack, {"contact": email, "region": "DE", "locale": "de"})
    # The example's CA deadline, so a Canadian mobile (555-01xx numbers are fictional)
    phone = f"+1416555{uuid.uuid4().int % 100:04d}"
    subscribe_and_confirm(stack, {"contact": phone, "region": "CA"})
    return {"id": policy_id, "email": email, "phone": phone}


def test_the_published_example_body_creates_a_campaign_with_reminders_per_region(
    stack: StackClient, campaign: dict[str, Any]
) -> None:
    # Given the example body as published, signed: accepted by the fixture
    # When an organiser's script lists the campaigns and opens this one
    listed = stack.get("/admin/campaigns", headers=ADMIN)
    opened = stack.get(f"/admin/campaigns/{campaign['id']}", headers=ADMIN)
    # Then it is there, planned in both regions of the example
    assert listed.status_code == 200 and campaign["id"] in listed.text
    assert opened.status_code == 200
    assert "EU" in opened.text and "CA" in opened.text


def test_the_same_delivery_twice_and_a_changed_byte(stack: StackClient) -> None:
    body = example_body(START + timedelta(days=30), f"contract-{uuid.uuid4().hex[:8]}")
    headers = signed_headers(body)
    first = stack.post("/webhooks/policy-change", data=body.encode(), headers=headers)
    again = stack.post("/webhooks/policy-change", data=body.encode(), headers=headers)
    forged = stack.post("/webhooks/policy-change", data=(body + " ").encode(), headers=headers)
    assert 200 <= first.status_code < 300, first.text
    assert 200 <= again.status_code < 300
    assert forged.status_code == 401


def test_reminders_of_the_example_reach_email_and_text_subscribers(
    stack: StackClient, campaign: dict[str, Any]
) -> None:
    # When the clock reaches the week before the deadline, a weekday afternoon in both regions
    at_one_week_left(stack)
    # Then the German email names the example's title and carries RFC 8058's headers
    (email,) = [m for m in messages_to(stack, campaign["email"]) if "/unsubscribe/" in m["text"]]
    assert email["channel"] == "email"
    assert "LinkedIn uses member data to train generative AI" in email["text"]
    headers = {name.lower(): value for name, value in email["headers"].items()}
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    # And the text, which the example gives no short title for, names the platform in two
    # segments at most (153 GSM-7 characters each)
    texts = [m for m in messages_to(stack, campaign["phone"]) if "/s/" in m["text"]]
    assert len(texts) == 1 and texts[0]["channel"] == "sms"
    assert "LinkedIn" in texts[0]["text"]
    assert len(texts[0]["text"]) <= 2 * 153


def test_a_reminder_s_links_work_as_published(stack: StackClient, campaign: dict[str, Any]) -> None:
    # Given the reminder email of the test above (the clock is already there)
    at_one_week_left(stack)
    (email,) = [m for m in messages_to(stack, campaign["email"]) if "/unsubscribe/" in m["text"]]
    tracked = [path for path in links_in(email, "r")]
    (done,) = set(links_in(email, "done"))
    (privacy,) = set(links_in(email, "privacy"))
    (unsubscribe,) = set(links_in(email, "unsubscribe"))
    # Then a tracked link is a 302 elsewhere
    click = stack.get(tracked[0], allow_redirects=False)
    assert click.status_code == 302 and click.headers["Location"].startswith("https://")
    # And the done page shows, and its POST records "I've switched it off"
    assert stack.get(done).status_code == 200
    assert stack.post(done, allow_redirects=False).status_code < 400
    # And the privacy route answers JSON to a client that asks for it
    kept = stack.get(privacy, headers={"Accept": "application/json"})
    assert kept.status_code == 200 and campaign["email"] in kept.text
    json.loads(kept.text)
    # And a mail client's RFC 8058 one-click POST answers 200, never a redirect
    one_click = stack.post(
        unsubscribe,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert one_click.status_code == 200


def test_a_text_s_short_link_leads_to_the_done_page(
    stack: StackClient, campaign: dict[str, Any]
) -> None:
    at_one_week_left(stack)
    texts = [m for m in messages_to(stack, campaign["phone"]) if "/s/" in m["text"]]
    (short,) = re.findall(r"https?://[^\s]*(/s/[^\s]+)", texts[0]["text"])
    answer = stack.get(short, allow_redirects=False)
    assert answer.status_code == 302 and "/done/" in answer.headers["Location"]


def test_the_example_withdrawn_with_only_the_contract_s_fields(
    stack: StackClient, campaign: dict[str, Any]
) -> None:
    body = json.dumps(
        {"type": "policy.withdrawn", "platform": "linkedin", "policy": {"id": campaign["id"]}}
    )
    answer = post_signed(stack, body)
    assert 200 <= answer.status_code < 300, answer.text


def test_the_admin_routes_need_the_bearer_token(stack: StackClient) -> None:
    assert stack.get("/admin/campaigns").status_code == 401
    assert (
        stack.get("/admin/campaigns", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )


def test_the_sns_endpoint_refuses_what_is_not_an_sns_message(stack: StackClient) -> None:
    answer = stack.post("/feedback/sns", data=b'{"hello": "world"}')
    assert 400 <= answer.status_code < 500


def test_the_local_routes_as_published(stack: StackClient) -> None:
    # The clock: read, set, advanced by an ISO 8601 duration
    before = stack.get("/_local/clock")
    assert before.status_code == 200
    moved = stack.post("/_local/clock", json={"set": "2027-03-02T09:00:00Z"})
    advanced = stack.post("/_local/clock", json={"advance": "P7D"})
    assert moved.status_code == 200 and advanced.status_code == 200
    assert stack.get("/_local/clock").json()["now"].startswith("2027-03-09T09:00")
    stack.move_clock(set=before.json()["now"]).raise_for_status()
    # A tick answers 200; the outbox is a JSON list, oldest first, with the published fields
    assert stack.post("/_local/tick").status_code == 200
    outbox = stack.get("/_local/outbox").json()
    assert isinstance(outbox, list) and all(set(m) >= OUTBOX_FIELDS for m in outbox)
    sent = [m["sent_at"] for m in outbox]
    assert sent == sorted(sent)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("{day}T00:00:00-05:00", "0001-01-01T00:00:00-05:00"), "regions[1].effective_at"),
        (("{day}T00:00:00-05:00", "9999-11-03T00:00:00-05:00"), "regions[1].effective_at"),
        (('"title": "LinkedIn', '"title": "a\\ud800b LinkedIn'), "policy.title"),
        (('"title": "LinkedIn', '"title": "\\u000bLinkedIn'), "policy.title"),
    ],
)
def test_a_hostile_body_is_a_400_naming_its_field_and_writes_nothing(
    stack: StackClient, change: tuple[str, str], field: str
) -> None:
    # Given the example with one hostile value (found by an attacker against make run)
    policy_id = f"contract-{uuid.uuid4().hex[:8]}"
    day = START + timedelta(days=20)
    old, new = change[0].format(day=f"{day:%Y-%m-%d}"), change[1]
    body = example_body(day, policy_id)
    assert old in body
    body = body.replace(old, new)
    # When it is posted, signed
    answer = post_signed(stack, body)
    # Then it is refused by name, no campaign exists, and the dashboard still answers
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["problems"]
    assert stack.get(f"/admin/campaigns/{policy_id}", headers=ADMIN).status_code == 404
    assert stack.get("/admin", headers=ADMIN).status_code == 200
    assert stack.get("/admin/campaigns", headers=ADMIN).status_code == 200
