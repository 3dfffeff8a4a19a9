"""Cold starts: each function started as Lambda starts it, beside a bare ``import boto3``.

`python -m bench.coldstart` (a part of `make bench`) measures every function of template.yaml
the way its cold start happens on Lambda, from what `sam build` deploys:

- the code is a fresh copy of the build's output: the function's ``*.py`` in a task directory
  (build-%Function), the shared layer's ``optout`` package without ``__pycache__``
  (build-SharedLayer) and the dependencies layer installed from pyproject.toml with
  ``pip --target --no-compile`` (build-DependenciesLayer, for this machine's platform, as
  Lambda's arm64 wheels do not run here), both in one ``opt/python``. Nothing outside the
  standard library has bytecode and ``-B`` keeps it so: every start compiles the layers from
  source, as on Lambda, where /opt is read-only;
- a fresh interpreter (``-I -S``: nothing of this machine's virtual environment on the path)
  with the function's environment from template.yaml: its tables, queues and secrets (ARNs of
  Secrets Manager, read on first use), LAMBDA_TASK_ROOT and an X-Ray trace header (so
  Powertools' tracer is on, as ``Tracing: Active`` has it);
- the handler module's import, then its first invocation with a typical request (the page a
  reminder's link opens, a signed webhook, a tick...), whose AWS calls a moto server answers:
  the clients' creation and botocore's loading of service models count, as they do on Lambda;
- ``import boto3`` in the same tree, in the same way, alternating with the function's starts.

The rest of this module (`measure`) imports a handler in this checkout's environment with and
without bytecode: `bench.sender` uses it for the sender's import in detail.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from local import provision, template

REGION = "eu-west-1"
LAYER_DIR = Path(__file__).resolve().parent.parent / "layers/optout/python"


@dataclass(frozen=True)
class Importable:
    """A module, the directories to put in front of the interpreter's path for it, and the
    function (logical id) whose execution environment it is imported in."""

    module: str
    path: tuple[Path, ...] = ()
    function: str = "SenderFunction"  # boto3 alone needs none, but runs where the sender does

    @property
    def cwd(self) -> Path:
        return template.functions()[self.function].code_dir


def handler(function: str) -> Importable:
    """A function's handler module, with the path Lambda gives it: /var/task (the function's
    code), then /opt/python (the layers), then the rest."""
    found = template.functions()[function]
    return Importable(found.handler.split(".")[0], (found.code_dir, LAYER_DIR), function)


BOTO3 = Importable("boto3")

# Run in a fresh interpreter: import a module with the given directories in front of the path;
# how long it took, whether importing it read the settings or made an AWS client, and the
# process's peak resident memory afterwards (Linux counts ru_maxrss in KiB).
_IMPORT = """\
import importlib, json, resource, sys, time
module, *paths = sys.argv[1:]
sys.path[:0] = paths
print("-- importing", module, file=sys.stderr, flush=True)  # what -X importtime logs next is ours
started = time.perf_counter()
importlib.import_module(module)
seconds = time.perf_counter() - started
settings, aws = sys.modules.get("optout.core.settings"), sys.modules.get("optout.core.aws")
print(json.dumps({
    "seconds": seconds,
    "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "settings_read": settings.get.cache_info().currsize if settings else 0,
    "clients_made": sum(  # optout.core.aws makes clients on demand and caches them
        made.cache_info().currsize for made in vars(aws).values() if hasattr(made, "cache_info")
    ) if aws else 0,
}))
"""


@dataclass(frozen=True)
class Imports:
    """Seconds to import boto3 alone, and the handler module, in fresh interpreters."""

    boto3: list[float]
    handler: list[float]
    by_package: Counter[str]  # the handler's import, microseconds by top-level package
    max_rss_kib: list[int]  # the handler's interpreters' peak resident memory

    @property
    def ratio(self) -> float:
        return statistics.median(self.handler) / statistics.median(self.boto3)


@dataclass(frozen=True)
class ColdStart:
    with_bytecode: Imports
    without_bytecode: Imports
    at_import: dict[str, int]  # settings read and clients made while importing the handler


def measure(function: str, repeat: int, by_package: bool = True) -> ColdStart:
    """Import `function`'s handler and boto3 in fresh interpreters, with bytecode and
    without it."""
    target = handler(function)
    first = run(target)  # also writes any bytecode missing, outside the measurement
    run(BOTO3)
    with_bytecode = imports(target, repeat, flags=[], by_package=by_package)
    with stdlib_bytecode_only([target, BOTO3]) as flags:
        without_bytecode = imports(target, repeat, flags, by_package=by_package)
    at_import = {key: int(first[key]) for key in ("settings_read", "clients_made")}
    return ColdStart(with_bytecode, without_bytecode, at_import)


def imports(target: Importable, repeat: int, flags: list[str], by_package: bool = True) -> Imports:
    """`repeat` imports of boto3 and `target`, alternating, so that a slow spell of the machine
    hits both."""
    boto3_seconds, handler_seconds, rss = [], [], []
    for _ in range(repeat):
        boto3_seconds.append(run(BOTO3, flags)["seconds"])
        measured = run(target, flags)
        handler_seconds.append(measured["seconds"])
        rss.append(int(measured["max_rss_kib"]))
    packages = import_time_by_package(target, flags) if by_package else Counter[str]()
    return Imports(boto3_seconds, handler_seconds, packages, rss)


def run(target: Importable, flags: Sequence[str] = ()) -> dict[str, float]:
    """One import of `target` in a fresh interpreter: what `_IMPORT` measured."""
    measured: dict[str, float] = json.loads(_run_import(target, flags).stdout)
    return measured


def _run_import(target: Importable, flags: Sequence[str]) -> subprocess.CompletedProcess[str]:
    # -P: nothing of the working directory on the path, as in Lambda, where it is the task root.
    command = [sys.executable, "-P", *flags, "-c", _IMPORT, target.module, *map(str, target.path)]
    completed = subprocess.run(  # noqa: S603 (our own interpreter and snippet)
        command,
        cwd=target.cwd,
        env=lambda_environment(target.function),
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        raise RuntimeError(f"importing {target.module} failed:\n{completed.stderr}")
    return completed


def lambda_environment(function: str) -> dict[str, str]:
    """The environment of `function`'s execution environment when it imports the handler:
    template.yaml's Globals without the names of tables and queues (importing must not need
    them), and the runtime's own variables. LAMBDA_TASK_ROOT is how Powertools knows that it
    runs in Lambda, and turns tracing on, as the template's ``Tracing: Active`` has it."""
    kept = {name: os.environ[name] for name in ("PATH", "LANG", "TZ") if name in os.environ}
    return {
        **kept,
        **template.environment({}, provision.LOCAL_PARAMETERS),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "LAMBDA_TASK_ROOT": str(template.functions()[function].code_dir),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def import_time_by_package(target: Importable, flags: list[str]) -> Counter[str]:
    """One import of `target` under ``-X importtime``: microseconds of each top-level
    package's own import work (the interpreter's instrumentation adds a little to each)."""
    return import_tree(_run_import(target, ["-X", "importtime", *flags]), target.module)


@contextmanager
def stdlib_bytecode_only(targets: Sequence[Importable]) -> Iterator[list[str]]:
    """Interpreter flags under which only the standard library has bytecode, as in Lambda with
    the layers `make build` makes: pip's --no-compile for the dependencies, no __pycache__ in
    the shared layer, and /opt read-only, so every cold start compiles both from source.

    Each target is imported once with a scratch bytecode directory (``pycache_prefix``), which
    fills it with the bytecode of every module they import; the standard library's part is
    kept. ``-B`` then stops the measured runs from adding to it.
    """
    with tempfile.TemporaryDirectory() as scratch:
        primed, kept = Path(scratch, "primed"), Path(scratch, "kept")
        for target in targets:
            _run_import(target, ["-X", f"pycache_prefix={primed}"])
        stdlib = Path(sysconfig.get_paths()["stdlib"])
        mirrored = stdlib.relative_to(stdlib.anchor)
        (kept / mirrored).parent.mkdir(parents=True)
        shutil.move(primed / mirrored, kept / mirrored)
        yield ["-B", "-X", f"pycache_prefix={kept}"]


# -- cold starts as Lambda has them: `python -m bench.coldstart` ------------------------------

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPEAT = 5
# A function API Gateway invokes may take at most this many times `import boto3` to start
# (import and first request), any other function this many (issue 14, "Cold starts").
HTTP_TARGET = 1.2
OTHER_TARGET = 1.5
# The least a function that reads a secret and DynamoDB on its first request can take: import
# boto3 and make the two clients LinksFunction's first request makes, without calling them.
FLOOR = "floor"
_FLOOR_HANDLER = """\
import boto3


def lambda_handler(event, context):
    boto3.client("secretsmanager")
    boto3.resource("dynamodb").Table("any")
    return {}
"""
# The same, as a handler of Powertools' REST event handler with its logger, metrics and tracer
# set up and applied as ours are: what any function written with them starts in, before any
# code of ours.
POWERTOOLS_FLOOR = "powertools-floor"
_POWERTOOLS_FLOOR_HANDLER = """\
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

logger, metrics, tracer = Logger(), Metrics(), Tracer(patch_modules=["botocore"])
app = APIGatewayRestResolver()


@app.get("/done/<token>")
def done_page(token):
    boto3.client("secretsmanager")
    boto3.resource("dynamodb").Table("any")
    return Response(200, "text/html", "<p>done</p>")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
"""
FLOORS = {FLOOR: _FLOOR_HANDLER, POWERTOOLS_FLOOR: _POWERTOOLS_FLOOR_HANDLER}
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# Run in a fresh interpreter, in a build's task directory: import the handler module, then
# (with an event file) invoke it once as Lambda does; both timed, each part on its own.
_COLD_START = """\
import importlib, json, sys, time
module, event_file, *paths = sys.argv[1:]
sys.path[:0] = paths
event = json.load(open(event_file, encoding="utf-8")) if event_file else None
print("-- importing", module, file=sys.stderr, flush=True)  # what -X importtime logs next is ours
started = time.perf_counter()
handler = importlib.import_module(module)
imported = time.perf_counter()
# The peak resident memory of this program (Linux's VmHWM), not ru_maxrss, which keeps that of
# the benchmark's own process, from which this one was forked, across exec.
with open("/proc/self/status", encoding="ascii") as status:
    rss_imported = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
outcome = ""
if event is not None:
    class Context:  # what Powertools reads of Lambda's context object
        function_name = "cold-start"
        function_version = "$LATEST"
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:cold-start"
        memory_limit_in_mb = 256
        aws_request_id = "c0ld5ta7-0000-4000-8000-000000000000"
        log_group_name = log_stream_name = "cold-start"
        def get_remaining_time_in_millis(self):
            return 60_000
    reply = handler.lambda_handler(event, Context())
    if isinstance(reply, dict) and "statusCode" in reply:
        outcome = str(reply["statusCode"])
    elif isinstance(reply, dict) and "batchItemFailures" in reply:
        outcome = f"{len(reply['batchItemFailures'])} failed"
    else:
        outcome = "ok"
finished = time.perf_counter()
print(json.dumps({
    "import_seconds": imported - started,
    "invoke_seconds": finished - imported,
    "max_rss_kib": rss_imported,
    "outcome": outcome,
}))
"""


@dataclass(frozen=True)
class Build:
    """What `sam build` makes, laid out as Lambda mounts it: a task directory per function
    (/var/task) and both layers merged in one directory (/opt/python)."""

    root: Path

    @property
    def opt(self) -> Path:
        return self.root / "opt" / "python"

    def task(self, function: str) -> Path:
        return self.root / "task" / function

    def versions(self, *names: str) -> str:
        """The versions of `names` in the dependencies layer, which pip picked afresh."""
        found = {
            dist.metadata["Name"].lower().replace("_", "-"): dist.version
            for dist in importlib.metadata.distributions(path=[str(self.opt)])
        }
        return ", ".join(f"{name} {found.get(name, '?')}" for name in names)


def build(directory: Path) -> Build:
    """The build's output in `directory`, made as the Makefile's build-* targets make it, for
    this machine's platform; no bytecode anywhere in it."""
    built = Build(directory)
    requirements = directory / "requirements.txt"
    with (ROOT / "pyproject.toml").open("rb") as handle:
        requirements.write_text("\n".join(tomllib.load(handle)["project"]["dependencies"]))
    installed = subprocess.run(  # noqa: S603 (our own interpreter's pip)
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("--no-compile", "--ignore-installed", "--target", str(built.opt)),
            *("-r", str(requirements)),
        ],
        capture_output=True,
        text=True,
    )
    if installed.returncode:
        raise RuntimeError(f"installing the dependencies layer failed:\n{installed.stderr}")
    shutil.copytree(
        LAYER_DIR / "optout", built.opt / "optout", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name, function in template.functions().items():
        built.task(name).mkdir(parents=True)
        for source in function.code_dir.glob("*.py"):
            shutil.copy(source, built.task(name))
    for floor, handler_text in FLOORS.items():
        built.task(floor).mkdir(parents=True)
        (built.task(floor) / "floor.py").write_text(handler_text, encoding="utf-8")
    return built


def handler_module(function: str) -> str:
    if function in FLOORS:
        return "floor"
    return template.functions()[function].handler.split(".")[0]


@dataclass(frozen=True)
class Start:
    """One cold start, timed inside the interpreter (its own start left out)."""

    import_seconds: float
    invoke_seconds: float
    max_rss_kib: int  # after the import
    outcome: str  # the first answer: an HTTP status, an SQS batch's failures, "ok"

    @property
    def seconds(self) -> float:
        return self.import_seconds + self.invoke_seconds


def start(
    built: Build,
    function: str | None,
    environment: dict[str, str],
    event: dict[str, Any] | None = None,
    flags: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Start `function` (None: only ``import boto3``; one of `FLOORS`: a handler of no function)
    in a fresh interpreter on `built`."""
    task = built.task(function or "SenderFunction")
    module = handler_module(function) if function else "boto3"
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as event_file:
        if event is not None:
            json.dump(event, event_file)
            event_file.flush()
        # -I -S: only the build and the standard library on the path; -B: no bytecode written.
        command = [sys.executable, "-I", "-S", "-B", *flags, "-c", _COLD_START, module]
        command += [event_file.name if event is not None else "", str(task), str(built.opt)]
        completed = subprocess.run(  # noqa: S603 (our own interpreter and snippet)
            command, cwd=task, env=environment, capture_output=True, text=True
        )
    if completed.returncode:
        raise RuntimeError(f"starting {module} failed:\n{completed.stderr[-4000:]}")
    return completed


def timed(completed: subprocess.CompletedProcess[str]) -> Start:
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    return Start(
        figures["import_seconds"],
        figures["invoke_seconds"],
        int(figures["max_rss_kib"]),
        figures["outcome"],
    )


def import_tree(completed: subprocess.CompletedProcess[str], module: str) -> Counter[str]:
    """Microseconds of each top-level package's own import work, from ``-X importtime``'s
    lines of our import (the handler's, and what its first invocation imported)."""
    ours = completed.stderr.partition(f"-- importing {module}\n")[2]
    microseconds: Counter[str] = Counter()
    for line in ours.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            microseconds[fields[2].strip().split(".")[0]] += int(fields[0])
    return microseconds


@dataclass(frozen=True)
class FirstRequest:
    """What a function's first invocation is asked, made afresh for each start (a webhook's
    signature and id, a new contact) from the sample events of events/."""

    label: str
    event: Callable[[int], dict[str, Any] | None]


# A function whose first request this module cannot make (a send batch: its first claim would
# make every later start's batch a duplicate, which is not the same work): its import alone.
IMPORT_ONLY = FirstRequest("(the import alone)", lambda _: None)


@dataclass(frozen=True)
class World:
    """A moto server holding the template's resources, a campaign and subscribers, and what
    each function is asked first."""

    environment: Callable[[str], dict[str, str]]  # a function's environment
    requests: dict[str, FirstRequest]


@contextmanager
def world() -> Iterator[World]:
    """moto in this process (as `make run` has it) with the LinkedIn campaign, planned now for
    deadlines a month ahead, and the demo subscribers; secrets in its Secrets Manager."""
    from bench.fanout import PAYLOAD
    from bench.stack import fresh_stack, moto_endpoint
    from local import demo, iam, invoke
    from optout import store
    from optout.campaigns import policy_changes
    from optout.core import keys, signatures, tokens
    from optout.core.clock import iso
    from optout.domain import policy
    from optout.store import CampaignStore
    from optout.subscribers import subscriptions

    now = datetime.now(UTC)
    with moto_endpoint() as endpoint:
        settings = fresh_stack(endpoint, prefix="coldstart")
        iam.stand_down()  # this process seeds as an administrator would
        # The secrets `fresh_stack` made in moto's Secrets Manager, which the functions read.
        webhook_key, admin_token = keys.webhook_keys(settings)[0], keys.admin_tokens(settings)[0]
        arns = {name: os.environ[name] for name in _SECRET_ARN_VARIABLES}
        subscriber = demo.seed(settings, now)[0]  # lena, in Germany, reads German
        change = json.loads(PAYLOAD.read_text(encoding="utf-8"))
        for region in change["regions"]:  # the deadlines a month from now
            region["effective_at"] = iso(now + timedelta(days=30))
        body = json.dumps(change).encode()
        base_url = f"{endpoint}/coldstart"
        campaign = policy_changes.apply(settings, policy.parse(body), base_url=base_url, now=now)
        campaign_id = change["policy"]["id"]
        reminder = min(CampaignStore(settings).reminders(campaign_id), key=lambda r: r.reminder_id)
        # Started as the scheduler starts it, so that the fan-out has a shard to page.
        CampaignStore(settings).start_fanout(reminder, store.AUDIENCE_SHARDS, now)
        keyring = keys.token_keyring(settings)
        done = tokens.mint(
            keyring,
            tokens.Purpose.DONE,
            [campaign_id, "EU", subscriber.subscriber_id],
            now + tokens.LIFETIMES[tokens.Purpose.DONE],
        )
        confirm = subscriptions.confirmation_token(settings, subscriber.subscriber_id, now)
        del campaign

        def api(method: str, path: str, body: bytes = b"", **headers: str) -> dict[str, Any]:
            found = invoke.find_route(method, path)
            assert found is not None, f"template.yaml has no route for {method} {path}"
            route, parameters = found
            return invoke.api_event(
                method,
                path,
                route=route,
                path_parameters=parameters,
                headers={"Accept": "text/html", **headers},
                body=body,
            )

        def signed_webhook(run: int) -> dict[str, Any]:
            webhook_id, sent_at = f"msg_coldstart_{run}_{secrets.token_hex(4)}", int(time.time())
            return api(
                "POST",
                "/webhooks/policy-change",
                body,
                **{
                    "Content-Type": "application/json",
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(sent_at),
                    "webhook-signature": signatures.sign(webhook_key, webhook_id, sent_at, body),
                },
            )

        def sqs(name: str, job: dict[str, Any]) -> dict[str, Any]:
            event = _sample(name)
            event["Records"][0]["body"] = json.dumps(job)
            return event

        def subscribe_job(run: int) -> dict[str, Any]:
            return sqs(
                "notice-confirm",
                {
                    "kind": "subscribe",
                    "channel": "email",
                    "contact": f"cold.start.{run}.{secrets.token_hex(4)}@example.org",
                    "region": "DE",
                    "locale": "de",
                    "timezone": "Europe/Berlin",
                    "platforms": ["linkedin"],
                    "source": "web-form",
                    "requested_at": iso(datetime.now(UTC)),
                    "base_url": base_url,
                },
            )

        fanout_job = {
            "campaign_id": campaign_id,
            "group": "EU",
            "reminder": reminder.reminder_id,
        }
        requests = {
            "SubscriptionsFunction": FirstRequest(
                "GET /confirm/{token}, in German", lambda _: api("GET", f"/confirm/{confirm}")
            ),
            "LinksFunction": FirstRequest(
                "GET /done/{token}, in German", lambda _: api("GET", f"/done/{done}")
            ),
            "AdminFunction": FirstRequest(
                "GET /admin/campaigns (JSON)",
                lambda _: api(
                    "GET",
                    "/admin/campaigns",
                    Accept="application/json",
                    Authorization=f"Bearer {admin_token}",
                ),
            ),
            "WebhooksFunction": FirstRequest(
                "POST /webhooks/policy-change, signed (re-plans the campaign)", signed_webhook
            ),
            # SNS's signing certificate comes from SNS's own host over https, which this
            # machine cannot reach: the message names a topic the function does not accept,
            # which it refuses (403) before fetching anything.
            "FeedbackHttpFunction": FirstRequest(
                "POST /feedback/sns, a topic not accepted (403)",
                lambda _: _sample("feedback-http-ses-bounce"),
            ),
            "ApiDescriptionFunction": FirstRequest(
                "GET /openapi.json", lambda _: api("GET", "/openapi.json")
            ),
            "NotifierFunction": FirstRequest(
                "SQS: a subscribe request (records it, sends the confirmation)", subscribe_job
            ),
            "FeedbackFunction": FirstRequest(
                "SNS: an SES bounce", lambda _: _sample("feedback-ses-bounce")
            ),
            "SchedulerFunction": FirstRequest(
                "EventBridge tick (nothing due)", lambda _: _sample("scheduler-tick")
            ),
            FLOOR: FirstRequest(
                "import boto3, a Secrets Manager client and a DynamoDB resource (no call)",
                lambda _: {},
            ),
            POWERTOOLS_FLOOR: FirstRequest(
                "GET /done/{token}: the same two clients, a fixed page",
                lambda _: api("GET", f"/done/{done}"),
            ),
            "FanoutFunction": FirstRequest(
                "SQS: one shard of the first reminder",
                lambda run: sqs("fanout-job", {**fanout_job, "shard": run % store.AUDIENCE_SHARDS}),
            ),
        }
        base = {
            **{name: os.environ[name] for name in ("PATH", "LANG", "TZ") if name in os.environ},
            **{
                name: value
                for name, value in os.environ.items()
                if name in _GLOBAL_VARIABLES and not name.startswith("OPTOUT_")
            },
            **{name: arn for name, arn in arns.items() if name != "ADMIN_TOKEN_ARN"},
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "ASIACOLDSTARTEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "cold-start-secret",
            "AWS_SESSION_TOKEN": "cold-start-session",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "_X_AMZN_TRACE_ID": TRACE_HEADER,
        }

        def environment(function: str) -> dict[str, str]:
            own = (
                {"ADMIN_TOKEN_ARN": arns["ADMIN_TOKEN_ARN"]} if function == "AdminFunction" else {}
            )
            return {
                **base,
                **own,
                "AWS_LAMBDA_FUNCTION_NAME": function,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size(function)),
                "LAMBDA_TASK_ROOT": "/var/task",
            }

        yield World(environment, requests)


_GLOBAL_VARIABLES = set(template.load()["Globals"]["Function"]["Environment"]["Variables"])
_SECRET_ARN_VARIABLES = (
    "TOKEN_SECRET_ARN",
    "CONTACT_SECRET_ARN",
    "WEBHOOK_SECRET_ARN",
    "ADMIN_TOKEN_ARN",
)


def _sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text("utf-8"))
    return event


def memory_size(function: str) -> int:
    declared = template.resources("AWS::Serverless::Function")[function]
    return int(declared.get("MemorySize", template.load()["Globals"]["Function"]["MemorySize"]))


def is_http(function: str) -> bool:
    """Whether API Gateway invokes `function` (an Api or HttpApi event)."""
    if function in FLOORS:
        return False
    events = template.functions()[function].events.values()
    return any(event["Type"] in ("Api", "HttpApi") for event in events)


@dataclass(frozen=True)
class Measured:
    function: str
    request: str
    starts: list[Start]
    boto3: list[float]  # `import boto3`, alternating with this function's starts

    @property
    def median_ms(self) -> float:
        return statistics.median(start.seconds for start in self.starts) * 1000

    @property
    def import_ms(self) -> float:
        return statistics.median(start.import_seconds for start in self.starts) * 1000

    @property
    def invoke_ms(self) -> float:
        return statistics.median(start.invoke_seconds for start in self.starts) * 1000

    @property
    def boto3_ms(self) -> float:
        return statistics.median(self.boto3) * 1000

    @property
    def target(self) -> float:
        return HTTP_TARGET if is_http(self.function) else OTHER_TARGET

    # Each start is divided by the `import boto3` made just before it, and the ratios' median
    # taken: a shared machine's speed drifts over a run by more than the differences measured,
    # and the pair shares the moment.
    @property
    def ratio(self) -> float:
        """The cold start (import and first request) over `import boto3`."""
        return statistics.median(
            s.seconds / b for s, b in zip(self.starts, self.boto3, strict=True)
        )

    @property
    def import_ratio(self) -> float:
        """The handler's import over `import boto3`: what the issue's target is set on."""
        return statistics.median(
            s.import_seconds / b for s, b in zip(self.starts, self.boto3, strict=True)
        )

    @property
    def met(self) -> bool:
        return self.import_ratio <= self.target

    @property
    def max_rss_mib(self) -> float:
        return max(start.max_rss_kib for start in self.starts) / 1024

    def figures(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "request": self.request,
            "http": is_http(self.function),
            "median_ms": self.median_ms,
            "import_ms": self.import_ms,
            "invoke_ms": self.invoke_ms,
            "boto3_ms": self.boto3_ms,
            "ratio": self.ratio,
            "import_ratio": self.import_ratio,
            "target": self.target,
            "max_rss_mib": self.max_rss_mib,
            "outcomes": sorted({start.outcome for start in self.starts}),
        }


def cold_starts(
    repeat: int, functions: Sequence[str] | None = None, progress: Callable[[str], None] = print
) -> tuple[list[Measured], dict[str, Counter[str]], str]:
    """`repeat` cold starts of each function (all of template.yaml's by default), each beside
    an ``import boto3``, on a fresh build, then of each floor; one start of each under
    ``-X importtime``; and the versions of the main packages of the build's dependencies."""
    chosen = [*(functions or template.functions()), *FLOORS]
    measured, trees = [], {}
    with tempfile.TemporaryDirectory() as scratch, world() as place:
        progress("building the functions and layers as sam build does (pip --no-compile)")
        built = build(Path(scratch))
        for function in chosen:
            request = place.requests.get(function, IMPORT_ONLY)
            environment = place.environment("LinksFunction" if function in FLOORS else function)
            progress(f"{function}: {repeat} cold starts, {request.label}")
            starts, boto3_seconds = [], []
            for run in range(repeat):
                boto3_seconds.append(timed(start(built, None, environment)).import_seconds)
                starts.append(timed(start(built, function, environment, request.event(run))))
            measured.append(Measured(function, request.label, starts, boto3_seconds))
            traced = start(
                built, function, environment, request.event(repeat), ["-X", "importtime"]
            )
            trees[function] = import_tree(traced, handler_module(function))
        traced = start(built, None, place.environment(chosen[0]), None, ["-X", "importtime"])
        trees["boto3"] = import_tree(traced, "boto3")
        layer = built.versions("boto3", "botocore", "aws-lambda-powertools", "jinja2", "babel")
    return measured, trees, layer


_WATCHED = (
    "aws_xray_sdk",
    "jinja2",
    "babel",
    "jsonschema",
    "cryptography",
    "requests",
    "phonenumbers",
)


_FLOOR_NAMES = {FLOOR: "*floor* (no function)", POWERTOOLS_FLOOR: "*Powertools floor*"}


def _row(item: Measured) -> list[str]:
    floor = item.function in FLOORS
    return [
        _FLOOR_NAMES[item.function]
        if floor
        else item.function + ("" if is_http(item.function) else " (not HTTP)"),
        item.request,
        f"{item.import_ms:,.0f}",
        f"{item.invoke_ms:,.0f}",
        f"{item.median_ms:,.0f}",
        f"{item.boto3_ms:,.0f}",
        f"{item.import_ratio:.2f}",
        "" if floor else f"{item.target:.1f}",
        "" if floor else "yes" if item.met else "**no**",
        f"{item.ratio:.2f}",
    ]


def render(
    measured: list[Measured],
    trees: dict[str, Counter[str]],
    layer: str,
    minutes: float,
    command: str,
) -> str:
    from bench import report

    repeat = len(measured[0].starts)
    rows = [_row(item) for item in measured]
    header = [
        "function",
        "first request",
        "import ms",
        "first invocation ms",
        "cold start ms",
        "`import boto3` ms",
        "import ratio",
        "target ≤",
        "met",
        "cold start ratio",
    ]
    packages = ["boto3", *(item.function for item in measured)]
    totals = sum((trees[name] for name in packages), Counter())
    # The heaviest, and the packages this project defers or keeps to the functions that use them.
    shown = sorted(
        {name for name, _ in totals.most_common(8)} | set(_WATCHED) & set(totals),
        key=lambda name: -totals[name],
    )
    where = [
        [
            name,
            *(f"{trees[name][package] / 1000:,.0f}" for package in shown),
            f"{sum(trees[name].values()) / 1000:,.0f}",
        ]
        for name in packages
    ]
    return "\n\n".join(
        [
            f"`{command}` on {date.today().isoformat()}; {report.machine()}; the dependencies "
            f"layer as pip built it: {layer}. {repeat} cold starts of each function, each beside "
            f"an `import boto3`, the medians; the whole run took {minutes:.1f} min.",
            report.table(header, rows),
            "How it is measured (`bench/coldstart.py`): the functions and layers as `sam build` "
            "makes them (the function's `*.py`; the shared layer without `__pycache__`; the "
            "dependencies layer from pyproject.toml with `pip --target --no-compile`, for this "
            "machine's platform), so that only the standard library has bytecode and every "
            "start compiles the layers from source, as Lambda does from a read-only /opt. Each "
            "start is a fresh interpreter (`-I -S -B`: nothing of the virtual environment on "
            "the path) with the function's environment from template.yaml (its tables, queues, "
            "Secrets Manager ARNs, LAMBDA_TASK_ROOT and an X-Ray trace header, so Powertools' "
            "tracer is on); *import* is the handler module's import, *first invocation* the "
            "handler's answer to the request shown, whose AWS calls a moto server answers (so "
            "the clients' creation, botocore's loading of service models, the secrets' reads "
            "and the first page's templates and translations count). *Cold start* is their "
            "sum, timed inside the interpreter (its own start, the same for both, left out). "
            "The *import ratio* is the median, over the starts, of each import divided by "
            "that of an `import boto3` started in the same way just before it (a pair shares "
            "the moment: these shared machines' speed drifts within a run), and is what the "
            "targets are set on (issue 14: each function's "
            f"import at most {HTTP_TARGET} times `import boto3` for a function API Gateway "
            f"invokes, {OTHER_TARGET} for the others); the *cold start ratio* does the same "
            "with the whole cold start. The *floor* is no function's: a handler that only imports boto3 "
            "and makes the clients of LinksFunction's first request (Secrets Manager, and "
            "DynamoDB as a resource) without calling them; any function whose first request "
            "reads a secret and a table starts in at least that time, before any code of ours "
            "or of Powertools. The *Powertools floor* is the same handler written with "
            "Powertools as ours are (its REST event handler with one route, its logger, "
            "metrics and tracer set up and applied as in `optout.core.observability`), answering "
            "LinksFunction's request with a fixed page: what an HTTP function of this stack "
            "starts in before any code of ours.",
            "Where the time goes, from one more start of each under `-X importtime` (each "
            "package's own import time in ms, what it imports left out; the instrumentation "
            "adds a little to each):",
            report.table(["import of", *shown, "all"], where),
            *_shortfall(measured, trees),
        ]
    )


def _shortfall(measured: list[Measured], trees: dict[str, Counter[str]]) -> list[str]:
    """Why targets are missed, in this run's figures: what no handler of ours can avoid."""
    missed = [item for item in measured if item.function not in FLOORS and not item.met]
    floor = next((item for item in measured if item.function == FLOOR), None)
    powertools_floor = next((item for item in measured if item.function == POWERTOOLS_FLOOR), None)
    if not missed or floor is None or powertools_floor is None:
        return []
    powertools = statistics.median(
        trees[item.function]["aws_lambda_powertools"] / 1000 for item in missed
    )
    return [
        "Missed, by the ratio over its target: "
        f"{', '.join(f'{item.function} {item.import_ratio / item.target:.2f}' for item in missed)}. "
        f"What no handler can leave out: the floor, {floor.median_ms:,.0f} ms "
        f"({floor.ratio:.2f} times `import boto3`: botocore parses its 1.25 MB endpoints.json "
        "and each service's model when the first client is made), and Powertools' own import "
        f"(a median of {powertools:,.0f} ms of own import time where a target is missed: its "
        "event handler imports every event source's data class, its logger jmespath, and the "
        "tracer the X-Ray SDK), before the first request's own work: a page's Jinja2 (and "
        "Babel where it formats dates), its templates and its language's catalogue, the "
        "DynamoDB calls. "
        f"The Powertools floor's import alone is {powertools_floor.import_ratio:.2f} times "
        f"`import boto3`: above the HTTP target of {HTTP_TARGET} before a line of ours."
    ]


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from bench import report

    parser = argparse.ArgumentParser(
        prog="python -m bench.coldstart",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    parser.add_argument(
        "--functions",
        default="",
        help="comma-separated logical ids (default: every function; BENCHMARKS.md is written "
        "only then)",
    )
    report.add_results_option(parser)
    options = parser.parse_args(argv)
    functions = [name for name in options.functions.split(",") if name]
    started = time.perf_counter()
    measured, trees, layer = cold_starts(
        options.repeat, functions, lambda line: print(line, file=sys.stderr, flush=True)
    )
    body = render(
        measured,
        trees,
        layer,
        (time.perf_counter() - started) / 60,
        report.command("bench.coldstart", argv),
    )
    print(body)
    if not functions:
        report.write_section("Cold starts", body)
    functions_measured = [item.figures() for item in measured if item.function not in FLOORS]
    floors = {item.function: item.figures() for item in measured if item.function in FLOORS}
    report.save(
        options.results,
        "coldstart",
        {
            "functions": functions_measured,
            "floor": floors[FLOOR],
            "powertools_floor": floors[POWERTOOLS_FLOOR],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
