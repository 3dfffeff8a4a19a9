"""`optout smoke` as a group runs it after `sam deploy`, here against the stack `make run`
starts (demo data and all): the installed console script, in its own process."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import DEMO_SECRETS, DemoStack

pytestmark = pytest.mark.slow

OPTOUT = Path(sys.executable).parent / "optout"  # installed by `pip install -e .`
SIMULATOR = "@simulator.amazonses.com"
ADMIN = {"Authorization": f"Bearer {DEMO_SECRETS['OPTOUT_ADMIN_TOKEN']}"}


def smoke(url: str, *options: str, secret: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "OPTOUT_ADMIN_TOKEN": DEMO_SECRETS["OPTOUT_ADMIN_TOKEN"],
        "OPTOUT_WEBHOOK_SECRET": secret or DEMO_SECRETS["OPTOUT_WEBHOOK_SECRET"],
    }
    return subprocess.run(  # noqa: S603 (our own console script)
        [str(OPTOUT), "--url", url, "smoke", "--wait", "60", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_smoke_walks_the_whole_path_with_test_recipients_only_and_cleans_up(
    demo_stack: DemoStack,
) -> None:
    stack = demo_stack.client
    before = len(stack.get("/_local/outbox").json())

    ran = smoke(stack.base_url)

    # Then every step passed, each on its own line with its time, and the numbers are shown
    assert ran.returncode == 0, ran.stdout + ran.stderr
    steps = re.findall(r"^ +\d+/13 .+ ok \(\d+\.\d s\): .+$", ran.stdout, flags=re.MULTILINE)
    assert len(steps) == 13, ran.stdout
    assert (
        "texts not checked: --sms-to +NUMBER sends one test text to a phone of yours" in ran.stdout
    )
    assert "4 sent, 2 bounced, 1 complained, 1 unsubscribed" in ran.stdout
    assert re.search(r"^ZZ +4 +4 ", ran.stdout, flags=re.MULTILINE), ran.stdout
    # And nobody but SES's mailbox simulator got anything: not the demo's subscribers
    sent = stack.get("/_local/outbox").json()[before:]
    mailboxes = {message["to"].split("+")[0] for message in sent}
    assert mailboxes == {"success", "bounce", "complaint", "suppressionlist"}
    assert all(message["to"].endswith(SIMULATOR) for message in sent)
    # And it left its campaign cancelled and kept nothing about its subscribers
    label = re.search(r"optout smoke (smoke-[0-9a-f]+)", ran.stdout)
    assert label, ran.stdout
    campaign = stack.get(f"/admin/campaigns/{label[1]}", headers=ADMIN)
    assert campaign.json()["status"] == "withdrawn"
    links = stack.post(
        "/admin/subscribers/test-links",
        json={"contact": f"success+{label[1]}{SIMULATOR}"},
        headers=ADMIN,
    ).json()
    privacy = "/" + links["privacy"].split("/", 3)[3]
    assert stack.get(privacy, headers={"Accept": "application/json"}).status_code == 404


def test_with_sms_to_one_test_text_goes_to_that_phone_and_no_other(
    demo_stack: DemoStack,
) -> None:
    stack = demo_stack.client
    before = len(stack.get("/_local/outbox").json())

    ran = smoke(stack.base_url, "--sms-to", "+4915123456789")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.search(r"9/14 a test text to the phone given +ok .+: to \+4915123456789", ran.stdout)
    texts = [m for m in stack.get("/_local/outbox").json()[before:] if m["channel"] == "sms"]
    assert [text["to"] for text in texts] == ["+4915123456789"]
    assert "texts not checked" not in ran.stdout


def test_a_wrong_webhook_secret_stops_at_that_step_with_what_to_check(
    demo_stack: DemoStack,
) -> None:
    ran = smoke(demo_stack.client.base_url, secret="whsec_" + "A" * 32)

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert re.search(r"6/13 a draft campaign by the signed webhook +FAILED", ran.stdout)
    assert "7/13" not in ran.stdout
    assert "the webhook signature was refused: is this the stack's secret?" in ran.stdout
    assert "Check the webhook secret: the value of the WebhookSigningSecret secret." in ran.stdout
    assert "clean-up: 4 test subscribers erased" in ran.stdout


def test_a_stack_that_is_not_there_is_said_so(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens on it

    ran = smoke(url)

    assert ran.returncode == 3
    assert f"cannot reach {url}: is the stack running?" in ran.stdout
    assert "Check the URL: the ApiUrl output of `sam deploy`." in ran.stdout
