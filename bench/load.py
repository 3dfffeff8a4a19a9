"""`python -m bench.load`: a whole campaign on the local stack, under concurrent traffic.

The local stack runs in a process of its own (`bench.load_stack`: `python -m local --no-demo`,
driven only by the clock and POST /_local/tick, with N active subscribers across the EU, the
EEA, Switzerland, Canada and Hong Kong seeded into moto's DynamoDB, by email and some by text,
in eleven languages; a few follow only Meta, a few live in the UK, and the campaign reaches
neither). This process posts the LinkedIn campaign through the signed webhook route, reads its
plan through the admin API, and plays the stack's clock hour by hour through the day after each
reminder comes due, ticking at every hour, while a second process sends subscribe requests
(POST /subscribe) and clicks (GET /r/..., POST /done/... with links read from the outbox) at a
bounded rate.

The campaign is shared by two organisations of a coalition (issue 18): North runs it, South
joined it, and the seeded people are members of North only, of South only, or of both (some
joined North first, some South), each person's reminders coming from the one they joined
first; beside them a tenth as many outsiders, who live where the campaign goes and follow
LinkedIn but belong to neither (the deployment's own list, or West, which did not join), and
must get nothing.

It reports messages a second (reminders sent / wall-clock time of the ticks that sent them),
HTTP answers by status (5xx: none allowed; 429s from the subscribe rate limit are expected),
duplicates (a subscriber given one reminder twice), lost reminders (a subscriber the campaign
reaches, who never said "I've switched it off", missing one of their region's reminders; a text
deferred to the morning counts when it arrives), the messages each organisation sent (an
email whose From is not the organisation the person is attributed to is counted misattributed),
and per function: invocations, time, API calls and the peak memory an invocation allocated. It
exits 1 if anything is duplicated, lost, misattributed or sent to an outsider.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import json
import multiprocessing
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from time import perf_counter
from typing import Any

import requests

from bench import report
from local import template
from optout.core import keys, signatures
from optout.core.clock import iso, parse_iso
from optout.core.settings import Settings
from optout.domain import contacts, regions
from optout.domain.models import Consent, Membership, MembershipStatus, Status, Subscriber
from optout.domain.organisations import Organisation

DEFAULT_SUBSCRIBERS = 100_000  # about 2 hours against moto on 2 shared cores (README)
CI_SUBSCRIBERS = 2_000  # --ci: a run of a few minutes
ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = ROOT / "events/payloads/policy-changed.linkedin.json"
CAMPAIGN_ID = "linkedin-genai-2025"
# A week before the first reminder, as in the demo: the whole timeline lies ahead.
CLOCK_START = datetime(2025, 10, 13, 8, 0, tzinfo=UTC)
STEP = timedelta(hours=1)
AFTER_DUE = timedelta(hours=24)  # texts deferred to the morning go out within a day
SEEDED_AT = "2025-10-01T00:00:00Z"
CONSENT = Consent(requested_at=SEEDED_AT, form_version="bench", source="bench")
REACHED_GROUPS = frozenset({"EU", "EEA", "CH", "CA", "HK"})  # the campaign's regions

# country, language, time zone when not the country's own. Nineteen places, prime to the
# one-in-twenty Meta-only and one-in-ten texts, so that every place has every kind.
PLACES = (
    ("DE", "de", None),
    ("AT", "de", None),
    ("FR", "fr", None),
    ("NL", "nl", None),
    ("IT", "it", None),
    ("ES", "es", None),
    ("PL", "pl", None),
    ("PT", "pt", None),
    ("SE", "sv", None),
    ("EU", "en", None),
    ("NO", "en", None),  # EEA
    ("CH", "de", None),
    ("CH", "fr", None),
    ("CA", "en", None),
    ("CA", "fr-CA", None),
    ("CA", "en", "America/Vancouver"),  # 09:00 in Toronto is 06:00 here: texts wait for 08:00
    ("HK", "zh-HK", None),
    ("HK", "en", None),
    ("GB", "en", None),  # the UK: not in the campaign
)
# Fictional-range numbers that pass the layer's validation, one per texting subscriber.
PHONES = {
    "DE": "+49151{:08d}",
    "FR": "+336{:08d}",
    "CH": "+4179{:07d}",
    "CA": "+1416{:07d}",
    "HK": "+8525123{:04d}",
}
PHONE_OFFSET = {"CA": 2_000_000}  # Canadian exchange codes start at 2

# The coalition: North runs the campaign, South joined it, West did not.
ORGANISATIONS = (
    Organisation("north", "North Network", "reminders@north.example", "2 North Road, Oslo"),
    Organisation("south", "South Alliance", "reminders@south.example", "9 Via Sud, Napoli"),
    Organisation("west", "West Collective", "reminders@west.example", "5 West Street, Dublin"),
)
RUNS, JOINED = "north", ("south",)
# The organisations a seeded person joined, first joined first, by their number: North only,
# South only, or both (in either order).
MEMBERSHIPS = (
    ("north",),
    ("north",),
    ("south",),
    ("south",),
    ("north", "south"),
    ("south", "north"),
)
JOINED_AT = ("2025-09-01T00:00:00Z", "2025-09-15T00:00:00Z")  # first, second
OUTSIDERS_SHARE = 10  # one outsider for every ten seeded members
# where outsiders live: places the campaign reaches, by email
OUTSIDER_PLACES = tuple(place for place in PLACES if place[0] not in ("GB",))

DEFAULT_TRAFFIC_RATE = 4.0  # requests a second from the second process
DEFAULT_TRAFFIC_SECONDS = 600.0  # at most this long
TRAFFIC_WORKERS = 8  # requests in flight at once
DONE_SHARE = 0.01  # of reminder recipients, at most, say "I've switched it off"
TICK_TIMEOUT_SECONDS = 3_600.0  # one tick (a send phase) may take this long, no more
SEED_TIMEOUT_SECONDS = 3_600.0


@dataclass(frozen=True)
class Person:
    """A seeded subscriber, as this process knows them (their id needs the stack's secret)."""

    contact: str
    channel: str
    region: str
    group: str
    locale: str
    timezone: str
    platforms: tuple[str, ...]
    organisations: tuple[str, ...] = ()  # joined, first joined first; none: the default's

    @property
    def reached(self) -> bool:
        return (
            "linkedin" in self.platforms
            and self.group in REACHED_GROUPS
            and self.attributed is not None
        )

    @property
    def attributed(self) -> str | None:
        """The organisation the campaign's messages to them come from: of those running it,
        the one they joined first."""
        return next((org for org in self.organisations if org in (RUNS, *JOINED)), None)

    @property
    def outsider(self) -> bool:
        return self.contact.startswith("load-outsider-")


def people(size: int) -> list[Person]:
    """The seeded subscribers, the same in every process for the same size: `size` members of
    North, South or both, then the outsiders (`OUTSIDERS_SHARE`)."""
    members = [_person(number) for number in range(size)]
    return members + [_outsider(number) for number in range(size // OUTSIDERS_SHARE)]


def _outsider(number: int) -> Person:
    """Someone the campaign's regions and platform would reach, of neither of its
    organisations: the deployment's own list (even numbers) or West's (odd)."""
    country, locale, zone = OUTSIDER_PLACES[number % len(OUTSIDER_PLACES)]
    place = regions.resolve(country)
    return Person(
        contact=f"load-outsider-{number:06d}@example.org",
        channel="email",
        region=place.code,
        group=place.group,
        locale=locale,
        timezone=zone or regions.default_timezone(place),
        platforms=("linkedin",),
        organisations=("west",) if number % 2 else (),
    )


def _person(number: int) -> Person:
    country, locale, zone = PLACES[number % len(PLACES)]
    place = regions.resolve(country)
    platforms = ("meta",) if number % 20 == 0 else ("linkedin",)
    contact, channel = f"load-{number:06d}@example.org", "email"
    if number % 10 == 3 and country in PHONES:
        raw = PHONES[country].format(PHONE_OFFSET.get(country, 0) + number // 10)
        contact, channel = contacts.parse(raw, country=country).address, "sms"
    return Person(
        contact=contact,
        channel=channel,
        region=place.code,
        group=place.group,
        locale=locale,
        timezone=zone or regions.default_timezone(place),
        platforms=platforms,
        organisations=MEMBERSHIPS[number % len(MEMBERSHIPS)],
    )


def population(settings: Settings, size: int) -> list[Subscriber]:
    """The seeded subscribers as the layer stores them (in the stack's process)."""
    return [
        Subscriber(
            subscriber_id=keys.contact_id(settings, person.channel, person.contact),
            channel=person.channel,
            contact=person.contact,
            region=person.region,
            home_group=person.group,
            locale=person.locale,
            timezone=person.timezone,
            platforms=person.platforms,
            status=Status.ACTIVE,
            consent=CONSENT,
            created_at=SEEDED_AT,
            confirmed_at=SEEDED_AT,
            memberships=tuple(
                Membership(org, MembershipStatus.ACTIVE, requested_at=at, joined_at=at)
                for org, at in zip(person.organisations, JOINED_AT, strict=False)
            ),
        )
        for person in people(size)
    ]


# -- the stack's process --------------------------------------------------------------------


class Stack:
    """`bench.load_stack` in a subprocess; its URL once it serves."""

    def __init__(self, subscribers: int, results: Path, secrets_env: dict[str, str]) -> None:
        self.results = results
        for left_over in ("ready.json", "stack.json", "traffic.json"):  # of an earlier run
            (results / left_over).unlink(missing_ok=True)
        self._log = (results / "stack.log").open("w", encoding="utf-8")
        command = [sys.executable, "-m", "bench.load_stack", "--subscribers", str(subscribers)]
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [*command, "--port", "0", "--results", str(results)],
            cwd=ROOT,
            env={**os.environ, **_powertools_environment(), **secrets_env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = self._wait_ready()

    def _wait_ready(self) -> str:
        ready = self.results / "ready.json"
        deadline = time.monotonic() + SEED_TIMEOUT_SECONDS
        while not ready.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack stopped; see {self.results / 'stack.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError("the stack was not seeded and serving in time")
            time.sleep(0.5)
        return str(json.loads(ready.read_text(encoding="utf-8"))["url"])

    def stop(self) -> dict[str, Any]:
        """SIGTERM it (by its own pid); what it measured."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=600)
        self._log.close()
        measured: dict[str, Any] = json.loads(
            (self.results / "stack.json").read_text(encoding="utf-8")
        )
        return measured


def _powertools_environment() -> dict[str, str]:
    """template.yaml's Powertools settings, which Powertools reads when the layer is first
    imported, before the stack's process provisions anything: in Lambda, the runtime sets them
    before any code loads. WARNING: at INFO, handlers log a line or more for every batch."""
    variables = template.load()["Globals"]["Function"]["Environment"]["Variables"]
    plain = {name: value for name, value in variables.items() if isinstance(value, str)}
    return {**plain, "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_TRACE_DISABLED": "1"}


# -- the second process: subscribe and click traffic ---------------------------------------


def traffic(url: str, stop: Any, rate: float, seconds: float, results: str) -> None:
    """Until `stop` is set or `seconds` pass: subscribe requests and clicks, `rate` a second,
    up to `TRAFFIC_WORKERS` at once, with links read from the outbox. Writes what it saw to
    `results`/traffic.json."""
    session = requests.Session()
    answers: Counter[str] = Counter()
    latencies: dict[str, list[float]] = defaultdict(list)
    done: list[dict[str, str]] = []
    clicks: list[str] = []  # paths of tracked links in reminders
    dones: list[tuple[str, str]] = []  # (recipient, path) of "I've switched it off" links
    seen = offered = 0
    lock = threading.Lock()
    chooser = random.Random(7)  # noqa: S311 (which link to click, not a secret)

    def request(kind: str, method: str, path: str, **arguments: Any) -> None:
        started = perf_counter()
        try:
            answer = session.request(
                method, url + path, timeout=TICK_TIMEOUT_SECONDS, allow_redirects=False, **arguments
            )
            status = str(answer.status_code)
        except requests.RequestException as error:
            status = type(error).__name__
        with lock:
            answers[f"{kind} {status}"] += 1
            latencies[kind].append(perf_counter() - started)

    def subscribe(number: int) -> None:
        country, locale, _ = PLACES[number % len(PLACES)]
        body = {
            "contact": f"traffic-{number:06d}@example.org",
            "region": country,
            "locale": locale,
            "platforms": ["linkedin"],
        }
        request("subscribe", "POST", "/subscribe", json=body)

    def say_done(to: str, path: str) -> None:
        request("done", "POST", path)
        now = session.get(url + "/_local/clock", timeout=TICK_TIMEOUT_SECONDS).json()["now"]
        with lock:
            done.append({"to": to, "after": now})

    started = time.monotonic()
    number = 0
    slots = threading.Semaphore(TRAFFIC_WORKERS)
    with ThreadPoolExecutor(TRAFFIC_WORKERS) as pool:
        while not stop.is_set() and time.monotonic() - started < seconds:
            if number % 20 == 0:  # new reminders to click, now and then
                fresh = session.get(
                    f"{url}/_local/bench/sent", params={"since": seen}, timeout=TICK_TIMEOUT_SECONDS
                ).json()["sent"]
                seen += len(fresh)
                for message in fresh:
                    clicks += [path for path in message["links"] if path.startswith("/r/")]
                    dones += [
                        (message["to"], path)
                        for path in message["links"]
                        if path.startswith("/done/")
                    ]
                    offered += 1
            slots.acquire()
            kind = number % 3
            if kind == 1 and clicks:
                job: Any = (request, "click", "GET", chooser.choice(clicks))
            elif kind == 2 and dones and len(done) < DONE_SHARE * offered:
                job = (say_done, *dones.pop(chooser.randrange(len(dones))))
            else:
                job = (subscribe, number)
            future = pool.submit(*job)
            future.add_done_callback(lambda _: slots.release())
            number += 1
            time.sleep(1 / rate)
    figures = {
        "answers": dict(answers),
        "latency": {kind: sorted(values) for kind, values in latencies.items()},
        "done": done,
        "seconds": time.monotonic() - started,
    }
    Path(results, "traffic.json").write_text(json.dumps(figures), encoding="utf-8")


# -- the timeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    at: datetime  # the stack's clock
    seconds: float
    sent: int  # messages the outbox gained


def post_campaign(session: requests.Session, url: str, webhook_secret: str) -> None:
    """The LinkedIn policy change, signed as a policy monitor signs it, through the route."""
    body = PAYLOAD.read_bytes()
    key = signatures.parse_secrets(webhook_secret)[0]
    webhook_id, sent_at = "msg_load_linkedin_genai_2025", int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(sent_at),
        "webhook-signature": signatures.sign(key, webhook_id, sent_at, body),
    }
    answer = session.post(f"{url}/webhooks/policy-change", data=body, headers=headers, timeout=60)
    answer.raise_for_status()


# The campaign's "one week left" is an A/B test, as organisers would run one: a fifth of each
# region's audience gets one of two subjects when it is due, the rest the winner four hours later
# (`optout.domain.ab`). Everyone still gets it once: the run counts it as any reminder.
AB_TEST: dict[str, Any] = {
    "days_before": 7,
    "share": 0.2,
    "wait_hours": 4,
    "variants": [
        {"name": "A", "subject": {"en": "One week left: {{ title }}"}},
        {"name": "B", "subject": {"en": "{{ time_left }} left to say no to AI training"}},
    ],
}
AB_WAIT = timedelta(hours=4)


def share_campaign(session: requests.Session, url: str) -> None:
    """Make the campaign North's, joined by South (the stack's bench route: the organisers'
    routes for it are not the load run's subject)."""
    answer = session.post(
        f"{url}/_local/bench/share",
        json={"campaign_id": CAMPAIGN_ID, "organisation": RUNS, "members": list(JOINED)},
        timeout=60,
    )
    answer.raise_for_status()


def set_ab_test(session: requests.Session, url: str, token: str) -> None:
    """Give "one week left" its two variants, through the admin API."""
    answer = session.post(
        f"{url}/admin/campaigns/{CAMPAIGN_ID}/ab-tests",
        json={"ab_tests": [AB_TEST]},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=60,
    )
    answer.raise_for_status()


def tested_times(session: requests.Session, url: str, token: str) -> set[datetime]:
    """The due times of the A/B-tested reminders (their rest goes `AB_WAIT` later)."""
    answer = session.get(
        f"{url}/admin/campaigns/{CAMPAIGN_ID}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=60,
    )
    answer.raise_for_status()
    return {
        parse_iso(reminder["due_at"])
        for reminders in answer.json()["plan"].values()
        for reminder in reminders
        if reminder["days_before"] == AB_TEST["days_before"]
    }


def reminder_times(session: requests.Session, url: str, token: str) -> dict[str, list[datetime]]:
    """Campaign region -> its reminders' due times, oldest first, from the admin API."""
    answer = session.get(
        f"{url}/admin/campaigns/{CAMPAIGN_ID}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=60,
    )
    answer.raise_for_status()
    plan = answer.json()["plan"]
    return {
        region: sorted(parse_iso(reminder["due_at"]) for reminder in reminders)
        for region, reminders in plan.items()
    }


def tick_moments(due: dict[str, list[datetime]]) -> list[datetime]:
    """The stack's clock at each tick: every whole hour from each reminder's due time to a day
    after it (texts that would arrive at night wait for 08:00 where the person lives, which
    comes within the day); the hours in between hold nothing to send."""
    moments: set[datetime] = set()
    for moment in (moment for moments in due.values() for moment in moments):
        hour = moment.replace(minute=0, second=0, microsecond=0)
        moments.update(hour + STEP * step for step in range(int(AFTER_DUE / STEP) + 1))
    return sorted(moments)


def play(session: requests.Session, url: str, moments: list[datetime]) -> list[Tick]:
    """Set the stack's clock to each of `moments` and tick; how long each tick took and how
    much the outbox grew."""
    ticks: list[Tick] = []
    sent_before = _outbox_size(session, url)
    for moment in moments:
        session.post(f"{url}/_local/clock", json={"set": iso(moment)}, timeout=60)
        started = perf_counter()
        answer = session.post(f"{url}/_local/tick", timeout=TICK_TIMEOUT_SECONDS)
        answer.raise_for_status()
        seconds = perf_counter() - started
        sent_now = _outbox_size(session, url)
        ticks.append(Tick(moment, seconds, sent_now - sent_before))
        if sent_now - sent_before > 10:
            _progress(f"{iso(moment)}: {sent_now - sent_before:,} sent in {seconds:.1f} s")
        sent_before = sent_now
    return ticks


def _outbox_size(session: requests.Session, url: str) -> int:
    answer = session.get(f"{url}/_local/bench/sent", params={"since": 10**12}, timeout=600)
    return int(answer.json()["total"])


# -- checks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    expected: int  # reminders the seeded population should get
    reminders: int  # reminders to seeded subscribers, as sent
    duplicates: int  # (subscriber, reminder) pairs sent more than once
    lost: int  # (subscriber, reminder) pairs expected and never sent
    strays: int  # reminders to seeded subscribers the campaign does not reach
    after_done: int  # reminders sent after the subscriber said "I've switched it off"
    done: int  # subscribers who said so
    deferred: int  # texts sent at a later hour than their reminder was due
    ab_rest: int  # messages to the rest of an A/B test, sent after its wait
    confirmations: int  # messages to the traffic's new subscribers
    outsiders: int = 0  # reminders to people of neither organisation of the campaign
    misattributed: int = 0  # emails whose From is not the person's organisation's
    # messages by the organisation they came from (an email's From; a text: its attribution)
    by_organisation: dict[str, int] | None = None


def check(
    seeded: list[Person],
    due: dict[str, list[datetime]],
    sent: list[dict[str, Any]],
    done: list[dict[str, str]],
    tested: frozenset[datetime] = frozenset(),
) -> Check:
    """Every message of the outbox, against whom the seed says the campaign reaches.

    A message belongs to the latest reminder of its recipient's region due at or before it was
    sent: reminders are a day or more apart, and a text deferred to 08:00 arrives within hours.
    """
    by_contact = {_normal(person.contact): person for person in seeded}
    said_done = {_normal(entry["to"]): parse_iso(entry["after"]) for entry in done}
    received: Counter[tuple[str, datetime]] = Counter()
    strays = after_done = deferred = confirmations = ab_rest = outsiders = misattributed = 0
    senders = {org.sender_address: org.organisation_id for org in ORGANISATIONS}
    by_organisation: Counter[str] = Counter()
    for message in sent:
        person = by_contact.get(_normal(message["to"]))
        if person is None:
            confirmations += 1
            continue
        sent_at = parse_iso(message["sent_at"])
        if not person.reached:
            strays += 1
            outsiders += person.outsider
            continue
        came_from = (
            senders.get(parseaddr(message.get("from", ""))[1], "?")
            if message["channel"] == "email"
            else person.attributed
        )
        by_organisation[str(came_from)] += 1
        misattributed += came_from != person.attributed
        reminder = max(moment for moment in due[person.group] if moment <= sent_at)
        received[(person.contact, reminder)] += 1
        late = sent_at - reminder
        if reminder in tested and AB_WAIT <= late < AB_WAIT + STEP:
            ab_rest += 1
        elif late >= STEP:
            deferred += 1
        stopped = said_done.get(_normal(person.contact))
        if stopped is not None and sent_at > stopped:
            after_done += 1
    expected = lost = 0
    for person in seeded:
        if not person.reached:
            continue
        for reminder in due[person.group]:
            expected += 1
            if (person.contact, reminder) not in received and (
                _normal(person.contact) not in said_done
            ):
                lost += 1
    return Check(
        expected=expected,
        reminders=received.total(),
        duplicates=sum(1 for times in received.values() if times > 1),
        lost=lost,
        strays=strays,
        after_done=after_done,
        done=len(said_done),
        deferred=deferred,
        ab_rest=ab_rest,
        confirmations=confirmations,
        outsiders=outsiders,
        misattributed=misattributed,
        by_organisation=dict(sorted(by_organisation.items())),
    )


def reminders_by_tick(
    seeded: list[Person], ticks: list[Tick], sent: list[dict[str, Any]]
) -> list[int]:
    """Reminders to the seeded subscribers sent by each tick (the outbox stamps a message with
    the stack's clock, which runs on in real time from the tick's moment), leaving out the
    confirmations of the traffic's subscribe requests."""
    starts = [tick.at for tick in ticks]
    reached = {_normal(person.contact) for person in seeded if person.reached}
    counts = [0] * len(ticks)
    for message in sent:
        if _normal(message["to"]) in reached:
            counts[bisect.bisect_right(starts, parse_iso(message["sent_at"])) - 1] += 1
    return counts


def _normal(contact: str) -> str:
    return contact.strip().lower()


# -- the run --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    options = _arguments(argv)
    started = perf_counter()
    results = Path(options.results or tempfile.mkdtemp(prefix="optout-bench-"))
    results.mkdir(parents=True, exist_ok=True)
    figures = run(options, results)
    minutes = (perf_counter() - started) / 60
    figures["minutes"] = minutes
    report.save(results, "load", figures)
    body = render(figures, report.command("bench.load", argv))
    print(body)
    report.write_section("Load", body)
    found = problems(figures)
    for problem in found:
        _progress(f"CORRECTNESS PROBLEM: {problem}")
    return 1 if found else 0


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--subscribers",
        type=int,
        default=DEFAULT_SUBSCRIBERS,
        help="subscribers seeded (default %(default)s; see README for how long it takes)",
    )
    parser.add_argument(
        "--ci",
        action="store_const",
        dest="subscribers",
        const=CI_SUBSCRIBERS,
        help=f"a short run: {CI_SUBSCRIBERS:,} subscribers",
    )
    parser.add_argument("--traffic-rate", type=float, default=DEFAULT_TRAFFIC_RATE)
    parser.add_argument("--traffic-seconds", type=float, default=DEFAULT_TRAFFIC_SECONDS)
    report.add_results_option(parser)
    return parser.parse_args(argv)


def run(options: argparse.Namespace, results: Path) -> dict[str, Any]:
    """Seed, post the campaign, play its timeline under traffic; every figure of the run."""
    secrets_env = {
        "OPTOUT_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "OPTOUT_ADMIN_TOKEN": secrets.token_urlsafe(32),
    }
    seeded = people(options.subscribers)
    seeding = perf_counter()
    stack = Stack(options.subscribers, results, secrets_env)
    try:
        seed_seconds = perf_counter() - seeding
        _progress(f"{options.subscribers:,} seeded and serving in {seed_seconds:.0f} s")
        session = requests.Session()
        post_campaign(session, stack.url, secrets_env["OPTOUT_WEBHOOK_SECRET"])
        share_campaign(session, stack.url)
        set_ab_test(session, stack.url, secrets_env["OPTOUT_ADMIN_TOKEN"])
        due = reminder_times(session, stack.url, secrets_env["OPTOUT_ADMIN_TOKEN"])
        tested = frozenset(tested_times(session, stack.url, secrets_env["OPTOUT_ADMIN_TOKEN"]))
        spawn = multiprocessing.get_context("spawn")
        stop = spawn.Event()
        second = spawn.Process(
            target=traffic,
            args=(stack.url, stop, options.traffic_rate, options.traffic_seconds, str(results)),
        )
        second.start()
        try:
            started = perf_counter()
            ticks = play(session, stack.url, tick_moments(due))
            timeline_seconds = perf_counter() - started
        finally:
            stop.set()
            second.join(timeout=TICK_TIMEOUT_SECONDS)
            if second.is_alive():
                second.terminate()
        # What the traffic's requests queued in the meantime (confirmations) goes out now.
        session.post(f"{stack.url}/_local/tick", timeout=TICK_TIMEOUT_SECONDS)
        sent = session.get(f"{stack.url}/_local/bench/sent", timeout=600).json()["sent"]
    finally:
        measured = stack.stop() if stack.process.poll() is None else {}
    traffic_figures = json.loads((results / "traffic.json").read_text(encoding="utf-8"))
    checked = check(seeded, due, sent, traffic_figures["done"], tested)
    by_tick = reminders_by_tick(seeded, ticks, sent)
    sending = [(tick, count) for tick, count in zip(ticks, by_tick, strict=True) if count]
    return {
        "subscribers": options.subscribers,
        "reached": sum(1 for person in seeded if person.reached),
        "outsiders": sum(1 for person in seeded if person.outsider),
        "members": {
            " and ".join(joined) or "none": count
            for joined, count in sorted(
                Counter(person.organisations for person in seeded if person.reached).items()
            )
        },
        "texting": sum(1 for person in seeded if person.channel == "sms"),
        "regions": sorted(due),
        "reminders_per_region": {region: len(moments) for region, moments in due.items()},
        "seed_seconds": seed_seconds,
        "timeline_seconds": timeline_seconds,
        "ticks": len(ticks),
        "send_ticks": len(sending),
        "send_seconds": sum(tick.seconds for tick, _ in sending),
        "sent": sum(count for _, count in sending),
        "outbox": len(sent),
        "check": checked.__dict__,
        "traffic": {key: traffic_figures[key] for key in ("answers", "latency", "seconds")},
        "functions": measured,
        "memory_sizes": _memory_sizes(),
    }


def _memory_sizes() -> dict[str, int]:
    """MemorySize of each function in template.yaml (the Globals' where it sets none)."""
    default = int(template.load()["Globals"]["Function"]["MemorySize"])
    return {
        name: int(props.get("MemorySize", default))
        for name, props in template.resources("AWS::Serverless::Function").items()
    }


# -- the report -----------------------------------------------------------------------------


def problems(figures: dict[str, Any]) -> list[str]:
    """What went wrong in the run, each with its count; empty when nothing did."""
    checked = figures["check"]
    found = {
        "reminders sent twice to one subscriber": checked["duplicates"],
        "reminders lost": checked["lost"],
        "reminders to subscribers the campaign does not reach": checked["strays"],
        "reminders to people of neither organisation": checked.get("outsiders", 0),
        "emails from another organisation than the person's": checked.get("misattributed", 0),
        "reminders after 'I've switched it off'": checked["after_done"],
        "answers 5xx, or none": sum(
            count
            for answer, count in figures["traffic"]["answers"].items()
            if answer.split()[-1].startswith("5") or not answer.split()[-1].isdigit()
        ),
    }
    return [f"{count:,} {what}" for what, count in found.items() if count]


def messages_per_second(figures: dict[str, Any]) -> float:
    return float(figures["sent"]) / float(figures["send_seconds"])


def peak_mib(figures: dict[str, Any], function: str) -> float:
    """The largest memory peak of an invocation of `function` in the run, MiB."""
    peaks = figures["functions"].get(function, {}).get("peak_bytes", [])
    return max(peaks, default=0) / 2**20


def render(figures: dict[str, Any], command: str) -> str:
    checked = figures["check"]
    sent, seconds = figures["sent"], figures["send_seconds"]
    size = figures["subscribers"]
    label = (
        ""
        if size == DEFAULT_SUBSCRIBERS
        else f" (**a smaller run than the default {DEFAULT_SUBSCRIBERS:,}**)"
    )
    intro = (
        f"`{command}` on {date.today().isoformat()}; {report.machine()}. {size:,} subscribers"
        f"{label}: {figures['reached']:,} reached by the campaign in "
        f"{', '.join(figures['regions'])} ({figures['texting']:,} by text), the rest following "
        "only Meta or living in the UK; and "
        f"{figures.get('outsiders', 0):,} more where it goes, of neither of its organisations. "
        "The local stack in a process of its own, its clock "
        f"played hour by hour ({figures['ticks']} ticks) through "
        f"{sum(figures['reminders_per_region'].values())} reminders; the campaign North's, "
        "joined by South, its reached members "
        + ", ".join(f"{count:,} of {who}" for who, count in figures.get("members", {}).items())
        + " (first joined first)"
        + "; the whole run took "
        f"{figures['minutes']:.1f} min, seeding {figures['seed_seconds']:.0f} s of it."
    )
    rows = [
        ["reminders sent", f"{sent:,}"],
        [
            "wall-clock time of the ticks that sent them",
            f"{seconds:.1f} s ({figures['send_ticks']} ticks)",
        ],
        ["messages a second", f"{messages_per_second(figures):.1f}"],
        [
            "reminders expected (reached, times their region's reminders)",
            f"{checked['expected']:,}",
        ],
        ["duplicates (must be 0)", f"{checked['duplicates']:,}"],
        ["lost (must be 0)", f"{checked['lost']:,}"],
        ["to someone the campaign does not reach (must be 0)", f"{checked['strays']:,}"],
        [
            'said "I\'ve switched it off" / reminders after that (must be 0)',
            f"{checked['done']:,} / {checked['after_done']:,}",
        ],
        ["texts deferred to the morning, sent later", f"{checked['deferred']:,}"],
        [
            '"one week left" (an A/B test) to the rest, four hours after its test share',
            f"{checked.get('ab_rest', 0):,}",
        ],
        ["confirmations to the traffic's new subscribers", f"{checked['confirmations']:,}"],
        [
            f"to the {figures.get('outsiders', 0):,} people of neither organisation (must be 0)",
            f"{checked.get('outsiders', 0):,}",
        ],
        [
            "emails from another organisation than the one attributed (must be 0)",
            f"{checked.get('misattributed', 0):,}",
        ],
        *(
            [f"reminders from {organisation}", f"{count:,}"]
            for organisation, count in (checked.get("by_organisation") or {}).items()
        ),
    ]
    return "\n\n".join(
        [
            intro,
            report.table(["figure", "measured"], rows),
            _traffic_table(figures),
            _functions_table(figures),
            _reading(),
        ]
    )


def _traffic_table(figures: dict[str, Any]) -> str:
    traffic_figures = figures["traffic"]
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for answer, count in traffic_figures["answers"].items():
        kind, status = answer.split(" ", 1)
        by_kind[kind][status] += count
    rows = []
    for kind, statuses in sorted(by_kind.items()):
        waits = traffic_figures["latency"].get(kind, [0.0])
        rows.append(
            [
                kind,
                f"{statuses.total():,}",
                ", ".join(f"{status}: {count:,}" for status, count in sorted(statuses.items())),
                f"{statistics.median(waits) * 1000:.0f}",
                f"{max(waits):.1f}",
            ]
        )
    header = [
        "requests from the second process",
        "sent",
        "answers by status",
        "median ms",
        "slowest s",
    ]
    intro = (
        f"The second process's traffic ran for {traffic_figures['seconds']:.0f} s, at most "
        f"{TRAFFIC_WORKERS} requests at once. 5xx: none allowed. 429: the subscribe rate limit "
        "per network address (everything here comes from 127.0.0.1), expected. The stack runs "
        "one invocation at a time, as one Lambda execution environment does, so a request "
        "waits for the invocation in progress, and for any others that take the lock before it "
        "(Python's lock is not fair), though not for the whole tick: that is the slowest "
        "answers. The longest invocations are the fan-outs at the start of a reminder, which "
        "page moto's whole table."
    )
    return intro + "\n\n" + report.table(header, rows)


def _functions_table(figures: dict[str, Any]) -> str:
    rows = []
    for function, measured in sorted(
        figures["functions"].items(), key=lambda item: -item[1]["seconds"]
    ):
        peaks = measured["peak_bytes"]
        rows.append(
            [
                function,
                f"{measured['invocations']:,}",
                f"{len(peaks):,}",
                f"{measured['seconds']:.1f}",
                f"{measured['cpu_seconds']:.1f}",
                f"{sum(measured['calls'].values()):,}",
                f"{statistics.median(peaks) / 2**20:.2f}" if peaks else "",
                f"{max(peaks) / 2**20:.2f}" if peaks else "",
                f"{figures['memory_sizes'].get(function, 0) or ''}",
            ]
        )
    header = [
        "function",
        "invocations",
        "of them traced",
        "wall s",
        "CPU s",
        "AWS calls",
        "peak MiB, median",
        "peak MiB, max",
        "MemorySize MiB",
    ]
    intro = (
        "Per function: *peak* is the most memory an invocation had allocated at once beyond "
        "what was live when it started (tracemalloc, started and stopped around the first "
        "ten invocations of each function and one in 25 after them, with every handler "
        "imported beforehand; tracing slows every allocation about threefold, so tracing them "
        "all would slow the whole run, and the traced ones add a little to the times). "
        "Chosen over RSS because the "
        "stack's process also holds moto's tables and the outbox, which dwarf any invocation; "
        "it counts Python's allocations only, including moto's while it answers that "
        "invocation's calls (so it overstates a little). The memory of the import itself is in "
        "the summary, measured in fresh interpreters."
    )
    return intro + "\n\n" + report.table(header, rows)


def _reading() -> str:
    return (
        "How to read it: the send rate is the local stack's, with moto answering every call "
        "over HTTP in the same process and the stack parsing each email into its outbox; on "
        "AWS the sender's pace is set by SES's rate. What carries over is correctness under "
        "concurrency (nothing duplicated, nothing lost) and the calls and memory per function."
    )


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
