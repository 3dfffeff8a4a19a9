"""`python -m bench.sender`: what the sender costs per message, how close it keeps to the SES
rate, and how long its handler takes to import.

The first two measurements stub AWS in this process (moto's ``mock_aws``: no HTTP, and moto
works out each answer on the calling thread, with `local.moto_speedups` as the local stack
has it), with template.yaml's resources made by `local.provision`. Each seeds active email subscribers of one region in seven languages as
`bench.fanout` does, creates a campaign through the webhook's code path, lets the scheduler's
tick start its first reminder and the fan-out queue its send batches.

- Cost per message: every send batch through `optout.sending.sender.send_batch`, with a pacer that
  never waits. The sender's own CPU time is this thread's CPU time outside AWS API calls
  (botocore's event hooks mark where each starts and ends), per message of each batch. The
  calls are counted by operation: one claim and one send per message should be all that does
  not amortise over the batch.
- Pacing: an SES that takes R messages a second and answers "TooManyRequestsException: Maximum
  sending rate exceeded." above it. A sender set to R works through the send queue through its
  real Lambda handler; a batch whose invocation fails is received again, as SQS redelivers it,
  until it succeeds or lands in the dead-letter queue. Then the same sender against an SES
  that takes half as much, as when more senders run than the account's rate allows, so that
  SES throttles; and against one so slow that sends fail after the sender's own retries, so
  that batches are redelivered. Each time, each subscriber must get exactly one message.
- Cold start: the handler module imported in fresh interpreters as Lambda imports it (the
  function's code, then the layer, then the dependencies), beside a bare ``import boto3``.

It fails (exits 1) only if a message is lost or sent twice; times are reported, never asserted.
"""

from __future__ import annotations

import os

# Powertools reads these when optout.core.observability is first imported (below); in Lambda,
# template.yaml's Globals set them before any code loads. Metrics need a namespace to flush.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "optout-bot")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OptoutBotBench")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")

import argparse
import io
import json
import logging
import math
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parseaddr
from itertools import pairwise
from time import perf_counter, thread_time
from typing import Any
from unittest import mock

from moto import mock_aws
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sesv2.models import SESV2Backend

from bench import coldstart, report
from bench.calls import ApiCalls
from bench.coldstart import ColdStart
from bench.fanout import Population, Reminder, seed, start_reminder, take_all
from local import invoke, moto_speedups, provision
from optout.core import aws, clock, keys, settings
from optout.core.jobs import SendJob, read
from optout.core.observability import logger, metrics
from optout.core.settings import Settings
from optout.sending import fanout, sender
from optout.store import CampaignStore

DEFAULT_MESSAGES = 2_000
# Enough for full send batches (fan-out packs 200 ids a message; 16 shards), as any region of
# more than a few thousand subscribers gets them. With batches of about 40 (600 messages), each
# invocation's fixed cost weighs five times as much: 94% of R in the last such run.
DEFAULT_PACED = 3_200
DEFAULT_OVERDRIVEN = 200
DEFAULT_STARVED = 10
DEFAULT_RATE = 50.0
DEFAULT_COLD_REPEAT = 7

OWN_CPU_TARGET_MS = 0.5
CALLS_TARGET = 2.1
RATE_TARGET = 0.95
# The over-driven run: SES takes this fraction of R, the sender keeps R (which it can reach:
# pacing it faster instead might only find the limits of this machine, moto included).
OVERDRIVE = 2.0
# The starved run: SES takes a message every two seconds, longer than the sender's retries of
# a throttled send wait in all, so that sends fail, invocations fail and batches come back.
STARVED_RATE = 0.5
# SES lets an account exceed its rate "for short bursts". A tenth of a second's worth absorbs
# the jitter of a sender that paces itself, and little of the excess of one that does not.
BURST_SECONDS = 0.1

REGION = "eu-west-1"
SENDER = "SenderFunction"


