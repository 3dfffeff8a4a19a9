"""`optout smoke`: what a group runs right after `sam deploy`, against its own stack, without
messaging any person.

It walks the whole path with AWS's own test recipients, SES's mailbox simulator: a subscriber
by the form and its confirmation link, three more imported with consent proof (`bounce@`,
`complaint@`, `suppressionlist@`), a draft campaign through the signed webhook, its preview, a
test send, its launch, the reminders sent, the bounces and the complaint coming back through
the feedback topic and suppressing their addresses, an unsubscribe by RFC 8058 POST, and the
organiser's numbers. Then it cancels its campaign and erases its subscribers, also after a
failure.

Nobody else can be reached: the subscribers and the campaign live in the test region
(`regions.TEST_REGION`), which only simulator addresses may join, and every address carries
this run's label (`success+smoke-7f3a@...`), so runs never meet. Texts: AWS End User
Messaging's simulator numbers are not reachable through SNS, the stack's SMS path, so with
`--sms-to` one test text goes to a phone the organiser names, and without it none.

Each step prints a line with its result and how long it took; the first failure ends the walk
with what to check, and the exit code 1 (3 when the stack cannot be reached).
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import requests

from optout.core.clock import iso, parse_iso
from optout.domain.contacts import SIMULATOR_DOMAIN
from optout.domain.regions import TEST_REGION
from optout.organisers.cli import REFUSED, Client, Failure, signed_headers, table

MAILBOXES = ("success", "bounce", "complaint", "suppressionlist")
POLL_SECONDS = 5.0  # how often a waiting step asks again (a local stack is ticked meanwhile)


@dataclass
class Run:
    """One walk: its label, the stack's time, and what the steps found on the way."""

    client: Client
    webhook_secret: str
    wait_seconds: float
    sms_to: str = ""  # a phone of the organiser's, for one test text
    label: str = field(default_factory=lambda: f"smoke-{secrets.token_hex(3)}")
    local: bool = False  # a local stack: it is ticked while a step waits
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    links: dict[str, dict[str, str]] = field(default_factory=dict)
    reminder: str = ""
    numbers: str = ""  # the organiser's table, printed at the end

    @property
    def campaign_id(self) -> str:
        return self.label

    def address(self, mailbox: str) -> str:
        return f"{mailbox}+{self.label}@{SIMULATOR_DOMAIN}"

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        return self.client.admin(method, path, headers=headers, **kwargs).json()

    def kept(self, mailbox: str) -> dict[str, Any]:
        """What the stack keeps about a test subscriber, as their privacy page shows it."""
        privacy = _path(self.links[mailbox]["privacy"])
        answer = self.client.request("GET", privacy, headers={"Accept": "application/json"})
        return dict(answer.json())

    def holds(self, mailbox: str) -> bool:
        try:
            self.kept(mailbox)
        except Failure as failure:
            if failure.code == REFUSED:  # 404: nothing kept (yet)
                return False
            raise
        return True

    def stats(self) -> dict[str, Any]:
        return dict(self.json("GET", f"/admin/campaigns/{self.campaign_id}/stats")["total"])

    def wait_for(self, what: str, done: Callable[[], bool]) -> None:
        """Ask `done` until it holds, for at most `wait_seconds`."""
        deadline = time.monotonic() + self.wait_seconds
        while not done():
            if time.monotonic() > deadline:
                raise Failure(f"still waiting for {what} after {self.wait_seconds:.0f} s")
            if self.local:
                self.client.request("POST", "/_local/tick")
            else:
                time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class Step:
    title: str
    act: Callable[[Run], str]  # what it found, in a few words
    check: str  # what to look at when it fails, in words an organiser can act on


