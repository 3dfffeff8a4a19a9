"""`python -m bench.summary`: the one table at the top of BENCHMARKS.md, run last by `make bench`.

Each figure of this project beside the limit or the baseline it is compared with, measured in
the same run on the same machine: the fan-out, sender and load benchmarks leave their figures
in the run's results directory (OPTOUT_BENCH_RESULTS, or --results), and this module measures
the rest itself, side by side:

- the bare cost of one message: render one email in a subscriber's language with the layer's
  templates, build its MIME message, and make the two calls no sender can avoid (the claim's
  PutItem and SES's SendEmail), with botocore doing everything but the network (validating,
  serialising, signing, parsing a canned answer);
- every function's cold start (its import and first request, started as Lambda starts it)
  beside ``import boto3``, and the interpreter's peak resident memory after the import, which
  `bench.coldstart` measured earlier in the run;
- the cost of a million email reminders on AWS list prices, from the load run's calls,
  invocations and durations, beside what SES alone charges for them.
"""

from __future__ import annotations

import os

# Powertools reads these when optout.core.observability is first imported (below), as in bench.sender.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "optout-bot")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OptoutBotBench")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")

import argparse
import logging
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from time import perf_counter, thread_time
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from bench import load, report
from bench.coldstart import IMPORT_ONLY
from bench.fanout import PAYLOAD, PLANNED_AT
from bench.load_stack import POLLER
from bench.sender import _isolate_from_aws, stubbed_aws
from local import template
from optout.campaigns import policy_changes
from optout.channels import email
from optout.core.clock import parse_iso
from optout.core.observability import logger
from optout.core.settings import Settings
from optout.domain import policy
from optout.domain.models import Campaign, Reminder
from optout.messages import reminders
from optout.store import CampaignStore

DEFAULT_RENDERS = 300
FLOOR_CALLS = 2  # a claim and a send: each message needs both, whatever else amortises

# -- AWS list prices, US East (N. Virginia), USD; looked up 2026-11-29 ------------------------
# https://aws.amazon.com/ses/pricing/ (outbound email, pay as you go; via the SES price list
# summary at https://raw.githubusercontent.com/api-evangelist/amazon-ses/refs/heads/main/plans/
# amazon-ses-plans-pricing.yml and https://gist.github.com/Kovah/876677c862cde81bfd43574043e20fe4)
SES_PER_1000_EMAILS = 0.10
# https://aws.amazon.com/lambda/pricing/ (arm64, first 7.5 billion GB-s a month; as tabulated
# in https://app.unpkg.com/artillery@2.0.28/files/lib/platform/aws-lambda/prices.js)
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
# https://aws.amazon.com/lambda/pricing/ (via https://raw.githubusercontent.com/api-evangelist/
# aws-lambda/refs/heads/main/plans/aws-lambda-plans-pricing.yml)
LAMBDA_PER_MILLION_REQUESTS = 0.20
# https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class, after the
# November 2024 cut)
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625
DYNAMODB_PER_MILLION_READ_UNITS = 0.125
# https://aws.amazon.com/sqs/pricing/ (standard queues, after the first million a month; each
# 64 KB of a request counts as one; via https://gist.github.com/mkfmnn/c18899c1337f3cd5402b4f1b7782deff)
SQS_PER_MILLION_REQUESTS = 0.40
# https://aws.amazon.com/secrets-manager/pricing/ (via https://raw.githubusercontent.com/
# api-evangelist/amazon-secrets-manager/refs/heads/main/plans/amazon-secrets-manager-plans-pricing.yml)
SECRETS_MANAGER_PER_10000_CALLS = 0.05
# https://aws.amazon.com/api-gateway/pricing/ (REST APIs, first 333 million requests a month; as
# in https://docs.aws.amazon.com/whitepapers/latest/best-practices-api-gateway-private-apis-integration/cost-optimization.html)
API_GATEWAY_REST_PER_MILLION = 3.50

MILLION = 1_000_000
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
DYNAMODB_READS = {"GetItem", "BatchGetItem", "Query", "Scan"}
# Items are under 1 KB (one write unit each) and read strongly consistent, under 4 KB (one read
# unit each): an upper bound, as some reads are eventually consistent (half a unit).
ITEMS_PER_QUERY_READ_UNIT = 4