def main(argv: Sequence[str] | None = None) -> int:
    options = _arguments(argv)
    started = perf_counter()
    logger.setLevel(logging.WARNING)  # the scheduler and the sender log every batch at INFO
    _isolate_from_aws()
    cost = measure_cost(options.messages)
    runs = [  # messages, and SES's rate; the sender is paced at R in each
        (options.paced, options.rate),
        (options.overdriven, options.rate / OVERDRIVE),
        (options.starved, STARVED_RATE),
    ]
    pacing = [measure_pacing(n, ses_rate, pace=options.rate) for n, ses_rate in runs if n]
    cold = measure_cold_start(options.cold_repeat)
    minutes = (perf_counter() - started) / 60
    body = render(cost, pacing, cold, report.command("bench.sender", argv), minutes)
    print(body)
    report.write_section("Sender", body)
    report.save(options.results, "sender", _figures(cost, pacing))
    problems = _problems(cost, pacing)
    for problem in problems:
        _progress(f"CORRECTNESS PROBLEM: {problem}")
    return 1 if problems else 0


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sender",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=DEFAULT_MESSAGES,
        help="messages timed for the cost per message (default %(default)s)",
    )
    parser.add_argument(
        "--paced",
        type=_positive,
        default=DEFAULT_PACED,
        help="messages sent by a sender paced at SES's rate (default %(default)s)",
    )
    parser.add_argument(
        "--overdriven",
        type=int,
        default=DEFAULT_OVERDRIVEN,
        help=f"messages sent by a sender paced at {OVERDRIVE:g} times SES's rate, which is R / "
        f"{OVERDRIVE:g} then; 0: none (default %(default)s)",
    )
    parser.add_argument(
        "--starved",
        type=int,
        default=DEFAULT_STARVED,
        help=f"messages sent to an SES that takes {STARVED_RATE:g} a second, so that batches "
        "fail and come back; 0: none (default %(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help="the sender's pace and SES's rate R, messages a second (default %(default)s)",
    )
    parser.add_argument(
        "--cold-repeat",
        type=int,
        default=DEFAULT_COLD_REPEAT,
        help="fresh interpreters for each import measured (default %(default)s)",
    )
    report.add_results_option(parser)
    return parser.parse_args(argv)


def _figures(cost: Cost, pacing: list[Pacing]) -> dict[str, Any]:
    """What bench.summary reads: the cost per message, and the paced run's rate."""
    paced = pacing[0]
    return {
        "messages": cost.messages,
        "own_ms_median": statistics.median(cost.per_message_ms("own")),
        "botocore_ms_median": statistics.median(cost.per_message_ms("botocore")),
        "own_ms_whole_run": cost.whole_run_ms("own"),
        "botocore_ms_whole_run": cost.whole_run_ms("botocore"),
        "calls": dict(cost.calls),
        "calls_per_message": cost.calls_per_message,
        "paced_rate": paced.rate,
        "paced_achieved": paced.achieved,
        "paced_messages": paced.delivery.delivered,
    }


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} is not a positive number")
    return number


# -- AWS in this process ----------------------------------------------------------------------


