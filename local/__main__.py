"""`python -m local`: the local stack (README, "Try it: the local stack"), as `make run` starts it.

Starts an embedded moto server and points boto3 at it, creates template.yaml's tables and queues
there, seeds the demo subscribers (unless `--no-demo`), then serves the API on 127.0.0.1 until
Ctrl-C or SIGTERM. The functions' log lines go to a file and, in short, to the terminal
(`local.console`).
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from local import console, demo, demo_receiver, demo_site, moto_speedups, provision, template
from local.stack import (
    PUMP_INTERVAL_SECONDS,
    LocalStack,
    StackClock,
    StackServer,
    StopSignals,
    consumed_queues,
)
from optout.core import aws, clock, settings
from optout.core.clock import iso

REGION = "eu-west-1"
PREFIX = "optout-local"


@dataclass(frozen=True)
class Secret:
    name: str  # the environment variable
    value: str
    generated: bool


def main(argv: Sequence[str] | None = None) -> None:
    options = _arguments(argv)
    output = console.route_function_output(options.log_file, options.verbose)
    moto = _start_moto()
    try:
        host, port = moto.get_host_and_port()
        _point_aws_at(f"http://{host}:{port}")
        webhook_secret = _secret("OPTOUT_WEBHOOK_SECRET", lambda: "whsec_" + _random_base64(24))
        admin_token = _secret("OPTOUT_ADMIN_TOKEN", lambda: secrets.token_urlsafe(32))
        given = provision.organiser_secrets_from(os.environ)
        parameters = dict(options.parameter)
        if options.demo:  # the demo's organisers read the watch's email in the outbox
            parameters.setdefault("OrganisersAddress", demo.ORGANISERS_ADDRESS)
        os.environ.update(provision.provision(PREFIX, parameters, given))
        stack_clock = StackClock()
        clock.set_source(stack_clock.now)
        if options.demo:
            stack_clock.set(demo.CLOCK_START)
        stack = LocalStack(stack_clock, consumed_queues(PREFIX), REGION)
        seeded = demo.seed(settings.get(), stack_clock.now()) if options.demo else []
        server = _listen(options.host, options.port, stack)
        if options.demo:  # before the campaign, so that it hears of its launch
            local_url = f"http://127.0.0.1:{server.server_address[1]}{demo_receiver.PATH}"
            server.frontend.demo_receiver.secret = demo.register_endpoint(
                stack, server.public_host, local_url
            )
        partner_token = demo.add_partner(stack, server.public_host) if options.demo else ""
        campaign = demo.start_campaign(stack, server.public_host) if options.demo else None
        if campaign:
            demo.share_campaign(stack, server.public_host, campaign["campaign_id"])
        if options.demo:
            demo.watch_help_page(settings.get(), stack.clock.now(), server)
        _print_banner(
            f"http://{server.public_host}",
            [webhook_secret, admin_token],
            len(seeded),
            campaign,
            options,
            partner_token,
        )
        output.show()
        with _serving(server):
            if options.demo:  # the watch reads the page the stack serves: once it serves
                stack.tick()
            _pump_until_stopped(stack, options.pump_seconds)
    finally:
        moto.stop()
    console.say("local stack stopped")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--no-demo", dest="demo", action="store_false", help="start without demo subscribers"
    )
    parser.add_argument(
        "--pump-seconds",
        type=float,
        default=PUMP_INTERVAL_SECONDS,
        help="how often queues are drained and the schedule checked, in real seconds; "
        "0: only on POST /_local/tick (default %(default)s)",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=Path("local-stack.log"),
        help="where the functions' log lines go in full, as CloudWatch would keep them "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the functions' log lines in full on the terminal too, not one short line each",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        type=_parameter,
        metavar="NAME=VALUE",
        help="a template.yaml parameter, as `sam deploy --parameter-overrides` takes it; "
        "repeat for more (e.g. --parameter WrongAdminTokensPerAddress=100)",
    )
    return parser.parse_args(argv)


def _parameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    declared = template.load()["Parameters"]
    if not equals or name not in declared:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NAME=VALUE with a NAME of template.yaml's: {', '.join(declared)}"
        )
    return name, value


def _start_moto() -> ThreadedMotoServer:
    # Werkzeug would otherwise log a line for every boto3 call the handlers make.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_speedups.install()  # a claim would otherwise cost more the more subscribers there are
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # 0: a free port
    server.start()
    return server


def _point_aws_at(endpoint: str) -> None:
    """Make every boto3 client talk to moto, whatever AWS settings this shell has: nothing the
    stack runs may reach a real account."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 (moto accepts any key)
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,  # Lambda sets both
        # A config file could name other endpoints or ignore AWS_ENDPOINT_URL.
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        POWERTOOLS_TRACE_DISABLED="1",  # there is no X-Ray daemon to send traces to
    )
    aws.reset()


