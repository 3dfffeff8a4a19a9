"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers that read outside input.

    python -m tests.fuzz.atheris_targets TARGET [libFuzzer options] [corpus dirs]
    python -m tests.fuzz.atheris_targets TARGET crash-FILE    (runs that one input again)
    python -m tests.fuzz.atheris_targets --list

One target a parser, the same functions `test_parsers.py` and `test_routes.py` try with
Hypothesis. Each target feeds the fuzzer's bytes to its parser and accepts only the parser's
documented refusal (`InvalidInput`, `PayloadTooLarge`, `TokenError`, `WebhookUnauthorized`); any
other exception, or a failed assertion, is a crash, and libFuzzer writes the input that caused
it to a `crash-*` file. Valid examples (real signed webhooks, tokens, SES notifications, the
sample CSV) are written to a fresh seed corpus, so the fuzzer starts from inputs that get deep.

`make fuzz` runs every target for a while; `tests/fuzz/test_atheris.py` 10,000 seeded runs of
each in `make test`.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import atheris

# Only the layer is instrumented: its branches are what the fuzzer is to explore, and
# instrumenting jsonschema, phonenumbers and Powertools too would slow every run.
with atheris.instrument_imports(include=["optout"]):
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

    from optout.core import keys, signatures, tokens
    from optout.core.errors import InvalidInput, PayloadTooLarge, TokenError
    from optout.core.settings import from_environ
    from optout.domain import policy
    from optout.domain.models import Consent, Status
    from optout.feedback import inbound, sns_http
    from optout.subscribers import imports, subscriptions
    from optout.watching import compare, extract
    from optout.watching.terms import Terms
    from optout.web import public

from tests.helpers import COMPLETE as COMPLETE_ENVIRONMENT  # a full settings set

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
NOW = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)  # the sample events' webhook-timestamp
SETTINGS = from_environ({**COMPLETE_ENVIRONMENT, "STAGE": "fuzz"})
WEBHOOK_KEY = b"atheris-webhook-key-0123456789"
WEBHOOK_KEYS = [b"an-older-webhook-key-rotating-out", WEBHOOK_KEY]
KEYRING = tokens.Keyring(
    "k2", {"k1": b"an-older-token-key-0123456789", "k2": b"0123456789abcdef0123456789abcdef"}
)
REFUSALS = (InvalidInput, PayloadTooLarge)


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


# -- the policy-change webhook: signature, then payload ----------------------------------------

# (webhook id, timestamp, body) of every delivery the seeds sign: the only ones that may pass.
SIGNED: set[tuple[str, int, bytes]] = set()


def _delivery(headers: dict[str, str], body: bytes) -> bytes:
    """Headers as "name: value" lines, a blank line, then the body: text libFuzzer can mutate."""
    return "".join(f"{name}: {value}\n" for name, value in headers.items()).encode() + b"\n" + body