def _isolate_from_aws() -> None:
    """Whatever AWS settings this shell has, nothing may reach a real account: moto intercepts
    only requests to AWS's own endpoints, so no endpoint, profile or config file may be set."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 (moto accepts any key)
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )


@contextmanager
def stubbed_aws(prefix: str, send_rate: float | None = None) -> Iterator[Settings]:
    """AWS stubbed in this process, with template.yaml's resources and the settings the
    functions get for them (`send_rate`: SendRatePerSecond, else the local stack's); moto
    forgets everything when the block ends."""
    parameters = {} if send_rate is None else {"SendRatePerSecond": f"{send_rate:g}"}
    # As in the local stack: moto's own costs that grow with its tables would otherwise set the
    # pace (a claim's transaction copied both tables, 0.1 s a message at 3,200 subscribers).
    with mock_aws(), moto_speedups.installed():
        os.environ.update(provision.provision(prefix, parameters))
        aws.reset()
        settings.get.cache_clear()
        try:
            yield settings.get()
        finally:
            aws.reset()
            settings.get.cache_clear()


@dataclass(frozen=True)
class Campaign:
    """Who the campaign reaches, and its reminder whose send batches are queued."""

    population: Population
    reminder: Reminder


def seed_and_fan_out(settings: Settings, messages: int, campaign_id: str) -> Campaign:
    """Subscribers enough for `messages` reminders, a campaign whose first reminder the tick
    has started, and that reminder's send batches on the send queue."""
    population = seed(settings, _size_reaching(messages))
    reminder = start_reminder(settings, campaign_id)
    for job in reminder.jobs:
        fanout.run(settings, job, remaining_ms=lambda: 10**9, now=reminder.due)
    metrics.clear_metrics()  # the fan-out handler's log_metrics would have flushed them
    return Campaign(population, reminder)


def _size_reaching(messages: int) -> int:
    """How many subscribers to seed for `messages` of them to be reached: `bench.fanout.seed`
    makes one in twenty (numbers 0, 20, 40, ...) follow only Meta, whom the campaign leaves
    out."""
    size = messages
    while size - math.ceil(size / 20) < messages:
        size += 1
    return size


# -- what arrived -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """Who got what, read from the emails moto's SES accepted, against who should have."""

    expected: int
    received: Counter[str]  # subscriber id -> emails
    lost: int
    duplicated: int
    strays: int

    @property
    def delivered(self) -> int:
        return self.received.total()

    def problems(self) -> list[str]:
        found = {
            "subscribers got nothing": self.lost,
            "subscribers got more than one message": self.duplicated,
            "messages went to someone the campaign does not reach": self.strays,
        }
        return [f"{count:,} {what}" for what, count in found.items() if count]


def delivery(settings: Settings, population: Population) -> Delivery:
    """What moto's SES recorded as sent, by subscriber (ids are keyed hashes of addresses)."""
    emails = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    # moto lists a raw message's recipients twice: from the request, and from its To header.
    received = Counter(
        keys.contact_id(settings, "email", address)
        for email in emails
        for address in {parseaddr(destination)[1] for destination in email.destinations}
    )
    return Delivery(
        expected=len(population.reached),
        received=received,
        lost=len(population.reached - received.keys()),
        duplicated=sum(1 for count in received.values() if count > 1),
        strays=len(received.keys() - population.reached),
    )


# -- 1. cost per message ----------------------------------------------------------------------


@dataclass(frozen=True)
class BatchCost:
    """This thread's CPU time for one send batch, in three parts that add up to all of it."""

    messages: int
    own: float  # outside AWS API calls: the layer's code, Jinja, Babel, the email package
    botocore: float  # inside API calls but outside moto: serialising, signing, parsing
    moto: float  # moto working out its answers, which Lambda would wait for instead

    @property
    def total(self) -> float:
        return self.own + self.botocore + self.moto


@dataclass(frozen=True)
class Cost:
    batches: list[BatchCost]
    calls: Counter[str]
    delivery: Delivery
    unexpected: Counter[str]  # outcomes other than "sent" (there should be none)

    @property
    def messages(self) -> int:
        return sum(batch.messages for batch in self.batches)

    @property
    def calls_per_message(self) -> float:
        return self.calls.total() / self.messages

    def per_message_ms(self, part: str) -> list[float]:
        """Milliseconds of `part` ("own", "botocore", "moto", "total") a message, batch by
        batch."""
        return [float(getattr(b, part)) / b.messages * 1000 for b in self.batches if b.messages]

    def whole_run_ms(self, part: str) -> float:
        return sum(float(getattr(batch, part)) for batch in self.batches) / self.messages * 1000


def measure_cost(messages: int) -> Cost:
    """Fan a reminder out to `messages` subscribers and time the sender on every batch."""
    with stubbed_aws("bench-cost") as settings:
        campaign = seed_and_fan_out(settings, messages, "bench-sender-cost")
        jobs = [read(SendJob, body) for body in take_all(settings.send_queue_url)]
        _progress(f"cost: sending {len(jobs)} batches with a pacer that never waits")
        batches, calls, outcomes = time_batches(settings, jobs, campaign.reminder.due)
        arrived = delivery(settings, campaign.population)
    del outcomes["sent"]
    return Cost(batches, calls, arrived, outcomes)


def time_batches(
    settings: Settings, jobs: list[SendJob], now: datetime
) -> tuple[list[BatchCost], Counter[str], Counter[str]]:
    """Send each batch as the handler would, with a pacer that never waits; the cost of each,
    the API calls of all, and the outcomes of all."""
    pacers = sender.unpaced()  # no pacing, so that no sleeping hides in the figures
    costs: list[BatchCost] = []
    outcomes: Counter[str] = Counter()
    with ApiCalls(_sender_clients(settings)) as calls:
        for job in jobs:
            cpu, inside, stub = thread_time(), calls.cpu_seconds, calls.stub_cpu_seconds
            counts = sender.send_batch(settings, job, now, pacers)
            cpu = thread_time() - cpu
            inside, stub = calls.cpu_seconds - inside, calls.stub_cpu_seconds - stub
            costs.append(BatchCost(counts["sent"], cpu - inside, inside - stub, stub))
            outcomes.update(counts)
            metrics.clear_metrics()  # outside the timing, as the handler's flush would be
    return costs, calls.by_operation, outcomes


def _sender_clients(settings: Settings) -> list[Any]:
    """Every client the sender's code can use (`optout.core.aws` caches one per service and table),
    so that a call of any kind would be counted."""
    tables = (settings.subscribers_table, settings.campaigns_table, settings.deliveries_table)
    return [
        *(aws.client(service) for service in ("sesv2", "ses", "sns", "sqs")),
        *(aws.send_client(service) for service in ("sesv2", "sns")),
        *(aws.table(name).meta.client for name in tables),
    ]


# -- 2. pacing against a rate-limited SES ------------------------------------------------------


class RateLimitedSes:
    """SES's maximum sending rate, enforced inside moto's SES: a token bucket refilled at `rate`
    a second of real time, holding at most `burst` sends. A send that finds no token is
    answered as SES answers it, HTTP 429 "TooManyRequestsException: Maximum sending rate
    exceeded."; the others are moto's, recorded as sent.

    Inside moto rather than around the client's ``send_email``, so that the error comes back
    through botocore as a real one would, past whatever retries the client is set up for.
    """

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._updated = burst, clock()
        self.accepted_at: list[float] = []  # the clock's time of each send taken
        self.throttled = 0

    def admit(self) -> bool:
        """Take a token if there is one: may a send go through now?"""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < 1:
            self.throttled += 1
            return False
        self._tokens -= 1
        self.accepted_at.append(now)
        return True

    @contextmanager
    def enforced(self) -> Iterator[RateLimitedSes]:
        """Within the block, moto's SES takes only what the bucket admits; it starts full."""
        real_send = SESV2Backend.send_raw_email  # SendEmail with raw content, as the layer sends

        def send_raw_email(backend: SESV2Backend, **message: Any) -> Any:
            if not self.admit():
                error = JsonRESTError("TooManyRequestsException", "Maximum sending rate exceeded.")
                error.code = 429
                raise error
            return real_send(backend, **message)

        with mock.patch.object(SESV2Backend, "send_raw_email", send_raw_email):
            self._tokens, self._updated = self.burst, self._clock()
            yield self


@dataclass(frozen=True)
class Drain:
    """The send queue worked through by the handler: when each invocation started (on
    ``time.monotonic``), how long it all took, and what failed."""

    seconds: float
    started_at: list[float]
    failed: int
    dead_lettered: int
    failures: Counter[str]  # why invocations failed, from the handler's log


@dataclass(frozen=True)
class Pacing:
    pace: float  # the sender's SEND_RATE_PER_SECOND
    rate: float  # SES's
    drain: Drain
    sent_at: list[float]  # when SES took each message
    throttled: int  # 429s from SES
    counted: Counter[str]  # the campaign's counters afterwards, all regions together
    delivery: Delivery

    @property
    def achieved(self) -> float:
        """Messages a second, from the first receive from the queue to the empty queue."""
        return self.delivery.delivered / self.drain.seconds

    def by_invocation(self) -> list[list[float]]:
        """The times SES took messages, invocation by invocation."""
        bounds = [*self.drain.started_at, math.inf]
        return [
            [moment for moment in self.sent_at if start <= moment < end]
            for start, end in pairwise(bounds)
        ]

    @property
    def within_batches(self) -> float:
        """Messages a second from the first send of each invocation to its last (NaN if no
        invocation sent two)."""
        groups = [sends for sends in self.by_invocation() if len(sends) > 1]
        seconds = sum(sends[-1] - sends[0] for sends in groups)
        return sum(len(sends) - 1 for sends in groups) / seconds if seconds else math.nan

    @property
    def first_send_ms(self) -> float:
        """The median time from an invocation's start to its first send: reading the batch's
        first subscribers, rendering and claiming the first message."""
        groups = zip(self.drain.started_at, self.by_invocation(), strict=True)
        delays = [(sends[0] - start) * 1000 for start, sends in groups if sends]
        return statistics.median(delays) if delays else math.nan


def measure_pacing(messages: int, rate: float, pace: float) -> Pacing:
    """Send `messages` reminders through the sender's handler, set to `pace` a second, to an
    SES that takes `rate` a second."""
    with stubbed_aws("bench-pacing", send_rate=pace) as settings:
        campaign = seed_and_fan_out(settings, messages, "bench-sender-pacing")
        _progress(f"pacing: sending at {pace:g}/s to an SES that takes {rate:g}/s")
        ses = RateLimitedSes(rate, burst=max(1.0, rate * BURST_SECONDS))
        with ses.enforced():
            drain = drain_through_handler(settings, campaign.reminder.due)
        stats = CampaignStore(settings).stats(campaign.reminder.campaign_id)
        counted = sum((Counter(region) for region in stats.values()), Counter())
        arrived = delivery(settings, campaign.population)
    return Pacing(pace, rate, drain, ses.accepted_at, ses.throttled, counted, arrived)


def drain_through_handler(settings: Settings, now: datetime) -> Drain:
    """Feed the send queue to the sender's Lambda handler one message at a time (BatchSize 1),
    as Lambda's poller does, in a fresh execution environment and with the clock at `now`.

    A message the handler reports failed is made visible again at once (SQS would wait out
    its visibility timeout) and received again, until it succeeds or SQS moves it to the
    dead-letter queue after maxReceiveCount receives: redelivery is bounded as in AWS.
    """
    sqs = aws.client("sqs")
    url = settings.send_queue_url
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    _fresh_execution_environment()
    clock.set_source(lambda: now)
    started_at: list[float] = []
    failed = 0
    try:
        with _handler_output() as output:
            started = perf_counter()
            while messages := sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"]
            ).get("Messages", []):
                started_at.append(time.monotonic())
                result = invoke.invoke(SENDER, invoke.sqs_event(arn, messages))
                failures = {item["itemIdentifier"] for item in result["batchItemFailures"]}
                for message in messages:
                    handle = message["ReceiptHandle"]
                    if message["MessageId"] in failures:
                        failed += 1
                        sqs.change_message_visibility(
                            QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0
                        )
                    else:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
            seconds = perf_counter() - started
    finally:
        clock.set_source(None)
    reasons = _failures(output.getvalue())
    return Drain(seconds, started_at, failed, _dead_lettered(url), reasons)


