"""What the local stack shows a newcomer (`local.console`) and how it plays SES's mailbox
simulator (`local.simulator`)."""

from __future__ import annotations

import io
import json

import pytest

from local import console, simulator

RECORD = {
    "level": "INFO",
    "location": "apply:78",
    "message": "campaign planned",
    "timestamp": "2026-12-04 01:19:05,860+0000",
    "function_name": "WebhooksFunction",
    "campaign_id": "linkedin-genai-2025",
}


def test_a_log_record_is_one_short_line_and_metrics_none() -> None:
    assert console.short(json.dumps(RECORD)) == "01:19:05 WebhooksFunction INFO campaign planned"
    assert console.short(json.dumps({"_aws": {"Timestamp": 1}, "CampaignPlanned": [1.0]})) is None
    assert (
        console.short("Traceback (most recent call last):") == "Traceback (most recent call last):"
    )
    assert console.short("") is None


def test_lines_reach_the_terminal_only_once_the_banner_is_out_and_the_file_always() -> None:
    log, terminal = io.StringIO(), io.StringIO()
    output = console.FunctionOutput(log, terminal, verbose=False)
    output.write(json.dumps(RECORD) + "\n")
    output.show()
    output.write(json.dumps({**RECORD, "message": "reminder sent"}))  # a line in two writes
    output.write("\n")
    assert terminal.getvalue() == "01:19:05 WebhooksFunction INFO reminder sent\n"
    assert [json.loads(line)["message"] for line in log.getvalue().splitlines()] == [
        "campaign planned",
        "reminder sent",
    ]


def test_verbose_shows_each_line_whole() -> None:
    terminal = io.StringIO()
    output = console.FunctionOutput(io.StringIO(), terminal, verbose=True)
    output.show()
    output.write(json.dumps(RECORD) + "\n")
    assert json.loads(terminal.getvalue()) == RECORD


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("bounce@simulator.amazonses.com", "bounce"),
        ("Complaint+smoke-1a2b3c@Simulator.AmazonSES.com", "complaint"),
        ("suppressionlist+x@simulator.amazonses.com", "suppressionlist"),
        ("bounce@example.org", ""),
        ("bounce@simulator.amazonses.com.example.org", ""),
    ],
)
def test_the_simulator_mailbox_of_an_address(address: str, mailbox: str) -> None:
    assert simulator.mailbox(address) == mailbox