def main(argv: Sequence[str] | None = None) -> int:
    options = _arguments(argv)
    started = perf_counter()
    _isolate_from_aws()
    logger.setLevel(logging.WARNING)  # policy_changes.apply logs the plan at INFO
    fanout = report.load(options.results, "fanout")
    sender = report.load(options.results, "sender")
    loaded = report.load(options.results, "load")
    imports = cold_starts(report.load(options.results, "coldstart"))
    _progress(f"bare cost of a message: {options.renders} renders")
    bare_ms = bare_message_ms(options.renders)
    minutes = (perf_counter() - started) / 60
    body = render(
        fanout,
        sender,
        loaded,
        (bare_ms, options.renders),
        imports,
        minutes,
        report.command("bench.summary", argv),
    )
    print(body)
    report.write_section("Summary", body, first=True)
    return 0


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=report.results_dir(),
        help="where the fan-out, sender and load benchmarks of this run left "
        "their figures (default $OPTOUT_BENCH_RESULTS)",
    )
    parser.add_argument("--renders", type=int, default=DEFAULT_RENDERS)
    options = parser.parse_args(argv)
    if options.results is None:
        parser.error("--results (or OPTOUT_BENCH_RESULTS) is needed: `make bench` sets it")
    return options


# -- the bare cost of one message -----------------------------------------------------------