def _fresh_execution_environment() -> None:
    """Forget the handler's pacer (one per execution environment) and the rate it was made
    with, as a new Lambda execution environment starts without them."""
    invoke.handler_module(SENDER)._pacers.clear()
    sender.send_rate.cache_clear()


@contextmanager
def _handler_output() -> Iterator[io.StringIO]:
    """Keep what the handler writes out of the report: Powertools' JSON log lines and the
    metrics it prints after each invocation. Read afterwards for why invocations failed."""
    captured = io.StringIO()
    stream = logger.registered_handler
    previous = stream.setStream(captured)  # type: ignore[attr-defined]
    try:
        with redirect_stdout(captured), warnings.catch_warnings():
            # A failed batch adds no metric; Powertools warns that it has none to flush.
            warnings.filterwarnings("ignore", "No application metrics to publish")
            yield captured
    finally:
        stream.setStream(previous)  # type: ignore[attr-defined]


def _failures(log: str) -> Counter[str]:
    """Why batches failed, by the exception the handler logged with "send batch failed"."""
    reasons: Counter[str] = Counter()
    for line in log.splitlines():
        if line.startswith("{") and '"send batch failed' in line:
            reasons[str(json.loads(line).get("exception_name", "unknown"))] += 1
    return reasons


def _dead_lettered(url: str) -> int:
    """Messages in the dead-letter queue of the queue at `url`."""
    sqs = aws.client("sqs")
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    name = json.loads(policy["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"].split(":")[-1]
    attributes = sqs.get_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


# -- 3. cold start ----------------------------------------------------------------------------


def measure_cold_start(repeat: int) -> ColdStart:
    """Import the handler and boto3 in fresh interpreters, with bytecode and without."""
    _progress(f"cold start: each import in {repeat} fresh interpreters, with bytecode and without")
    return coldstart.measure(SENDER, repeat)


# -- the report -------------------------------------------------------------------------------


def render(cost: Cost, pacing: list[Pacing], cold: ColdStart, command: str, minutes: float) -> str:
    """The Markdown section for BENCHMARKS.md."""
    return "\n\n".join(
        [
            f"`{command}` on {date.today().isoformat()}; {report.machine()}. AWS stubbed in this "
            "process (moto's `mock_aws`, no HTTP); subscribers of the EU in seven languages, "
            "seeded and fanned out as in the fan-out benchmark. The whole run took "
            f"{minutes:.1f} min.",
            _targets(cost, pacing),
            "### Cost per message",
            _cost_table(cost),
            _calls_table(cost),
            "### Pacing against an SES that throttles",
            _pacing_table(pacing),
            "### Cold start",
            _cold_table(cold),
            _packages_table(cold),
            _correctness(cost, pacing, cold),
            _reading(),
        ]
    )


def _targets(cost: Cost, pacing: list[Pacing]) -> str:
    own_ms = statistics.median(cost.per_message_ms("own"))
    paced = pacing[0]
    share = paced.achieved / paced.rate
    lost = sum(arrived.lost for arrived in _deliveries(cost, pacing))
    duplicated = sum(arrived.duplicated for arrived in _deliveries(cost, pacing))
    rows = [
        [
            f"own CPU time a message, median of batches ≤ {OWN_CPU_TARGET_MS} ms",
            f"{own_ms:.2f} ms",
            _met(own_ms <= OWN_CPU_TARGET_MS),
        ],
        [
            f"AWS API calls a delivered message ≤ {CALLS_TARGET}",
            f"{cost.calls_per_message:.3f}",
            _met(cost.calls_per_message <= CALLS_TARGET),
        ],
        [
            f"achieved rate ≥ {RATE_TARGET:.0%} of SES's R = {paced.rate:g}/s",
            f"{paced.achieved:.1f}/s, {share:.1%} (batches of {_sent_by_invocation(paced)})",
            _met(share >= RATE_TARGET),
        ],
        [
            "none lost, none sent twice, in any run",
            f"{lost} lost, {duplicated} twice",
            _met(lost + duplicated == 0),
        ],
    ]
    return report.table(["target", "measured", "met"], rows)


def _met(met: bool) -> str:
    return "yes" if met else "**no**"


def _cost_table(cost: Cost) -> str:
    parts = {
        f"own: the layer's code, outside AWS calls (target ≤ {OWN_CPU_TARGET_MS})": "own",
        "botocore and boto3: inside calls, outside moto": "botocore",
        "moto: working out the answers": "moto",
        "all of the sending thread's CPU time": "total",
    }
    rows = [
        [
            label,
            f"{statistics.median(cost.per_message_ms(part)):.3f}",
            f"{_p90(cost.per_message_ms(part)):.3f}",
            f"{cost.whole_run_ms(part):.3f}",
        ]
        for label, part in parts.items()
    ]
    sizes = [batch.messages for batch in cost.batches]
    intro = (
        f"{cost.messages:,} messages in {len(sizes)} send batches of {min(sizes)} to "
        f"{max(sizes)}, sent with a pacer that never waits. CPU time of the sending thread a "
        "message, in ms: each batch's divided by its messages, then the median and the 90th "
        "percentile over the batches, and the whole run's. A call runs from botocore's first "
        "event to its last (checking, serialising, signing, parsing; boto3's DynamoDB types)."
    )
    header = ["CPU time a message, ms", "median of batches", "p90 of batches", "whole run"]
    return intro + "\n\n" + report.table(header, rows)


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def _calls_table(cost: Cost) -> str:
    rows = [
        [operation, f"{count:,}", f"{count / cost.messages:.3f}"]
        for operation, count in cost.calls.most_common()
    ]
    rows.append(
        [
            f"all (target ≤ {CALLS_TARGET})",
            f"{cost.calls.total():,}",
            f"{cost.calls_per_message:.3f}",
        ]
    )
    header = ["AWS API calls", "calls", "a delivered message"]
    return report.table(header, rows)


def _pacing_table(pacing: list[Pacing]) -> str:
    rows = [
        ["SES's rate", *(f"{run.rate:g}/s" for run in pacing)],
        ["sender's pace (SEND_RATE_PER_SECOND)", *(f"{run.pace:g}/s" for run in pacing)],
        ["messages delivered", *(f"{run.delivery.delivered:,}" for run in pacing)],
        ["invocations (one send batch each)", *(str(len(r.drain.started_at)) for r in pacing)],
        ["messages an invocation sent", *(_sent_by_invocation(run) for run in pacing)],
        ["invocations failed", *(_failed(run) for run in pacing)],
        ["seconds, first receive to empty queue", *(f"{run.drain.seconds:.1f}" for run in pacing)],
        [
            f"achieved (target ≥ {RATE_TARGET:.0%} of SES's rate when paced at it)",
            *(f"{run.achieved:.1f}/s, {run.achieved / run.rate:.1%}" for run in pacing),
        ],
        ["within batches, first send to last", *(_figure(r.within_batches, "/s") for r in pacing)],
        [
            "invocation to its first send, median",
            *(_figure(run.first_send_ms, " ms", digits=0) for run in pacing),
        ],
        ["429s from SES", *(f"{run.throttled:,}" for run in pacing)],
        ["batches dead-lettered", *(str(run.drain.dead_lettered) for run in pacing)],
        ["lost, sent twice", *(f"{r.delivery.lost}, {r.delivery.duplicated}" for r in pacing)],
        ["the campaign's counters", *(_counters(run) for run in pacing)],
    ]
    header = ["", *(_paced(run) for run in pacing)]
    intro = (
        "SES takes its rate of messages a second (a token bucket holding "
        f"{BURST_SECONDS:g} s of them, refilled in real time) and answers 429 "
        "TooManyRequestsException above it, from inside moto, so that the sender's client "
        "and its retries see it as they would see SES's. The sender runs through its Lambda "
        "handler, one send-queue message an invocation (BatchSize 1, as in template.yaml); a "
        "failed invocation's message is received again at once, until the dead-letter queue "
        "takes it."
    )
    return "\n\n".join([intro, report.table(header, rows), *_counters_off(pacing)])


def _counters(run: Pacing) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in sorted(run.counted.items()))