def _signed(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    SIGNED.add((webhook_id, timestamp, body))
    signature = signatures.sign(WEBHOOK_KEY, webhook_id, timestamp, body)
    return _delivery(
        {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": f"v1a,c29tZXRoaW5n {signature}",
        },
        body,
    )


def _webhook_seeds() -> Iterator[bytes]:
    now = int(NOW.timestamp())
    for number, path in enumerate(sorted((EVENTS / "payloads").glob("*.json"))):
        yield _signed(f"msg_seed{number}", now + 60 * number, path.read_bytes())
    yield _signed("msg_empty", now, b"")
    yield _delivery({"webhook-id": "msg_x", "webhook-timestamp": str(now)}, b"{}")


def webhook_verify(data: bytes) -> None:
    """Any headers and body: the webhook id of a delivery we signed, else `WebhookUnauthorized`."""
    head, _, body = data.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        name, _, value = line.partition(":")
        headers[name] = value.strip()
    try:
        webhook_id = signatures.verify(headers, body, WEBHOOK_KEYS, NOW)
    except signatures.WebhookUnauthorized as refused:
        assert refused.status == 401
        return
    timestamp = int({k.lower(): v for k, v in headers.items()}["webhook-timestamp"])
    assert (webhook_id, timestamp, body) in SIGNED, "accepted a delivery nobody signed"


def _payload_seeds() -> Iterator[bytes]:
    for path in sorted((EVENTS / "payloads").glob("*.json")):
        yield path.read_bytes()
    yield b'{"type": "policy.changed"}'


def webhook_payload(data: bytes) -> None:
    """Any body: a `PolicyChange` whose titles are one line each, or `InvalidInput`/413."""
    try:
        change = policy.parse(data)
    except REFUSALS as refused:
        assert refused.status in (400, 413)
        return
    for text in (change.policy.text, *change.policy.translations.values()):
        for line in (text.title, text.short_title):
            assert "\r" not in line and "\n" not in line, line


# -- link tokens ---------------------------------------------------------------------------------

# Every token the seeds mint, with its purpose: the only ones `verify` may accept.
MINTED: set[tuple[str, tokens.Purpose]] = set()


def _token_seeds() -> Iterator[bytes]:
    for purpose in tokens.Purpose:
        for parts, expires_at in (
            (["sabcdefghijklmnop"], NOW + timedelta(days=1)),
            (["s0123", "c_launch-2025", "DE"], NOW + timedelta(days=90)),
            (["sexpired"], NOW - timedelta(seconds=1)),
        ):
            token = tokens.mint(KEYRING, purpose, parts, expires_at)
            if expires_at > NOW:
                MINTED.add((token, purpose))
            yield token.encode()
    old = tokens.Keyring("k1", KEYRING.keys)
    token = tokens.mint(old, tokens.Purpose.CONFIRM, ["sold"], NOW + timedelta(days=1))
    MINTED.add((token, tokens.Purpose.CONFIRM))
    yield token.encode()


def token(data: bytes) -> None:
    """Any text as a token of every purpose: its parts if we minted it, else a `TokenError`."""
    text = data.decode("utf-8", "replace")
    for purpose in tokens.Purpose:
        try:
            parts = tokens.verify(KEYRING, text, purpose, NOW)
        except TokenError as refused:
            assert 400 <= refused.status < 500
            continue
        assert (text, purpose) in MINTED, "accepted a token nobody minted"
        assert all(parts), parts


# -- texts to our number, SES notifications, SNS over HTTP -------------------------------------

KEYWORDS = inbound.STOP_WORDS | inbound.HELP_WORDS | inbound.START_WORDS


def _sms_seeds() -> Iterator[bytes]:
    for text in ("STOP", " Stop! ", "Arrêt", "opt-out", "help", "Start", "UNSTOP", "stop all"):
        yield text.encode()


def sms_keyword(data: bytes) -> None:
    """Any text reduces to ASCII capitals, and reducing again changes nothing."""
    word = inbound.keyword(data.decode("utf-8", "surrogateescape"))
    assert word.isascii() and (word == "" or (word.isalpha() and word.isupper())), word
    assert inbound.keyword(word) == word


KNOWN_NUMBER = "+14165550123"
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
KNOWN_ID = keys.contact_id(SETTINGS, "sms", KNOWN_NUMBER)
WRITES: list[str] = []


class _Quiet:
    """Logger and metrics that say nothing: a million runs would print a million lines."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class _Subscribers:
    """The subscribers table, in memory: one known number, active; every other number stopped
    (so that START lifts it); every write is recorded."""

    def __init__(self, settings: object) -> None:
        pass

    def get(self, subscriber_id: str) -> Any:
        assert subscriber_id.startswith("s") and subscriber_id.isalnum(), subscriber_id
        if subscriber_id != KNOWN_ID:
            return None
        consent = Consent(requested_at="2025-10-01T00:00:00Z", form_version="", source="api")
        return type(
            "Subscriber",
            (),
            {
                "contact": KNOWN_NUMBER,
                "locale": "en",
                "status": Status.ACTIVE,
                "consent": consent,
            },
        )()

    def keep_stopped(self, subscriber_id: str, now: datetime) -> bool:
        assert subscriber_id != KNOWN_ID
        WRITES.append(f"stop {subscriber_id}")
        return True

    def stopped(self, subscriber_id: str) -> bool:
        return subscriber_id != KNOWN_ID

    def lift_stop(self, subscriber_id: str) -> bool:
        assert subscriber_id != KNOWN_ID
        WRITES.append(f"lift {subscriber_id}")
        return True

    def unsubscribe(self, subscriber_id: str, now: datetime, *, by_text: bool = False) -> bool:
        WRITES.append(f"unsubscribe {subscriber_id}")
        return True

    def resubscribe(
        self, subscriber_id: str, now: datetime, by: str = "", consent: object = None
    ) -> bool:
        WRITES.append(f"resubscribe {subscriber_id}")
        return True

    def suppress(self, subscriber_id: str, reason: str, now: datetime) -> bool:
        assert reason in ("bounce", "complaint"), reason
        WRITES.append(f"suppress {subscriber_id}")
        return True


class _Campaigns:
    def __init__(self, settings: object) -> None:
        pass

    def add_stats(self, campaign_id: str, region: str, counts: dict[str, int]) -> None:
        WRITES.append(f"stats {campaign_id} {region}")

    def stats(self, campaign_id: str) -> dict[str, dict[str, int]]:
        return {"DE": {"sent": 1000, "bounced": 10}}

    def set_status(self, campaign_id: str, status: str, now: datetime, reason: str = "") -> None:
        WRITES.append(f"status {campaign_id} {status}")


class _Deliveries:
    def __init__(self, settings: object) -> None:
        pass

    def claim_or_state(self, key: str, now: datetime, **attributes: Any) -> str | None:
        WRITES.append(f"claim {key}")
        return None

    def record_sent(self, key: str, message_id: str, now: datetime) -> None:
        WRITES.append(f"record {key}")


class _Sms:
    plain = staticmethod(inbound.sms.plain)
    Sms = inbound.sms.Sms

    @staticmethod
    def send(settings: object, message: Any) -> str:
        assert E164.fullmatch(message.to) and message.text, message
        WRITES.append("reply")
        return "SM-fuzz"


class _CatchUp:
    """The notice queue a START's catch-up goes on: recorded, never sent."""

    @staticmethod
    def request(settings: object, subscriber_ids: list[str], now: object) -> int:
        WRITES.extend(f"catch-up {subscriber_id}" for subscriber_id in subscriber_ids)
        return 0


def _without_aws() -> None:
    """The feedback module's tables, SMS provider, catch-up queue, logger and metrics replaced
    by the fakes above: the fuzzer runs the real parsing and decisions, and sees every write."""
    inbound.catch_up = _CatchUp  # type: ignore[assignment]
    inbound.SubscriberStore = _Subscribers  # type: ignore[assignment,misc]
    inbound.CampaignStore = _Campaigns  # type: ignore[assignment,misc]
    inbound.DeliveryStore = _Deliveries  # type: ignore[assignment,misc]
    inbound.sms = _Sms  # type: ignore[assignment]
    inbound.logger = _Quiet()  # type: ignore[assignment]
    inbound.metrics = _Quiet()  # type: ignore[assignment]


def _feedback_seeds() -> Iterator[bytes]:
    for name in ("feedback-sms-stop", "feedback-ses-bounce", "feedback-ses-complaint"):
        yield _event(f"{name}.json")["Records"][0]["Sns"]["Message"].encode()
    for body in ("HELP", "start", "hello"):
        yield json.dumps({"originationNumber": KNOWN_NUMBER, "messageBody": body}).encode()


def feedback_message(data: bytes) -> None:
    """Any SNS Message to the feedback function: one outcome; nothing written unless it is a
    keyword from a well-formed number (any: carriers audit with numbers never subscribed), a
    permanent bounce or a complaint; a reply only ever to an E.164 number."""
    WRITES.clear()
    outcome = inbound.handle(SETTINGS, data.decode("utf-8", "surrogateescape"), NOW)
    assert isinstance(outcome, str), outcome
    if outcome.startswith("ignored"):
        assert WRITES in ([], [f"resubscribe {KNOWN_ID}"]), (outcome, WRITES)
    elif outcome in ("stop", "help", "start"):
        allowed = (
            f"unsubscribe {KNOWN_ID}",
            f"resubscribe {KNOWN_ID}",
            f"catch-up {KNOWN_ID}",  # a START from the known number: caught up
            "stop s",
            "lift s",
            "claim reply#",
            "reply",
            "record reply#",
        )
        assert all(write.startswith(allowed) for write in WRITES), WRITES
    else:
        assert outcome in ("bounced", "complained"), outcome
        assert all(w.split()[0] in ("suppress", "stats", "status") for w in WRITES), WRITES


def _sns_http_seeds() -> Iterator[bytes]:
    for name in ("ses-bounce", "sms-stop", "subscription-confirmation"):
        yield _event(f"feedback-http-{name}.json")["body"].encode()


def sns_message(data: bytes) -> None:
    """Any body POSTed to the SNS endpoint: its string fields, which the signature check can
    read, or `InvalidInput`/413."""
    try:
        fields = sns_http.parse(data)
    except REFUSALS as refused:
        assert refused.status in (400, 413)
        return
    assert all(isinstance(value, str) for value in fields.values())
    sns_http.canonical_string(fields)  # what `verified` checks the signature over


# -- the subscribe form and CSV imports ---------------------------------------------------------


def _subscribe_seeds() -> Iterator[bytes]:
    for name in ("subscribe-form", "subscribe-json", "subscribe-sms-json"):
        event = _event(f"{name}.json")
        yield f"{event['headers']['Content-Type']}\n{event['body']}".encode()


def subscribe_form(data: bytes) -> None:
    """Any body, as a form or as JSON (the first line is the Content-Type): a valid request
    whose contact is one ASCII line, or `InvalidInput`/413."""
    content_type, _, body = data.decode("utf-8", "replace").partition("\n")
    event = APIGatewayProxyEvent(
        {"headers": {"Content-Type": content_type}, "body": body, "isBase64Encoded": False}
    )
    try:
        request = subscriptions.parse_request(public.read_fields(event))
    except REFUSALS as refused:
        assert refused.status in (400, 413)
        return
    address = request.contact.address
    assert address.isascii() and address.isprintable() and address.strip() == address, address


def _csv_seeds() -> Iterator[bytes]:
    yield _event("admin-subscribers-import.json")["body"].encode()
    yield (
        "\ufeffContact,Region,Locale,Timezone,Platforms\n"
        "ada@example.org,DE,de,Europe/Berlin,linkedin\n"
        "ADA@example.org,DE,,,meta\n"
        '"=HYPERLINK(""x"")",XX,de,Mars/Olympus,\n'
    ).encode()


def csv_import(data: bytes) -> None:
    """Any file: every row becomes a candidate or a rejection with its line, or the file is
    refused with `InvalidInput`/413."""
    report = imports.Report()
    try:
        rows = list(imports._rows(data))
        candidates = imports._candidates(iter(rows), SETTINGS, NOW, report)
    except REFUSALS as refused:
        assert refused.status in (400, 413)
        return
    lines = {line for line, _ in rows}
    taken = {line for candidate in candidates for line in candidate.lines}
    rejected = {problem["line"] for problem in report.rejected}
    assert taken | rejected == lines and not taken & rejected, (lines, taken, rejected)


# -- the policy watch: a page's text, and two versions compared -------------------------------

VERSIONS = b"\n--- next version ---\n"
# A few terms of each kind (acronym, prefix, phrase, CJK): the diff is what this explores; the
# whole default list is searched by the Hypothesis tests, and here would make each run slow.
TERMS = Terms.of(["AI", "train", "opt out", "legitimate interest", "人工智能"])
# Small pages with what the reader leaves out and what it keeps (the fixtures' whole pages make
# each run too slow for 10,000 of them in `make test`).
PAGE = (
    b'<html><head><meta charset="utf-8"><script>var t="8c1e0a4f";</script></head><body>'
    b'<div class="cookie-banner" role="dialog">We use cookies.</div><nav><li>Jobs</li></nav>'
    b"<main><h1>Privacy Policy</h1><p>Last updated: September 1, 2025</p>"
    b'<section id="cookies"><p>We use cookies, e.g. pixels. You can opt out at any time.</p>'
    b"</section><p>We may use your data to improve our services.</p></main>"
    b"<footer>&copy; 2025 LinkedIn</footer></body></html>"
)
NEW_PAGE = PAGE.replace(b"September 1", b"November 3").replace(
    b"We may use your data to improve our services.",
    b"We use your data to train content-generating AI models, on by default.",
)


def _page_seeds() -> Iterator[bytes]:
    yield PAGE
    yield '<meta charset="windows-1252"><p>Donn\xe9es</p>'.encode("latin-1")


def page_text(data: bytes) -> None:
    """Any bytes served as a page: its text, one trimmed, non-empty line a block."""
    text = extract.text_of_html(data)
    assert all(line and line == line.strip() for line in text.splitlines())


def _diff_seeds() -> Iterator[bytes]:
    yield PAGE + VERSIONS + NEW_PAGE
    yield PAGE + VERSIONS + PAGE


def policy_diff(data: bytes) -> None:
    """Any two pages (split at the marker): compared, no change from a page to itself, and a
    change names sentences of its own versions."""
    old_page, _, new_page = data.partition(VERSIONS)
    old, new = extract.text_of_html(old_page), extract.text_of_html(new_page)
    assert compare.compare(old, old, TERMS) is None
    change = compare.compare(old, new, TERMS)
    if change is not None:
        assert change.added or change.removed
        assert set(change.added) <= set(extract.sentences(new))
        assert set(change.removed) <= set(extract.sentences(old))
        assert 0 < change.score <= 1


# -- running -----------------------------------------------------------------------------------

TARGETS: dict[str, tuple[Callable[[bytes], None], Callable[[], Iterator[bytes]]]] = {
    "webhook_verify": (webhook_verify, _webhook_seeds),
    "webhook_payload": (webhook_payload, _payload_seeds),
    "token": (token, _token_seeds),
    "sms_keyword": (sms_keyword, _sms_seeds),
    "feedback_message": (feedback_message, _feedback_seeds),
    "sns_message": (sns_message, _sns_http_seeds),
    "subscribe_form": (subscribe_form, _subscribe_seeds),
    "csv_import": (csv_import, _csv_seeds),
    "page_text": (page_text, _page_seeds),
    "policy_diff": (policy_diff, _diff_seeds),
}


def main(argv: list[str]) -> None:
    if argv[1:] == ["--list"]:
        print(" ".join(TARGETS))
        return
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(
            f"usage: python -m tests.fuzz.atheris_targets {{{','.join(TARGETS)}}} [libFuzzer args]"
        )
    target, seeds = TARGETS[argv[1]]
    _without_aws()
    args = argv[2:]
    inputs = [arg for arg in args if not arg.startswith("-")]
    examples = list(seeds())  # also what the target's own checks know was signed
    for example in examples:
        target(example)  # a seed that fails is a bug here, before any fuzzing
    if not any(Path(arg).is_file() for arg in inputs):  # not a crash file to run again
        # The seeds go into the first corpus directory given (libFuzzer saves new inputs
        # there too), or into a fresh one.
        if not inputs:
            inputs = [tempfile.mkdtemp(prefix=f"atheris-{argv[1]}-")]
            args.append(inputs[0])
        corpus = Path(inputs[0])
        corpus.mkdir(parents=True, exist_ok=True)
        for number, example in enumerate(examples):
            (corpus / f"seed-{number}").write_bytes(example)
    atheris.Setup([argv[0], *args], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
