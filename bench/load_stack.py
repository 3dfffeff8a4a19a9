"""`python -m bench.load_stack`: the local stack of `python -m local --no-demo --pump-seconds 0`,
for `bench.load`, with three additions that only a benchmark needs:

- N active subscribers (`bench.load.population`) written straight into moto's DynamoDB before it
  serves, in batches, as `bench.fanout` seeds them (a subscribe request each would take hours);
- every handler invocation measured: its wall-clock and CPU time and the AWS API calls made
  during it, by function logical id, and for the first ten invocations of each function and one
  in 25 after them, the peak of the memory it allocated (tracemalloc, started and stopped around
  the invocation: it makes every allocation in the process about three times slower, which
  tracing every invocation would impose on the whole run); calls made between invocations are the SQS poller's (the
  stack playing Lambda's event source mappings);
- `GET /_local/bench/sent?since=N`: how many messages the outbox holds, and those from the Nth
  on, each reduced to channel, recipient, sender (From), time sent and the paths of its links
  (the full outbox of a large run is gigabytes of JSON);
- the coalition's organisations (`bench.load.ORGANISATIONS`, their senders verified in SES),
  and `POST /_local/bench/share` with ``{"campaign_id", "organisation", "members"}``, which
  makes a campaign that organisation's, joined by the members.

It writes `ready.json` to the results directory once it serves, and `stack.json` (the
measurements) when SIGTERM stops it. Its own stdout and stderr are the handlers' logs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from pathlib import Path
from time import perf_counter, thread_time
from typing import Any
from urllib.parse import parse_qs

import boto3

from bench import fanout
from bench.load import CLOCK_START, ORGANISATIONS, population
from local import invoke, provision, template
from local.__main__ import PREFIX, REGION, _point_aws_at, _start_moto
from local.stack import (
    Frontend,
    LocalStack,
    Request,
    Response,
    StackClock,
    StackServer,
    StopSignals,
    consumed_queues,
    json_response,
)
from optout.core import clock, settings
from optout.core.observability import metrics
from optout.store import CampaignStore, OrganisationStore

POLLER = "(SQS poller)"
TRACED_FIRST = 10  # invocations of each function whose memory is traced, then one in:
TRACED_EVERY = 25  # calls the stack makes between invocations, as Lambda's pollers would
LINK = re.compile(r"https?://[^/\s]+(/(?:r|done|s|unsubscribe)/[A-Za-z0-9_.~=-]+)")


@dataclass
class FunctionFigures:
    """One function's invocations: how many, their memory peaks, times and API calls."""

    invocations: int = 0
    peak_bytes: list[int] = field(default_factory=list)  # of the traced invocations
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)  # items, keys or messages a call carried


class Measurements:
    """API calls through botocore's events on boto3's default session (the one `local.iam`
    set up when the stack was provisioned), which every client made afterwards copies, and
    invocations through a wrapper of `local.invoke.invoke`."""

    def __init__(self) -> None:
        self.by_function: dict[str, FunctionFigures] = defaultdict(FunctionFigures)
        self._current = POLLER
        assert boto3.DEFAULT_SESSION is not None, "provision the stack first"
        boto3.DEFAULT_SESSION.events.register("provide-client-params", self._count)
        boto3.DEFAULT_SESSION.events.register("after-call.dynamodb.Query", self._query_items)
        self.counting = False  # the seeding's calls are not the campaign's

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.counting:
            return
        figures = self.by_function[self._current]
        figures.calls[model.name] += 1
        figures.units[model.name] += _units(model.name, params)

    def _query_items(self, parsed: dict[str, Any], **_: Any) -> None:
        """A query is billed by what it reads: count the items a page returned instead."""
        if self.counting:
            units = self.by_function[self._current].units
            units["Query"] += int(parsed.get("Count", 0)) - 1

    def invoke(self, real: Any) -> Any:
        def measured(logical_id: str, event: dict[str, Any]) -> Any:
            self._current = logical_id
            figures = self.by_function[logical_id]
            traced = figures.invocations < TRACED_FIRST or figures.invocations % TRACED_EVERY == 0
            if traced:
                tracemalloc.start()
            started, cpu_started = perf_counter(), thread_time()
            try:
                return real(logical_id, event)
            finally:
                seconds, cpu = perf_counter() - started, thread_time() - cpu_started
                if traced:
                    figures.peak_bytes.append(tracemalloc.get_traced_memory()[1])
                    tracemalloc.stop()
                self._current = POLLER
                figures.invocations += 1
                figures.seconds += seconds
                figures.cpu_seconds += cpu

        return measured

    def as_json(self) -> dict[str, Any]:
        return {
            name: {
                "invocations": figures.invocations,
                "peak_bytes": figures.peak_bytes,
                "seconds": figures.seconds,
                "cpu_seconds": figures.cpu_seconds,
                "calls": dict(figures.calls),
                "units": dict(figures.units),
            }
            for name, figures in self.by_function.items()
        }