def _secret(name: str, make: Callable[[], str]) -> Secret:
    """The secret in environment variable `name`, made up and put there if it is not set:
    `provision` stores it in Secrets Manager, where the functions read it."""
    given = os.environ.get(name, "")
    if given:
        return Secret(name, given, generated=False)
    os.environ[name] = make()
    return Secret(name, os.environ[name], generated=True)


def _random_base64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode("ascii")


def _listen(host: str, port: int, stack: LocalStack) -> StackServer:
    try:
        return StackServer((host, port), stack)
    except OSError as error:
        raise SystemExit(f"cannot listen on {host}:{port}: {error.strerror}") from error


def _print_banner(
    base_url: str,
    local_secrets: list[Secret],
    seeded: int,
    campaign: dict[str, Any] | None,
    options: argparse.Namespace,
    partner_token: str = "",
) -> None:
    lines = [
        "optout-bot local stack: the handlers of template.yaml against an embedded moto",
        f"  subscribe form   {base_url}/subscribe",
        f"  dashboard        {base_url}/admin   (sign in with OPTOUT_ADMIN_TOKEN below)",
        f"  API described    {base_url}/openapi.json   (OpenAPI 3.1)",
        f"  outbox           {base_url}/_local/outbox",
        f'  clock            {base_url}/_local/clock   POST {{"advance": "P7D"}} moves it',
        f"  tick             curl -X POST {base_url}/_local/tick",
        f"  function logs    {options.log_file.resolve()}"
        + ("" if options.verbose else "   (one short line each below; --verbose for all)"),
    ]
    for secret in local_secrets:
        origin = "generated" if secret.generated else "from the environment"
        lines.append(f"  {secret.name:<22} {secret.value}   ({origin})")
    if seeded:
        lines.append(
            f"  demo data        {seeded} active LinkedIn subscribers in the EU, CH, CA and HK"
        )
    if campaign:
        lines += [
            f"  demo campaign    {campaign['campaign_id']}: {campaign['planned']} reminders planned "
            "(EU, EEA, CH, CA, HK; deadline 3 November 2025)",
            f"  stack clock      starts at {iso(demo.CLOCK_START)}, a week before the first reminder;",
            f"""                   play it: curl -X POST {base_url}/_local/clock -d '{{"advance": "P7D"}}'""",
            f"  demo watch       {base_url}{demo_site.PATH}, a help page that changes on",
            "                   14 October: move the clock a day, tick, and see /admin/changes",
            f"                   and the email to {demo.ORGANISERS_ADDRESS} in the outbox",
            f"  demo endpoint    {base_url}{demo_receiver.PATH}: the events a tool of yours would",
            "                   get (signed, verified), as they happen; see /admin/webhooks",
            f"  coalition        {demo.PARTNER['name']} joined the campaign: its form is",
            f"                   {base_url}/o/{demo.PARTNER['id']}/subscribe; its organisers sign in to",
            f"                   /admin with {partner_token} (they see only its own)",
        ]
    lines += [
        "Try:",
        f"  curl -i {base_url}/subscribe -H 'Content-Type: application/json' \\",
        """       -d '{"contact": "ada@example.org", "region": "DE", "locale": "de"}'""",
        "Ctrl-C stops.",
    ]
    console.say("\n".join(lines))


@contextmanager
def _serving(server: StackServer) -> Iterator[None]:
    """Serve HTTP on a thread of its own for as long as the block runs."""
    http = threading.Thread(target=server.serve_forever, name="http")
    http.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        http.join()


def _pump_until_stopped(stack: LocalStack, pump_seconds: float) -> None:
    """Pump the queues until SIGINT or SIGTERM."""
    signals, stop = StopSignals(), threading.Event()
    pump = threading.Thread(target=stack.pump_until, args=(stop, pump_seconds), name="pump")
    pump.start()
    signals.wait()
    stop.set()
    pump.join()


if __name__ == "__main__":
    main()