def api_answers(run: Run) -> str:
    run.client.request("GET", "/openapi.json")
    try:  # a local stack tells its own clock, which a demo sets in 2025
        answer = run.client.http.get(run.client.base_url + "/_local/clock", timeout=10)
        if answer.status_code == 200:
            run.local, run.now = True, parse_iso(answer.json()["now"])
    except (requests.RequestException, ValueError, KeyError):
        pass
    return "local stack" if run.local else "deployed stack"


def token_accepted(run: Run) -> str:
    campaigns = run.json("GET", "/admin/campaigns")["campaigns"]
    return f"{len(campaigns)} campaigns"


def subscribe(run: Run) -> str:
    body = {
        "contact": run.address("success"),
        "region": TEST_REGION,
        "locale": "en",
        "platforms": [run.label],
    }
    answer = run.client.request("POST", "/subscribe", json=body)
    if answer.status_code != 202:
        raise Failure(f"the form answered {answer.status_code}, not 202")
    return f"{run.address('success')} pending"


def confirm(run: Run) -> str:
    for mailbox in MAILBOXES:
        run.links[mailbox] = run.json(
            "POST",
            "/admin/subscribers/test-links",
            json={
                "contact": run.address(mailbox),
                "campaign_id": run.campaign_id,
                "region": TEST_REGION,
            },
        )
    # The form answers before anything is written: the notifier records the request.
    run.wait_for("the subscription to be recorded", lambda: run.holds("success"))
    run.client.request("POST", _path(run.links["success"]["confirm"]), data={})
    status = run.kept("success")["status"]
    if status != "active":
        raise Failure(f"the confirmation page answered, but the subscriber is {status}")
    return "active"


def import_the_others(run: Run) -> str:
    rows = ["contact,region,locale,platforms,consent_source,consent_at,consent_form"]
    rows += [
        f"{run.address(mailbox)},{TEST_REGION},en,{run.label},optout smoke,{iso(run.now)},smoke"
        for mailbox in MAILBOXES[1:]
    ]
    report = run.json(
        "POST",
        "/admin/subscribers/import",
        data="\n".join(rows).encode(),
        headers={"Content-Type": "text/csv"},
    )
    if report["imported_active"] != len(MAILBOXES) - 1:
        raise Failure(f"the import made {report['imported_active']} active: {report['rejected']}")
    return f"{report['imported_active']} active"


def draft_by_webhook(run: Run) -> str:
    if not run.webhook_secret:
        raise Failure("no webhook secret: pass --webhook-secret or set OPTOUT_WEBHOOK_SECRET")
    body = json.dumps(
        {
            "type": "policy.changed",
            "platform": run.label,
            "draft": True,
            "policy": {
                "id": run.campaign_id,
                "title": "optout-bot smoke test",
                "summary": "A test of the whole path, sent only to SES's mailbox simulator.",
                "source_url": "https://github.com/optout-bot/optout-bot",
                "setting_url": "https://github.com/optout-bot/optout-bot#deploy",
                "steps": ["Nothing to do: this is a test."],
            },
            # Ten days ahead: "two weeks left" is already due, and goes at once on launch.
            "regions": [{"region": TEST_REGION, "effective_at": iso(run.now + timedelta(days=10))}],
        }
    ).encode()
    headers = {**signed_headers(run.webhook_secret, body), "Content-Type": "application/json"}
    try:
        answer = run.client.request("POST", "/webhooks/policy-change", data=body, headers=headers)
    except Failure as failure:
        if "401" in str(failure):
            raise Failure(
                "the webhook signature was refused: is this the stack's secret?"
            ) from None
        raise
    summary = answer.json()
    if summary.get("status") != "draft":
        raise Failure(f"the campaign is {summary.get('status')!r}, not a draft")
    return f"draft {run.campaign_id}, {summary['planned']} reminders planned"