def bare_message_ms(renders: int) -> float:
    """Median CPU milliseconds to render one email, build its MIME message and make the claim's
    PutItem and SES's SendEmail through botocore, which answers from a canned response."""
    with stubbed_aws("bench-summary") as settings:
        campaign, reminder = _campaign(settings)
    subscriber = load.population(settings, 1)[0]
    base = campaign.base_url
    links = reminders.Links(f"{base}/r/x", f"{base}/done/x", f"{base}/unsubscribe/x")
    now = parse_iso(reminder.due_at)
    deliveries = _canned(boto3.resource("dynamodb").Table("deliveries").meta.client, b"{}")
    table = boto3.resource("dynamodb").Table("deliveries")
    table.meta.client.meta.events.register("before-send", deliveries)
    ses = boto3.client("sesv2")
    ses.meta.events.register("before-send", _canned(ses, b'{"MessageId": "bare"}'))
    timings = []
    for number in range(renders):
        cpu = thread_time()
        values = reminders.context(settings, campaign, reminder, subscriber, links, now)
        mime = email.build(settings, reminders.email(subscriber, values, links))
        table.put_item(
            Item={
                "pk": f"{campaign.campaign_id}#{reminder.reminder_id}#{number}#email",
                "state": "claimed",
                "claimed_at": reminder.due_at,
                "expires_at": 1_800_000_000,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        ses.send_email(
            FromEmailAddress=settings.sender_address,
            Destination={"ToAddresses": [subscriber.contact]},
            Content={"Raw": {"Data": mime}},
        )
        timings.append((thread_time() - cpu) * 1000)
    return statistics.median(timings[1:])  # the first one fills the template and client caches


def _campaign(settings: Settings) -> tuple[Campaign, Reminder]:
    """The LinkedIn campaign as the webhook makes it, and its first reminder."""
    change = policy.parse(PAYLOAD.read_bytes())
    policy_changes.apply(settings, change, base_url="https://bench.example.org", now=PLANNED_AT)
    store = CampaignStore(settings)
    campaign = store.get_campaign(change.policy.id)
    if campaign is None:
        raise RuntimeError(f"the campaign {change.policy.id!r} was not made")
    first = min(store.reminders(change.policy.id), key=lambda reminder: reminder.due_at)
    return campaign, first


def _canned(client: Any, body: bytes) -> Callable[..., Any]:
    """A before-send handler that answers every request with `body`, so that botocore does all
    its own work, signing included, and only the network is left out."""

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield body

    def answer(request: Any, **_: Any) -> AWSResponse:
        headers = HTTPHeaders.from_dict({"Content-Type": "application/x-amz-json-1.0"})
        return AWSResponse(request.url, 200, headers, Raw())

    return answer


# -- cold starts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionImport:
    function: str
    median_ms: float  # the cold start: import and first request
    import_ms: float  # the handler's import alone, on which the target is set
    boto3_ms: float  # `import boto3`, started the same way beside it
    target: float
    max_rss_mib: float  # after the import
    invoked: bool  # False: the import alone (a function bench.coldstart has no request for)


def cold_starts(figures: dict[str, Any]) -> list[FunctionImport]:
    """Each function's cold start as `bench.coldstart` measured it in this run."""
    return [
        FunctionImport(
            item["function"],
            item["median_ms"],
            item["import_ms"],
            item["boto3_ms"],
            item["target"],
            item["max_rss_mib"],
            item["request"] != IMPORT_ONLY.label,
        )
        for item in figures["functions"]
    ]


# -- the cost of a million email reminders ----------------------------------------------------


def campaign_functions() -> set[str]:
    """The functions a campaign's reminders go through: the webhook's, the scheduler, and the
    consumers of the fan-out and send queues (not those that subscribe people, follow links or
    watch policies), and Lambda's SQS poller."""
    consumers = template.queue_consumers()
    webhook = {route.function for route in template.routes() if route.path.startswith("/webhooks/")}
    return {
        "SchedulerFunction",
        consumers["FanoutQueue"],
        consumers["SendQueue"],
        *webhook,
        POLLER,
    }


@dataclass(frozen=True)
class CostLine:
    item: str
    quantity: str
    dollars: float


def cost_of_a_million(loaded: dict[str, Any]) -> list[CostLine]:
    """Dollars for a million email reminders, scaled from the load run's campaign."""
    scale = MILLION / loaded["sent"]
    sizes = loaded["memory_sizes"]
    functions = {
        name: figures
        for name, figures in loaded["functions"].items()
        if name in campaign_functions()
    }
    gb_seconds = (
        sum(
            figures["seconds"] * sizes[name] / 1024
            for name, figures in functions.items()
            if name != POLLER
        )
        * scale
    )
    invocations = sum(figures["invocations"] for figures in functions.values()) * scale
    calls: dict[str, float] = {}
    units: dict[str, float] = {}
    for figures in functions.values():
        for operation, count in figures["calls"].items():
            calls[operation] = calls.get(operation, 0) + count * scale
        for operation, count in figures["units"].items():
            units[operation] = units.get(operation, 0) + count * scale
    writes = sum(units.get(operation, 0) for operation in DYNAMODB_WRITES)
    reads = sum(units.get(operation, 0) for operation in DYNAMODB_READS - {"Query"})
    reads += units.get("Query", 0) / ITEMS_PER_QUERY_READ_UNIT
    sqs = sum(count for operation, count in calls.items() if _is_sqs(operation))
    secret_reads = invocations * _secrets_per_cold_start()
    return [
        CostLine("SES: emails", f"{MILLION:,}", MILLION / 1000 * SES_PER_1000_EMAILS),
        CostLine(
            "Lambda: compute (measured durations, template's MemorySize, arm64)",
            f"{gb_seconds:,.0f} GB-s",
            gb_seconds * LAMBDA_ARM_PER_GB_SECOND,
        ),
        CostLine(
            "Lambda: requests",
            f"{invocations:,.0f}",
            invocations / MILLION * LAMBDA_PER_MILLION_REQUESTS,
        ),
        CostLine(
            "DynamoDB on demand: write units",
            f"{writes:,.0f}",
            writes / MILLION * DYNAMODB_PER_MILLION_WRITE_UNITS,
        ),
        CostLine(
            "DynamoDB on demand: read units",
            f"{reads:,.0f}",
            reads / MILLION * DYNAMODB_PER_MILLION_READ_UNITS,
        ),
        CostLine("SQS: requests", f"{sqs:,.0f}", sqs / MILLION * SQS_PER_MILLION_REQUESTS),
        CostLine(
            "Secrets Manager: reads, as if every invocation were a cold start (an upper bound)",
            f"{secret_reads:,.0f}",
            secret_reads / 10_000 * SECRETS_MANAGER_PER_10000_CALLS,
        ),
        CostLine(
            "API Gateway: the campaign's webhook", "1", API_GATEWAY_REST_PER_MILLION / MILLION
        ),
    ]


def _is_sqs(operation: str) -> bool:
    return operation in {
        "SendMessage",
        "SendMessageBatch",
        "ReceiveMessage",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
    }


def _secrets_per_cold_start() -> int:
    """The secrets a function reads when it starts: every *_SECRET_ARN of the template."""
    variables = template.load()["Globals"]["Function"]["Environment"]["Variables"]
    return sum(1 for name in variables if name.endswith("_SECRET_ARN"))


# -- the report -------------------------------------------------------------------------------


def render(
    fanout: dict[str, Any],
    sender: dict[str, Any],
    loaded: dict[str, Any],
    bare: tuple[float, int],
    functions: list[FunctionImport],
    minutes: float,
    command: str,
) -> str:
    bare_ms, renders = bare
    largest = max(fanout["sizes"], key=lambda size: size["subscribers"])
    own_ms = sender["own_ms_median"] + sender["botocore_ms_median"]
    whole_calls = (
        sum(
            sum(figures["calls"].values())
            for name, figures in loaded["functions"].items()
            if name in campaign_functions()
        )
        / loaded["sent"]
    )
    costs = cost_of_a_million(loaded)
    total = sum(line.dollars for line in costs)
    ses_only = costs[0].dollars
    rows = [
        _row(
            "own CPU a message: the sender's code and botocore, median of batches (ms)",
            own_ms,
            "one bare render + MIME + PutItem + SendEmail through botocore",
            bare_ms,
            digits=2,
        ),
        _row(
            "AWS calls a message, sender", sender["calls_per_message"], "the floor", FLOOR_CALLS, 3
        ),
        _row(
            "AWS calls a message, whole campaign (load run: every function and the SQS poller)",
            whole_calls,
            "the floor",
            FLOOR_CALLS,
            3,
        ),
        _row(
            f"fan-out of {largest['subscribers']:,} subscribers (s)",
            largest["fanout_seconds"],
            "bare paging loop (s)",
            largest["bare_seconds"],
            1,
        ),
        _row(
            f"fan-out of {largest['subscribers']:,}: CPU of the fanning thread (s)",
            largest["fanout_cpu_seconds"],
            "bare paging loop's (s)",
            largest["bare_cpu_seconds"],
            2,
        ),
        _row(
            "achieved send rate, paced at SES's (messages/s)",
            sender["paced_achieved"],
            "the fake SES's rate",
            sender["paced_rate"],
            1,
        ),
        *(
            _row(
                f"import of {item.function}, started cold (ms; target ≤ {item.target} times "
                "boto3's)",
                item.import_ms,
                "`import boto3` (ms)",
                item.boto3_ms,
                0,
            )
            for item in functions
        ),
        *(
            _row(
                f"cold start of {item.function}: import and first request (ms)",
                item.median_ms,
                "`import boto3` (ms)",
                item.boto3_ms,
                0,
            )
            for item in functions
            if item.invoked
        ),
        *_memory_rows(loaded, functions),
        _row(
            "a million email reminders on AWS list prices ($)",
            total,
            "SES alone ($)",
            ses_only,
            2,
        ),
    ]
    header = ["figure", "this project", "limit or baseline", "ratio"]
    intro = (
        f"`{command}` on {date.today().isoformat()}; {report.machine()}. Every figure comes from "
        "one run (the sections below, whose figures it passed on, and this module's own "
        f"side-by-side measurements, {minutes:.1f} min). The load run: {loaded['subscribers']:,} subscribers, "
        f"{loaded['sent']:,} messages at {load.messages_per_second(loaded):.1f}/s, "
        f"{loaded['check']['duplicates']} duplicated, {loaded['check']['lost']} lost"
        + (
            ""
            if loaded["subscribers"] == load.DEFAULT_SUBSCRIBERS
            else f" (**a smaller run than the default {load.DEFAULT_SUBSCRIBERS:,} subscribers**)"
        )
        + "."
    )
    cost_rows = [[line.item, line.quantity, f"{line.dollars:,.2f}"] for line in costs]
    cost_rows.append(["all", "", f"{total:,.2f}"])
    return "\n\n".join(
        [
            intro,
            report.table(header, rows),
            "How each is measured: *own CPU*: bench.sender's CPU time of the sending thread "
            "outside moto, per message, beside the same work done bare in this process: the "
            f"median of {renders} renders of the LinkedIn reminder with the layer's "
            "templates, each built into MIME and followed by a PutItem and an SES SendEmail "
            "that botocore validates, serialises, signs and parses (a canned answer instead of "
            "the network). *Cold starts*: the section of that name (bench.coldstart): each "
            "function started as Lambda starts it, its layers compiled from source, its first "
            "request answered by moto, beside `import boto3` started the same way. *Peak "
            "memory*: the interpreter's peak resident memory after importing the handler "
            "(VmHWM, in bench.coldstart's starts), plus the most an "
            "invocation of it allocated in the load run (tracemalloc); its limit is the "
            "function's MemorySize. Functions the load run never invoked show their import "
            "alone.",
            "The million email reminders, scaled from the load run's campaign (its functions' "
            "invocations, durations and AWS calls; not the subscribe and click traffic):",
            report.table(["item", "quantity", "USD"], cost_rows),
            "Lambda's durations are the local stack's (moto answering over HTTP, the sender "
            "paced at the local SendRatePerSecond); on AWS a sender waits out SES's rate and is "
            "billed for the wait, so compute grows as the account's rate falls. Write units "
            "count one per item written (all under 1 KB), read units one per item read "
            "strongly consistent (query pages: one per four index entries): upper bounds.",
        ]
    )


def _row(label: str, ours: float, baseline_label: str, baseline: float, digits: int) -> list[str]:
    ratio = ours / baseline if baseline else math.nan
    return [
        label,
        f"{ours:,.{digits}f}",
        f"{baseline_label}: {baseline:,.{digits}f}",
        f"{ratio:.2f}",
    ]


def _memory_rows(loaded: dict[str, Any], functions: list[FunctionImport]) -> list[list[str]]:
    rows = []
    for item in functions:
        working = load.peak_mib(loaded, item.function)
        peak = item.max_rss_mib + working
        limit = loaded["memory_sizes"][item.function]
        rows.append(
            [
                f"peak memory of {item.function} (MiB: import {item.max_rss_mib:.0f} + "
                f"invocation {working:.1f})",
                f"{peak:,.0f}",
                f"MemorySize: {limit:,}",
                f"{peak / limit:.2f}",
            ]
        )
    return rows


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