def _figure(value: float, unit: str, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}{unit}"


def _counters_off(pacing: list[Pacing]) -> list[str]:
    """A note on any run whose campaign counters disagree with what SES took."""
    off = [run for run in pacing if run.counted["sent"] != run.delivery.delivered]
    if not off:
        return []
    runs = "; ".join(
        f"{_paced(run)}, {run.counted['sent']:,} counted for {run.delivery.delivered:,} sent"
        for run in off
    )
    return [
        f"The campaign's counters disagree with SES ({runs}). An invocation that fails after "
        "sending adds nothing to them, and the batch's next delivery counts what had gone out "
        "as skipped duplicates. Nobody got a message twice: only the counting is off."
    ]


def _paced(run: Pacing) -> str:
    times = run.pace / run.rate
    return "paced at SES's rate" if times == 1 else f"paced at {times:g} times SES's rate"


def _sent_by_invocation(run: Pacing) -> str:
    sizes = [len(sends) for sends in run.by_invocation()]
    return f"{min(sizes, default=0)} to {max(sizes, default=0)}"


def _failed(run: Pacing) -> str:
    reasons = ", ".join(f"{name} {count}" for name, count in run.drain.failures.items())
    return f"{run.drain.failed} ({reasons})" if reasons else str(run.drain.failed)