def preview(run: Run) -> str:
    plan = run.json("GET", f"/admin/campaigns/{run.campaign_id}")["plan"][TEST_REGION]
    due = [reminder for reminder in plan if parse_iso(reminder["due_at"]) <= run.now]
    run.reminder = (due or plan)[-1]["kind"]
    shown = run.json(
        "GET",
        f"/admin/campaigns/{run.campaign_id}/preview",
        params={"region": TEST_REGION, "reminder": run.reminder, "locale": "en"},
    )
    return f"{run.reminder}: {shown['subject']!r}"


def test_send(run: Run) -> str:
    sent = run.json(
        "POST",
        f"/admin/campaigns/{run.campaign_id}/test",
        json={"to": run.address("success"), "region": TEST_REGION, "reminder": run.reminder},
    )
    return f"SES message {sent['message_id']}"


def test_text(run: Run) -> str:
    sent = run.json(
        "POST",
        f"/admin/campaigns/{run.campaign_id}/test",
        json={"to": run.sms_to, "region": TEST_REGION, "reminder": run.reminder},
    )
    return f"to {sent['to']}, message {sent['message_id']}: check the phone"


def launch(run: Run) -> str:
    run.json("POST", f"/admin/campaigns/{run.campaign_id}/launch")
    return "active"


def reminders_sent(run: Run) -> str:
    run.wait_for("the reminders to go out", lambda: run.stats().get("sent", 0) >= len(MAILBOXES))
    return f"{run.stats()['sent']} sent"


def feedback_suppresses(run: Run) -> str:
    def arrived() -> bool:
        numbers = run.stats()
        return bool(numbers.get("bounced", 0) >= 2 and numbers.get("complained", 0) >= 1)

    run.wait_for("SES's bounce and complaint notifications", arrived)
    kept = [mailbox for mailbox in MAILBOXES[1:] if run.kept(mailbox)["status"] != "suppressed"]
    if kept:
        raise Failure(f"not suppressed after their bounce or complaint: {', '.join(kept)}")
    numbers = run.stats()
    return f"{numbers['bounced']} bounced, {numbers['complained']} complained, all suppressed"