def _units(operation: str, params: dict[str, Any]) -> int:
    """What a call carries that AWS bills one by one: the items of a batch write, the keys of a
    batch read, the messages of a batch send; 1 for every other call."""
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params.get("RequestItems", {}).values())
    if operation == "BatchGetItem":
        return sum(len(table["Keys"]) for table in params.get("RequestItems", {}).values())
    if operation in ("SendMessageBatch", "DeleteMessageBatch"):
        return len(params.get("Entries", []))
    return 1


class BenchFrontend(Frontend):
    """The stack's front door, with the compact outbox."""

    def __init__(self, stack: LocalStack, public_host: str) -> None:
        super().__init__(stack, public_host)
        self._bench_stack = stack

    def respond(self, request: Request) -> Response:
        if request.path == "/_local/bench/sent" and request.method == "GET":
            since = int(parse_qs(request.query).get("since", ["0"])[0])
            every = self._bench_stack.outbox()
            compact = [_compact(message) for message in every[since:]]
            return json_response(HTTPStatus.OK, {"total": len(every), "sent": compact})
        if request.path == "/_local/bench/share" and request.method == "POST":
            asked = json.loads(request.body or b"{}")
            store = CampaignStore(settings.get())
            campaign = store.get_campaign(asked["campaign_id"])
            if campaign is None:
                return json_response(HTTPStatus.NOT_FOUND, {"error": "no such campaign"})
            shared = replace(
                campaign, organisation=asked["organisation"], members=tuple(asked["members"])
            )
            store.save_campaign(shared, clock.now())
            return json_response(HTTPStatus.OK, {"organisations": list(shared.organisations)})
        return super().respond(request)


def _compact(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel": message["channel"],
        "to": message["to"],
        "from": message["headers"].get("From", ""),
        "sent_at": message["sent_at"],
        "links": LINK.findall(message["text"]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load_stack", description=__doc__)
    parser.add_argument("--subscribers", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--results", type=Path, required=True)
    options = parser.parse_args(argv)

    moto = _start_moto()
    try:
        host, port = moto.get_host_and_port()
        _point_aws_at(f"http://{host}:{port}")
        # WARNING: at INFO the handlers would log a line or more for every batch they work on.
        given = provision.organiser_secrets_from(os.environ)  # bench.load signs with them
        os.environ.update(provision.provision(PREFIX, {"LogLevel": "WARNING"}, given))
        measurements = Measurements()
        stack_clock = StackClock()
        clock.set_source(stack_clock.now)
        stack_clock.set(CLOCK_START)
        organisations = OrganisationStore(settings.get())
        for organisation in ORGANISATIONS:
            organisations.create(organisation)
            boto3.client("sesv2").create_email_identity(EmailIdentity=organisation.sender_address)
        seeded = fanout.write_active(
            settings.get(), population(settings.get(), options.subscribers)
        )
        metrics.clear_metrics()
        # Every handler imported now: an invocation's peak is then its work, not its import
        # (measured apart, in fresh interpreters, by bench.coldstart).
        for logical_id in template.functions():
            invoke.handler_module(logical_id)
        invoke.invoke = measurements.invoke(invoke.invoke)
        measurements.counting = True
        stack = LocalStack(stack_clock, consumed_queues(PREFIX), REGION)
        server = StackServer(("127.0.0.1", options.port), stack)
        server.frontend = BenchFrontend(stack, server.public_host)
        signals = StopSignals()
        serving = threading.Thread(target=server.serve_forever, name="http")
        serving.start()
        ready = {"url": f"http://{server.public_host}", "seeded": seeded}
        (options.results / "ready.json").write_text(json.dumps(ready), encoding="utf-8")
        signals.wait()
        server.shutdown()
        server.server_close()
        serving.join()
        (options.results / "stack.json").write_text(
            json.dumps(measurements.as_json()), encoding="utf-8"
        )
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