def _cold_table(cold: ColdStart) -> str:
    def cell(seconds: list[float]) -> str:
        low, median, high = (value * 1000 for value in _spread(seconds))
        return f"{median:.0f} ({low:.0f} to {high:.0f})"

    both = (cold.with_bytecode, cold.without_bytecode)
    rows = [
        ["`import boto3`", *(cell(imports.boto3) for imports in both)],
        ["the sender's handler module", *(cell(imports.handler) for imports in both)],
        ["handler ÷ boto3, medians", *(f"{imports.ratio:.2f}" for imports in both)],
    ]
    header = ["import, ms: median (range)", "with bytecode", "only the stdlib has bytecode"]
    intro = (
        f"Each import in {len(cold.with_bytecode.boto3)} fresh interpreters, timed inside them "
        "(the interpreter's own start left out). The handler is imported as Lambda imports it: "
        "`functions/sender` first on the path, then the layer, then the dependencies, with "
        "template.yaml's environment and LAMBDA_TASK_ROOT set (so Powertools' tracer is on). "
        "*With bytecode*: this checkout's `__pycache__`. *Only the stdlib has bytecode*: as "
        "the layers reach Lambda from `make build` (pip --no-compile, no `__pycache__`, a "
        "read-only /opt), where each cold start compiles them."
    )
    return intro + "\n\n" + report.table(header, rows)