def one_click_unsubscribe(run: Run) -> str:
    run.client.request(
        "POST",
        _path(run.links["success"]["unsubscribe"]),
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    status = run.kept("success")["status"]
    if status != "unsubscribed":
        raise Failure(f"the one-click unsubscribe answered, but the subscriber is {status}")
    return "unsubscribed"


def numbers(run: Run) -> str:
    stats = run.json("GET", f"/admin/campaigns/{run.campaign_id}/stats")
    expected = {"sent": 4, "bounced": 2, "complained": 1, "unsubscribed": 1}
    wrong = {name: stats["total"].get(name, 0) for name in expected}
    if wrong != expected:
        raise Failure(f"the numbers are {wrong}, not {expected}")
    run.numbers = table([*stats["regions"], stats["total"]])
    return ", ".join(f"{value} {name}" for name, value in expected.items())


STEPS = (
    Step("the API answers", api_answers, "the URL: the ApiUrl output of `sam deploy`"),
    Step(
        "the admin token is accepted",
        token_accepted,
        "the token: the value of the AdminTokenSecret secret in Secrets Manager",
    ),
    Step(
        "subscribe by the form",
        subscribe,
        "SubscriptionsFunction's log group in CloudWatch Logs",
    ),
    Step(
        "confirm through the link",
        confirm,
        "AdminFunction's and SubscriptionsFunction's log groups; the NoticeQueue's dead-letter queue",
    ),
    Step("import three with consent proof", import_the_others, "AdminFunction's log group"),
    Step(
        "a draft campaign by the signed webhook",
        draft_by_webhook,
        "the webhook secret: the value of the WebhookSigningSecret secret",
    ),
    Step("preview its reminder", preview, "AdminFunction's log group"),
    Step(
        "a test send",
        test_send,
        "SES in the stack's region: the domain of SenderAddress is a verified identity, and "
        "the day's sending quota is not used up (the simulator works in the SES sandbox too)",
    ),
    Step("launch it", launch, "AdminFunction's log group"),
    Step(
        "the reminders go out",
        reminders_sent,
        "SchedulerFunction's schedule is enabled; FanoutFunction's and SenderFunction's log "
        "groups; the FanoutQueue's and SendQueue's dead-letter queues; the SES sending quota",
    ),
    Step(
        "bounces and the complaint suppress their addresses",
        feedback_suppresses,
        "the feedback topic: the SES configuration set (EmailConfigurationSet) publishes "
        "bounces and complaints to FeedbackTopic, FeedbackTopic has a subscription to "
        "FeedbackFunction, and FeedbackDeadLetterQueue is empty",
    ),
    Step(
        "one-click unsubscribe (RFC 8058)",
        one_click_unsubscribe,
        "LinksFunction's log group",
    ),
    Step("the organiser's numbers", numbers, "AdminFunction's log group; the CampaignsTable"),
)


# Sent only when the organiser names a phone (`--sms-to`): AWS End User Messaging's simulator
# numbers are not reachable through SNS, the stack's SMS path, so a text reaches a person.
TEST_TEXT = Step(
    "a test text to the phone given",
    test_text,
    "the SMS path: SNS's SMS sandbox (verify the number there, or leave the sandbox), the "
    "spending limit, and the origination number of the destination's country",
)


def walk(
    client: Client, *, webhook_secret: str, wait_seconds: float, sms_to: str, out: TextIO
) -> int:
    """Every step in turn, then the clean-up; 0 when all passed."""
    run = Run(client, webhook_secret, wait_seconds, sms_to=sms_to)
    steps = [*STEPS[:8], TEST_TEXT, *STEPS[8:]] if sms_to else list(STEPS)
    out.write(f"optout smoke {run.label} against {client.base_url}\n")
    started = time.monotonic()
    failed: tuple[Step, Failure] | None = None
    for number, step in enumerate(steps, start=1):
        out.write(f"  {number:>2}/{len(steps)} {step.title:<52} ")
        out.flush()
        began = time.monotonic()
        try:
            found = step.act(run)
        except Failure as failure:
            out.write(f"FAILED ({time.monotonic() - began:.1f} s)\n")
            failed = (step, failure)
            break
        out.write(f"ok ({time.monotonic() - began:.1f} s): {found}\n")
    out.write(f"  clean-up: {clean_up(run)}\n")
    if failed:
        failed_step, reason = failed
        out.write(f"\n{failed_step.title}: {reason}\nCheck {failed_step.check}.\n")
        return int(reason.code)
    out.write(f"\n{run.numbers}\n")
    out.write(f"all {len(steps)} steps passed in {time.monotonic() - started:.1f} s\n")
    if not sms_to:
        out.write("texts not checked: --sms-to +NUMBER sends one test text to a phone of yours\n")
    return 0


def clean_up(run: Run) -> str:
    """Cancel the campaign and erase the subscribers, as far as the walk got; never fails."""
    done = []
    try:
        run.client.admin("POST", f"/admin/campaigns/{run.campaign_id}/cancel")
        done.append("campaign cancelled")
    except Failure:
        pass  # not made yet, or made and already over
    erased = 0
    for mailbox, link in run.links.items():
        try:
            if run.holds(mailbox):  # an erasure of nobody answers as one of somebody
                run.client.request("POST", _path(link["privacy"]), data={})
                erased += 1
        except Failure:
            pass  # the stack stopped answering: the run's label names what is left
    done.append(f"{erased} test subscribers erased")
    return ", ".join(done)


def _path(link: str) -> str:
    """The path of a link the stack made (its base URL may be the public one)."""
    return "/" + link.split("://", 1)[-1].split("/", 1)[1]


def main(options: Any, client: Client) -> int:
    return walk(
        client,
        webhook_secret=options.webhook_secret,
        wait_seconds=options.wait,
        sms_to=options.sms_to,
        out=sys.stdout,
    )