def _spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def _packages_table(cold: ColdStart) -> str:
    warm, compiled = cold.with_bytecode.by_package, cold.without_bytecode.by_package
    rows = [
        [package, f"{warm[package] / 1000:.0f}", f"{microseconds / 1000:.0f}"]
        for package, microseconds in compiled.most_common(8)
    ]
    rows.append(["all", f"{warm.total() / 1000:.0f}", f"{compiled.total() / 1000:.0f}"])
    header = ["package", "with bytecode, ms", "only the stdlib has bytecode, ms"]
    return (
        "Where the handler's import goes, from one run of each under `-X importtime` (each "
        "package's own import time, that of the packages it imports left out):\n\n"
        + report.table(header, rows)
    )


def _problems(cost: Cost, pacing: list[Pacing]) -> list[str]:
    """Everything that went wrong, as opposed to slowly."""
    problems = [f"sent without pacing: {problem}" for problem in cost.delivery.problems()]
    for run in pacing:
        problems += [f"{_paced(run)}: {problem}" for problem in run.delivery.problems()]
    if cost.unexpected:
        problems.append(f"sent without pacing: outcomes other than sent: {dict(cost.unexpected)}")
    return problems


def _correctness(cost: Cost, pacing: list[Pacing], cold: ColdStart) -> str:
    if problems := _problems(cost, pacing):
        return "**Correctness problems:**\n\n" + "\n".join(f"- {p}" for p in problems)
    reached = ", ".join(f"{arrived.expected:,}" for arrived in _deliveries(cost, pacing))
    at_import = cold.at_import
    return (
        "Correctness, checked against the emails moto's SES recorded: in every run each "
        f"subscriber the campaign reaches ({reached}) got exactly one message, and nobody else "
        f"got any. Importing the handler read {at_import['settings_read']} settings and made "
        f"{at_import['clients_made']} AWS clients, with no table or queue named in its "
        "environment: both wait for the first invocation."
    )


def _deliveries(cost: Cost, pacing: list[Pacing]) -> list[Delivery]:
    return [cost.delivery, *(run.delivery for run in pacing)]


def _reading() -> str:
    return (
        "How to read it: moto works out its answers on the sending thread, so its CPU time is "
        "kept apart; in Lambda that time is a wait for DynamoDB and SES instead, and moto "
        "takes longer to answer than they would (a few milliseconds for a GetItem of a "
        "campaign, more for a BatchGetItem). *Own* is what the layer's code costs: rendering "
        "in the subscriber's language, minting the links' tokens, building the MIME message. "
        "*botocore* is what each call costs the client, which Lambda pays too. The pace within "
        "batches shows the pacer's accuracy; the time before an invocation's first send "
        "(reading its first 20 subscribers, at moto's speed; the rest are read on a second "
        "thread while the first are sent) and after its last (recording the batch) is lost "
        "to the rate, as the pacer carries no credit over from it, so the smaller the "
        "batches, the lower the rate. The counts of "
        "calls carry over to AWS unchanged; the times are this machine's, under CPython 3.11 "
        "rather than Lambda's 3.13 on arm64."
    )


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
