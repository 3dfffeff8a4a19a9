"""`optout`: the organisers' command line, against a running stack (local or in AWS).

    optout webhook send FILE.json            sign a policy-change body and post it
    optout import FILE.csv                   subscribers from a CSV file (500 rows a request)
    optout export [-o FILE]                  the active subscribers as CSV
    optout stats CAMPAIGN [--csv]            a campaign's numbers per region
    optout preview CAMPAIGN --region EU --reminder one-week-left [--channel sms] [--locale de]
    optout ab-tests CAMPAIGN [--set FILE.json]   its A/B tests: each variant's numbers, the decision
    optout recount                           count every subscriber again, repair list health
    optout smoke [--sms-to +NUMBER]          the whole path with SES's test recipients
    optout watches                           the policy watches, each with its status
    optout watch add FILE.json               declare a watch (or with options: watch add -h)
    optout watch edit WATCH [--title ...] [--term ...] [--add-ally URL] [--remove-ally URL]
    optout watch show|pause|resume|delete WATCH
    optout webhooks                          the endpoints for events out, each with its status
    optout webhooks add URL [--event TYPE]... [--crm] [--description TEXT]
    optout webhooks edit ENDPOINT [--url URL] [--event TYPE]... [--every-event] [--crm|--not-crm]
    optout webhooks show|pause|resume|delete|rotate-secret ENDPOINT
    optout webhooks replay ENDPOINT (--event-id EVT | --from TIME --to TIME)
    optout organisations                     the coalition's organisations (the owner's)
    optout organisation add ID --name N --sender ADDRESS --postal ADDRESS [--support ...]
    optout organisation edit ID [--name N] [--sender ...] [--postal ...] [--privacy-notice URL]
    optout organisation show ID
    optout organisation token add ORGANISATION NAME     a token for its organiser, printed once
    optout organisation token list|revoke ORGANISATION [TOKEN_ID]

It lives in the layer package, beside the code it reuses, rather than in a package of its
own: it checks a webhook body with the server's own schema (`optout.domain.policy`) and signs it with
the server's own signer (`optout.core.signatures.sign`), so client and server cannot disagree, and
`pip install -e .` installs it with them. It speaks HTTP only (`requests`), never to AWS.

Exit codes: 0 done; 1 refused (a bad file, a wrong token, rows of an import rejected, any 4xx);
2 used wrongly (a missing option or setting); 3 the stack could not be reached or failed (5xx).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import quote

import requests

from optout.core import signatures
from optout.core.errors import InvalidInput, OptoutError
from optout.domain import policy

DEFAULT_URL = "http://127.0.0.1:3000"
ROWS_PER_REQUEST = 500  # about 50 KB a request, well under API Gateway's and Lambda's limits
TIMEOUT_SECONDS = 120  # an import request writes 500 rows
REFUSED, MISUSED, UNREACHABLE = 1, 2, 3
# The schedule runs every 5 minutes, then the fan-out and the sender; SES's feedback follows.
SMOKE_WAIT_SECONDS = 600.0


class Failure(Exception):
    """Ends the command with a message on stderr and an exit code."""

    def __init__(self, message: str, code: int = REFUSED) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code."""
    options = _parser().parse_args(argv)
    try:
        return int(options.run(options, Client(options)))
    except Failure as failure:
        print(f"optout: {failure}", file=sys.stderr)
        return failure.code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optout",
        description="optout-bot for organisers: webhooks, subscriber imports and exports, stats, "
        "policy watches, the coalition's organisations.",
        epilog="make run prints the URL, the webhook secret and the admin token of a local stack.",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("OPTOUT_URL", DEFAULT_URL),
        help="the stack's base URL (env OPTOUT_URL, default %(default)s)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("OPTOUT_ADMIN_TOKEN", ""),
        help="the admin token, or an organiser's token (env OPTOUT_ADMIN_TOKEN)",
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("OPTOUT_WEBHOOK_SECRET", ""),
        help="the whsec_... webhook secret (env OPTOUT_WEBHOOK_SECRET)",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    webhook = commands.add_parser("webhook", help="policy-change webhooks")
    webhook_commands = webhook.add_subparsers(required=True, metavar="ACTION")
    send = webhook_commands.add_parser("send", help="check, sign and post a policy-change body")
    send.add_argument("file", type=Path, help="the JSON body (see events/payloads/)")
    send.set_defaults(run=send_webhook)

    importing = commands.add_parser("import", help="import subscribers from a CSV file")
    importing.add_argument("file", type=Path, help="CSV with a header row (see README)")
    importing.add_argument(
        "--rows-per-request", type=int, default=ROWS_PER_REQUEST, help="default %(default)s"
    )
    importing.set_defaults(run=import_file)

    export = commands.add_parser("export", help="the active subscribers as CSV")
    export.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    export.set_defaults(run=export_file)

    stats = commands.add_parser("stats", help="a campaign's numbers per region")
    stats.add_argument("campaign")
    stats.add_argument("--csv", action="store_true", help="CSV instead of a table")
    stats.set_defaults(run=show_stats)

    preview = commands.add_parser("preview", help="what one reminder says")
    preview.add_argument("campaign")
    preview.add_argument("--region", required=True, help="EU, CH, CA...")
    preview.add_argument("--reminder", required=True, help="two-weeks-left, one-week-left...")
    preview.add_argument("--channel", choices=("email", "sms"), default="email")
    preview.add_argument("--locale", default="en")
    preview.set_defaults(run=show_preview)

    recount = commands.add_parser(
        "recount",
        help="count every subscriber again and repair the dashboard's list health counters",
        description="Count every subscriber again (a scan of the whole table, on the server) "
        "and set the list health counters to it; print what was corrected and the counts "
        "by region.",
    )
    recount.set_defaults(run=run_recount)

    smoke = commands.add_parser(
        "smoke", help="walk the whole path on a stack with SES's test recipients, then clean up"
    )
    smoke.add_argument(
        "--wait",
        type=float,
        default=SMOKE_WAIT_SECONDS,
        help="how long to wait for reminders and SES's feedback, in seconds (default %(default)s)",
    )
    smoke.add_argument(
        "--sms-to",
        default="",
        metavar="+NUMBER",
        help="a phone of yours, in E.164: one test text goes to it (default: no text)",
    )
    smoke.set_defaults(run=run_smoke)

    listing = commands.add_parser("watches", help="the policy watches, each with its status")
    listing.set_defaults(run=list_watches)

    watch = commands.add_parser("watch", help="declare a policy watch, or look after one")
    watch_commands = watch.add_subparsers(required=True, metavar="ACTION")
    add = watch_commands.add_parser(
        "add",
        help="declare a watch, from a JSON file or from options",
        description="Declare a watch: a JSON file as POST /admin/watches takes it (see the "
        "README), or the options below. Each ally's secret is printed once: give it to them.",
    )
    add.add_argument("file", nargs="?", type=Path, help="the watch as JSON (or use the options)")
    add.add_argument("--platform", help="linkedin, meta...")
    add.add_argument("--title", help="one line")
    # Not --url: that names the stack.
    add.add_argument("--page", metavar="URL", help="a page to read (https)")
    add.add_argument("--ota", metavar="API_URL", help="an Open Terms Archive Collection API, /v1")
    add.add_argument("--service", help="with --ota: the service id, such as LinkedIn")
    add.add_argument("--terms-type", help='with --ota: the terms type, such as "Privacy Policy"')
    add.add_argument("--about", choices=("policy", "setting"), help="default: policy")
    add.add_argument("--setting-url", help="where people switch the setting off")
    add.add_argument("--ally", action="append", default=[], metavar="URL", help="repeatable")
    add.add_argument(
        "--term", action="append", default=[], help="repeatable (default: the default list)"
    )
    add.add_argument("--id", dest="watch_id", help="default: made from the platform and source")
    add.set_defaults(run=add_watch)
    edit = watch_commands.add_parser(
        "edit",
        help="change a watch's title, terms or allies",
        description="Change what is given; the rest stays. The source cannot be changed: a new "
        "source is a new watch. Each new ally's secret is printed once: give it to them.",
    )
    edit.add_argument("watch_id", metavar="WATCH")
    edit.add_argument("--title", help="one line")
    edit.add_argument("--about", choices=("policy", "setting"))
    edit.add_argument("--setting-url", help='where people switch the setting off ("": none)')
    terms = edit.add_mutually_exclusive_group()
    terms.add_argument("--term", action="append", default=[], help="repeatable: the new list")
    terms.add_argument(
        "--default-terms", action="store_true", help="back to the default list of terms"
    )
    edit.add_argument("--add-ally", action="append", default=[], metavar="URL", help="repeatable")
    edit.add_argument(
        "--remove-ally", action="append", default=[], metavar="URL", help="repeatable"
    )
    edit.set_defaults(run=edit_watch)
    for action, summary in (
        ("show", "a watch, its terms and the versions kept"),
        ("pause", "stop reading a watch's source"),
        ("resume", "read a paused watch's source again"),
        ("delete", "forget a watch (the changes it found stay)"),
    ):
        acting = watch_commands.add_parser(action, help=summary)
        acting.add_argument("watch_id", metavar="WATCH")
        acting.set_defaults(run=act_on_watch, action=action)
    _webhook_commands(commands)
    _ab_test_commands(commands)
    _organisation_commands(commands)
    return parser


# The organisation's fields, as options: (option, field, help).
_ORGANISATION_OPTIONS = (
    ("--name", "name", "its name, in its pages, emails' From name and footers"),
    ("--sender", "sender_address", "its From address, verified in SES"),
    ("--postal", "postal_address", "its postal address, in every email's footer"),
    ("--support", "support_contact", "where HELP points (an email address or https page)"),
    ("--privacy-notice", "privacy_notice_url", "its privacy notice (https)"),
    ("--configuration-set", "configuration_set", "its SES configuration set"),
)


def _organisation_commands(commands: Any) -> None:
    """`optout organisations`, `optout organisation ...`: the coalition's organisations and
    their organisers' tokens (the coalition owner's: the admin token)."""
    listing = commands.add_parser("organisations", help="the coalition's organisations")
    listing.set_defaults(run=list_organisations)
    organisation = commands.add_parser(
        "organisation", help="add, show or edit an organisation; its organisers' tokens"
    )
    actions = organisation.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add an organisation")
    add.add_argument("organisation_id", metavar="ID", help="lower-case letters, digits, hyphens")
    edit = actions.add_parser("edit", help="change an organisation; the rest stays")
    edit.add_argument("organisation_id", metavar="ID")
    for option, field, summary in _ORGANISATION_OPTIONS:
        add.add_argument(option, dest=field, help=summary)
        edit.add_argument(option, dest=field, help=summary)
    add.set_defaults(run=add_organisation)
    edit.set_defaults(run=edit_organisation)
    show = actions.add_parser("show", help="an organisation and its tokens (never the tokens)")
    show.add_argument("organisation_id", metavar="ID")
    show.set_defaults(run=show_organisation)
    token = actions.add_parser("token", help="the tokens of an organisation's organisers")
    token_actions = token.add_subparsers(required=True, metavar="ACTION")
    token_add = token_actions.add_parser("add", help="a new token, printed once")
    token_add.add_argument("organisation_id", metavar="ORGANISATION")
    token_add.add_argument("name", help="whose token, or what for")
    token_add.set_defaults(run=add_organiser_token)
    token_list = token_actions.add_parser("list", help="the organisation's tokens")
    token_list.add_argument("organisation_id", metavar="ORGANISATION")
    token_list.set_defaults(run=list_organiser_tokens)
    revoke = token_actions.add_parser("revoke", help="revoke a token: its sessions end too")
    revoke.add_argument("organisation_id", metavar="ORGANISATION")
    revoke.add_argument("token_id", metavar="TOKEN_ID")
    revoke.set_defaults(run=revoke_organiser_token)


def _webhook_commands(commands: Any) -> None:
    """`optout webhooks ...`: the endpoints of the organisers' own tools, for events out."""
    hooks = commands.add_parser("webhooks", help="the endpoints for events out (alone: list them)")
    hooks.set_defaults(run=list_webhooks)
    actions = hooks.add_subparsers(required=False, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="register an endpoint; its secret is printed once",
        description="Register an endpoint of your own tools. Its secret is printed once: give "
        "it to the endpoint's owner.",
    )
    add.add_argument("endpoint_url", metavar="URL", help="https, port 443, a public address")
    add.add_argument(
        "--event", action="append", default=[], metavar="TYPE", help="repeatable (default: all)"
    )
    add.add_argument(
        "--crm", action="store_true", help="our own CRM: sent contacts in subscriber.confirmed"
    )
    add.add_argument("--description", help="what it is")
    add.set_defaults(run=add_webhook)
    edit = actions.add_parser("edit", help="change an endpoint; the rest stays")
    edit.add_argument("endpoint_id", metavar="ENDPOINT")
    edit.add_argument("--endpoint-url", metavar="URL", help="its new address")
    types = edit.add_mutually_exclusive_group()
    types.add_argument("--event", action="append", default=[], metavar="TYPE", help="repeatable")
    types.add_argument("--every-event", action="store_true", help="take every type again")
    crm = edit.add_mutually_exclusive_group()
    crm.add_argument("--crm", action="store_true", default=None, help="mark it as our CRM")
    crm.add_argument("--not-crm", dest="crm", action="store_false", help="not our CRM")
    edit.add_argument("--description", help="what it is")
    edit.set_defaults(run=edit_webhook)
    replay = actions.add_parser(
        "replay", help="send kept events again: one by its id, or a time range"
    )
    replay.add_argument("endpoint_id", metavar="ENDPOINT")
    replay.add_argument("--event-id", metavar="EVT", help="one event, by its id (evt_...)")
    replay.add_argument("--from", dest="start", metavar="TIME", help="ISO time with its zone")
    replay.add_argument("--to", dest="end", metavar="TIME", help="ISO time with its zone")
    replay.set_defaults(run=replay_webhook)
    for action, summary in (
        ("show", "an endpoint, its recent deliveries and its dead letters"),
        ("pause", "send an endpoint nothing until resumed (its events become dead letters)"),
        ("resume", "send a paused endpoint events again"),
        ("delete", "forget an endpoint"),
        ("rotate-secret", "a new secret, printed once; the old one signs beside it for a day"),
    ):
        acting = actions.add_parser(action, help=summary)
        acting.add_argument("endpoint_id", metavar="ENDPOINT")
        acting.set_defaults(run=act_on_webhook, action=action)


def _ab_test_commands(commands: Any) -> None:
    """`optout ab-tests CAMPAIGN`: a campaign's A/B tests, or (`--set`) new ones."""
    tests = commands.add_parser(
        "ab-tests",
        help="a campaign's A/B tests: each variant's numbers, and the decision with its reason",
        description="Alone: each A/B-tested reminder whose test share has gone out, with each "
        "variant's messages, conversions and rate, and which variant goes to the rest, and why. "
        'With --set: the campaign\'s tests from a JSON file ({"ab_tests": [...]}, see the '
        "README's A/B tests); a test already started cannot be changed.",
    )
    tests.add_argument("campaign")
    tests.add_argument("--set", dest="file", type=Path, metavar="FILE.json", help="set them")
    tests.set_defaults(run=ab_tests)


# -- talking to the stack -------------------------------------------------------------------


class Client:
    """HTTP to the stack, with its failures turned into messages a person can act on."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.base_url = options.url.rstrip("/")
        self.token = options.token
        self.http = requests.Session()

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        if not self.token:
            raise Failure(
                "no admin token: pass --token or set OPTOUT_ADMIN_TOKEN (make run prints it)",
                MISUSED,
            )
        if any(character.isspace() or not character.isprintable() for character in self.token):
            raise Failure(
                "the admin token has a space, a line break or a control character in it: "
                "copy it again, alone",
                MISUSED,
            )
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.request(method, path, headers=headers, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        try:
            response = self.http.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.ConnectionError:
            raise Failure(
                f"cannot reach {self.base_url}: is the stack running? try make run "
                "(or give its address with --url or OPTOUT_URL)",
                UNREACHABLE,
            ) from None
        except requests.Timeout:
            raise Failure(f"{url} did not answer within {TIMEOUT_SECONDS} s", UNREACHABLE) from None
        if response.status_code == 401 and path.startswith("/admin"):
            raise Failure("wrong or missing admin token (--token or OPTOUT_ADMIN_TOKEN)")
        if response.status_code >= 400:
            raise Failure(
                _explain(response), UNREACHABLE if response.status_code >= 500 else REFUSED
            )
        return response


def _explain(response: requests.Response) -> str:
    """The server's own words for a refusal: its message and every problem it listed."""
    try:
        answer = response.json()
    except ValueError:
        return f"{response.status_code} {response.reason}: {response.text[:200].strip()}"
    if not isinstance(answer, dict):
        return f"{response.status_code} {response.reason}"
    lines = [f"{response.status_code} {answer.get('message') or answer.get('error', '')}"]
    problems = answer.get("problems") or {}
    lines += [f"  {where}: {problem}" for where, problem in problems.items()]
    return "\n".join(lines)


# -- webhook send ---------------------------------------------------------------------------


def send_webhook(options: argparse.Namespace, client: Client) -> int:
    """Check the body against the schema here (every problem at once), then sign it as a
    Standard Webhooks sender does and post it; print the server's answer."""
    body = _read_bytes(options.file)
    try:
        policy.parse(body)
    except InvalidInput as error:
        problems = "\n".join(f"  {path}: {problem}" for path, problem in error.problems.items())
        raise Failure(f"{options.file} is not a valid policy change:\n{problems}") from None
    except OptoutError as error:
        raise Failure(f"{options.file}: {error.message}") from None
    headers = {"Content-Type": "application/json", **signed_headers(options.webhook_secret, body)}
    response = client.request("POST", "/webhooks/policy-change", data=body, headers=headers)
    print(json.dumps(response.json(), indent=2))
    return 0


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for `body`."""
    if not secret:
        raise Failure(
            "no webhook secret: pass --webhook-secret or set OPTOUT_WEBHOOK_SECRET "
            "(make run prints it)",
            MISUSED,
        )
    try:
        key = signatures.parse_secrets(secret)[0]
    except ValueError as error:
        raise Failure(f"the webhook secret: {error}", MISUSED) from None
    webhook_id = "msg_" + secrets.token_hex(12)
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures.sign(key, webhook_id, timestamp, body),
    }


# -- import and export ----------------------------------------------------------------------


def import_file(options: argparse.Namespace, client: Client) -> int:
    """Send the file in parts, each with the header; report with the file's own line numbers.
    Exit 1 if any row was rejected, so that a script notices (the others are imported)."""
    header, rows = _read_csv(options.file)
    total = len(rows)
    merged: dict[str, Any] = {}
    progress = Progress(total, sys.stderr)
    for part, lines in _parts(header, rows, max(options.rows_per_request, 1)):
        response = client.admin(
            "POST",
            "/admin/subscribers/import",
            data=part.encode("utf-8"),
            headers={"Content-Type": "text/csv; charset=utf-8"},
        )
        _add_report(merged, response.json(), lines)
        progress.advance(len(lines))
    progress.finish()
    print(json.dumps(merged, indent=2))
    return REFUSED if merged.get("rejected") else 0


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header, and each non-blank row with the file line it starts on (header: line 1)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise Failure(f"cannot read {path}: {error.strerror}", MISUSED) from None
    except UnicodeDecodeError:
        raise Failure(f"{path} is not UTF-8 text; save it as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise Failure(f"{path} is empty: it needs a header row")
    rows, line = [], reader.line_num
    for cells in reader:
        first_line, line = line + 1, reader.line_num
        if any(cell.strip() for cell in cells):
            rows.append((first_line, cells))
    return header, rows


def _parts(
    header: list[str], rows: list[tuple[int, list[str]]], size: int
) -> Iterator[tuple[str, dict[int, int]]]:
    """CSV text of `size` rows at a time with the header, and for each part which of its lines
    is which line of the file."""
    for start in range(0, len(rows), size):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        lines: dict[int, int] = {}
        for file_line, cells in rows[start : start + size]:
            lines[out.getvalue().count("\n") + 1] = file_line
            writer.writerow(cells)
        yield out.getvalue(), lines


def _add_report(merged: dict[str, Any], report: dict[str, Any], lines: dict[int, int]) -> None:
    for name, value in report.items():
        if isinstance(value, int):
            merged[name] = merged.get(name, 0) + value
        elif isinstance(value, list):
            merged.setdefault(name, []).extend(
                {**entry, "line": lines.get(entry.get("line"), entry.get("line"))}
                for entry in value
            )


def export_file(options: argparse.Namespace, client: Client) -> int:
    """Every part of the export (each a Lambda response of at most 20,000 rows), one header."""
    parts: list[str] = []
    after = ""
    while True:
        query = {"format": "csv", **({"after": after} if after else {})}
        response = client.admin("GET", "/admin/subscribers/export", params=query)
        text = response.content.decode("utf-8")
        parts.append(text if not parts else text.partition("\n")[2])
        after = response.headers.get("X-Next-After", "")
        if not after:
            break
    text = "".join(parts)
    if options.output:
        options.output.write_text(text, encoding="utf-8", newline="")
        print(
            f"{max(text.count(chr(10)) - 1, 0)} subscribers written to {options.output}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


class Progress:
    """A bar on stderr: redrawn in place on a terminal, a line per step in a log."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.in_place = stream.isatty()

    def advance(self, count: int) -> None:
        self.done += count
        filled = self.WIDTH * self.done // max(self.total, 1)
        bar = (
            f"importing [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} rows"
        )
        self.stream.write(("\r" + bar) if self.in_place else (bar + "\n"))
        self.stream.flush()

    def finish(self) -> None:
        if self.in_place:
            self.stream.write("\n")
        if not self.total:
            self.stream.write("no rows to import\n")


# -- stats and preview ----------------------------------------------------------------------


def show_stats(options: argparse.Namespace, client: Client) -> int:
    path = f"/admin/campaigns/{options.campaign}/stats"
    if options.csv:
        sys.stdout.write(client.admin("GET", path, params={"format": "csv"}).text)
        return 0
    numbers = client.admin("GET", path, headers={"Accept": "application/json"}).json()
    print(table([*numbers["regions"], numbers["total"]]))
    return 0


def ab_tests(options: argparse.Namespace, client: Client) -> int:
    """Set the campaign's A/B tests from a file, or show them: a table a reminder, and its
    decision in the server's words."""
    path = f"/admin/campaigns/{quote(options.campaign, safe='')}"
    if options.file:
        try:
            document = json.loads(_read_bytes(options.file))
        except ValueError:
            raise Failure(f"{options.file} is not JSON") from None
        if not isinstance(document, dict) or "ab_tests" not in document:
            raise Failure(f'{options.file} must be a JSON object: {{"ab_tests": [...]}}')
        print(json.dumps(_post_json(client, f"{path}/ab-tests", document), indent=2))
        return 0
    numbers = client.admin("GET", f"{path}/stats", headers={"Accept": "application/json"}).json()
    started = numbers.get("ab_tests") or []
    if not started:
        print("No A/B test has started in this campaign yet (optout ab-tests CAMPAIGN --set ...).")
    for test in started:
        print(
            f"{test['reminder']}: {test['share']:.0%} of the audience, the rest after "
            f"{test['wait_hours']:g} h"
        )
        print(table([_variant_row(variant) for variant in test["variants"]]))
        decision = test["decision"]
        if decision:
            print(f"Goes to the rest: {decision['winner']}. {decision['reason']}\n")
        else:
            held = test["held_for_result"]
            print(
                f"Waiting for the result: the rest goes at {test['rest_due_at'] or 'once due'}"
                + (f"; {held} held for it" if held else "")
                + "\n"
            )
    return 0


def _variant_row(variant: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": variant["variant"]}
    for group in ("test", "rest"):
        numbers = variant[group]
        row |= {
            f"{group}_sent": numbers["sent"],
            f"{group}_switched_off": numbers["confirmed"],
            f"{group}_rate": f"{numbers['conversion_rate']:.1%}",
        }
    return row


def table(rows: list[dict[str, Any]]) -> str:
    """Rows as aligned columns, the first left-aligned and numbers right-aligned; columns
    every row lacks are left out, missing cells are 0."""
    columns: list[str] = []
    for row in rows:
        columns += [name for name in row if name not in columns]
    cells = [[_cell(row.get(name, 0)) for name in columns] for row in rows]
    widths = [max(len(text) for text in column) for column in zip(columns, *cells, strict=True)]

    def line(values: Sequence[str]) -> str:
        first, *rest = (
            value.ljust(width) if index == 0 else value.rjust(width)
            for index, (value, width) in enumerate(zip(values, widths, strict=True))
        )
        return "  ".join([first, *rest]).rstrip()

    return "\n".join([line(columns), *(line(row) for row in cells)])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1%}"
    return str(value)


def show_preview(options: argparse.Namespace, client: Client) -> int:
    query = {
        "region": options.region,
        "reminder": options.reminder,
        "channel": options.channel,
        "locale": options.locale,
    }
    path = f"/admin/campaigns/{options.campaign}/preview"
    message = client.admin("GET", path, params=query, headers={"Accept": "application/json"}).json()
    what = f"{message.get('reminder')} · {message.get('region')} · {message.get('locale')}"
    if message.get("sms"):
        sms = message["sms"]
        print(f"SMS ({what}): {sms['segments']} segments, {sms['encoding']}\n")
        print(sms["text"])
    else:
        print(f"Email ({what})\nSubject: {message['subject']}\n")
        print(message["text"])
    return 0


def run_recount(options: argparse.Namespace, client: Client) -> int:
    """Ask the stack to recount; print each counter it corrected, then the counts by region."""
    del options  # the command has no options of its own
    health = client.admin("POST", "/admin/list-health/recount").json()
    corrected = health["corrected"]
    if corrected:
        print(f"{len(corrected)} {'counter' if len(corrected) == 1 else 'counters'} corrected:")
        print(table(corrected))
    else:
        print("Every counter was right: nothing to correct.")
    print()
    print(table([*health["by_region"], {"region": "all", **health["total"]}]))
    return 0


# -- watches --------------------------------------------------------------------------------


def list_watches(options: argparse.Namespace, client: Client) -> int:
    """One line a watch: its id, state, failures, when it was last read, and why it fails."""
    del options  # the command has no options of its own
    found = client.admin("GET", "/admin/watches", headers={"Accept": "application/json"}).json()
    if not found["watches"]:
        print("No watch yet: optout watch add declares one.")
        return 0
    rows = [
        {
            "watch": watch["watch_id"],
            "state": watch["status"]["state"],
            "failures": watch["status"]["failures"],
            "checked_at": watch["status"]["checked_at"] or "-",
            "allies": len(watch["allies"]),
            "reason": watch["status"]["reason"] or "-",
        }
        for watch in found["watches"]
    ]
    print(table(rows))
    return 0


def add_watch(options: argparse.Namespace, client: Client) -> int:
    """Post the watch; print the server's answer, which holds each ally's secret this once."""
    document = _watch_document(options)
    created = client.admin(
        "POST",
        "/admin/watches",
        data=json.dumps(document).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    ).json()
    print(json.dumps(created, indent=2, ensure_ascii=False))
    if created.get("allies"):
        print(
            "optout: each ally's secret above is shown this once: give it to that ally now",
            file=sys.stderr,
        )
    return 0


_WATCH_OPTIONS = (
    "platform",
    "title",
    "page",
    "ota",
    "service",
    "terms_type",
    "about",
    "setting_url",
    "watch_id",
    "ally",
    "term",
)


def _watch_document(options: argparse.Namespace) -> dict[str, Any]:
    """The watch from a JSON file, or from the options (not both)."""
    options_given = [name for name in _WATCH_OPTIONS if getattr(options, name)]
    if options.file:
        if options_given:
            raise Failure("give a JSON file or options, not both", MISUSED)
        try:
            read = json.loads(_read_bytes(options.file))
        except ValueError:
            raise Failure(f"{options.file} is not JSON") from None
        if not isinstance(read, dict):
            raise Failure(f"{options.file} is not a JSON object: {{...}}")
        return read
    if options.page and options.ota:
        raise Failure("--page reads a page, --ota an archive: give one", MISUSED)
    if options.page:
        source: dict[str, str] = {"kind": "page", "url": options.page}
    elif options.ota:
        source = {
            "kind": "ota",
            "api_url": options.ota,
            "service_id": options.service or "",
            "terms_type": options.terms_type or "",
        }
    else:
        raise Failure(
            "what should be read? a FILE.json, or --page URL, or --ota API_URL with --service "
            "and --terms-type",
            MISUSED,
        )
    document: dict[str, Any] = {
        "platform": options.platform or "",
        "title": options.title or "",
        "source": source,
    }
    for name in ("about", "setting_url", "watch_id"):
        if getattr(options, name):
            document[name] = getattr(options, name)
    if options.ally:
        document["allies"] = options.ally
    if options.term:
        document["terms"] = options.term
    return document


def edit_watch(options: argparse.Namespace, client: Client) -> int:
    """Post what the options change; print the server's answer, which holds each new ally's
    secret this once."""
    document: dict[str, Any] = {
        name: getattr(options, name)
        for name in ("title", "about", "setting_url")
        if getattr(options, name) is not None
    }
    if options.term or options.default_terms:
        document["terms"] = options.term  # []: the default list
    if options.add_ally:
        document["add_allies"] = options.add_ally
    if options.remove_ally:
        document["remove_allies"] = options.remove_ally
    if not document:
        raise Failure(
            "nothing to change: give --title, --about, --setting-url, --term, --default-terms, "
            "--add-ally or --remove-ally",
            MISUSED,
        )
    edited = client.admin(
        "POST",
        f"/admin/watches/{quote(options.watch_id, safe='')}/edit",
        data=json.dumps(document).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    ).json()
    print(json.dumps(edited, indent=2, ensure_ascii=False))
    if edited.get("new_allies"):
        print(
            "optout: each new ally's secret above is shown this once: give it to that ally now",
            file=sys.stderr,
        )
    return 0


def act_on_watch(options: argparse.Namespace, client: Client) -> int:
    """show, pause, resume or delete one watch; print the server's answer."""
    path = f"/admin/watches/{quote(options.watch_id, safe='')}"
    if options.action == "show":
        response = client.admin("GET", path, headers={"Accept": "application/json"})
    elif options.action == "delete":
        response = client.admin("DELETE", path)
    else:
        response = client.admin("POST", f"{path}/{options.action}")
    print(json.dumps(response.json(), indent=2, ensure_ascii=False))
    return 0


# -- webhooks (events out) --------------------------------------------------------------------


def list_webhooks(options: argparse.Namespace, client: Client) -> int:
    """One line an endpoint: its id, status, events, when it last got one, and its address."""
    found = client.admin("GET", "/admin/webhooks", headers={"Accept": "application/json"}).json()
    if not found["endpoints"]:
        print("No endpoint yet: optout webhooks add URL registers one.")
        return 0
    rows = [
        {
            "endpoint": endpoint["endpoint_id"],
            "status": endpoint["status"],
            "events": "all" if endpoint["every_event"] else ",".join(endpoint["events"]),
            "crm": "yes" if endpoint["own_crm"] else "-",
            "last_delivered_at": endpoint["last_delivered_at"] or "-",
            "url": endpoint["url"],
        }
        for endpoint in found["endpoints"]
    ]
    print(table(rows))
    return 0


def add_webhook(options: argparse.Namespace, client: Client) -> int:
    """Register the endpoint; print the answer, which holds its secret this once."""
    document: dict[str, Any] = {"url": options.endpoint_url, "own_crm": options.crm}
    if options.event:
        document["events"] = options.event
    if options.description:
        document["description"] = options.description
    created = _post_json(client, "/admin/webhooks", document)
    print(json.dumps(created, indent=2, ensure_ascii=False))
    print(
        "optout: the secret above is shown this once: give it to the endpoint now", file=sys.stderr
    )
    return 0


def edit_webhook(options: argparse.Namespace, client: Client) -> int:
    document: dict[str, Any] = {}
    if options.endpoint_url:
        document["url"] = options.endpoint_url
    if options.event or options.every_event:
        document["events"] = options.event  # []: every type
    if options.crm is not None:
        document["own_crm"] = options.crm
    if options.description is not None:
        document["description"] = options.description
    if not document:
        raise Failure(
            "nothing to change: give --endpoint-url, --event, --every-event, --crm, --not-crm "
            "or --description",
            MISUSED,
        )
    path = f"/admin/webhooks/{quote(options.endpoint_id, safe='')}/edit"
    print(json.dumps(_post_json(client, path, document), indent=2, ensure_ascii=False))
    return 0


def replay_webhook(options: argparse.Namespace, client: Client) -> int:
    if options.event_id and not (options.start or options.end):
        document: dict[str, Any] = {"event_id": options.event_id}
    elif options.start and options.end and not options.event_id:
        document = {"from": options.start, "to": options.end}
    else:
        raise Failure("give --event-id EVT, or --from TIME and --to TIME", MISUSED)
    path = f"/admin/webhooks/{quote(options.endpoint_id, safe='')}/replay"
    print(json.dumps(_post_json(client, path, document), indent=2, ensure_ascii=False))
    return 0


def act_on_webhook(options: argparse.Namespace, client: Client) -> int:
    """show, pause, resume, delete or rotate the secret of one endpoint; print the answer."""
    path = f"/admin/webhooks/{quote(options.endpoint_id, safe='')}"
    if options.action == "show":
        response = client.admin("GET", path, headers={"Accept": "application/json"})
    elif options.action == "delete":
        response = client.admin("DELETE", path)
    else:
        response = client.admin("POST", f"{path}/{options.action}")
    print(json.dumps(response.json(), indent=2, ensure_ascii=False))
    if options.action == "rotate-secret":
        print("optout: the new secret above is shown this once", file=sys.stderr)
    return 0


# -- organisations (coalition mode) --------------------------------------------------------


def list_organisations(options: argparse.Namespace, client: Client) -> int:
    """One line an organisation: its id, name and From address; the default one first."""
    found = client.admin(
        "GET", "/admin/organisations", headers={"Accept": "application/json"}
    ).json()
    rows = [
        {
            "organisation": org["id"] + (" (default)" if org["default"] else ""),
            "name": org["name"],
            "sender": org["sender_address"],
        }
        for org in found["organisations"]
    ]
    print(table(rows))
    return 0


def add_organisation(options: argparse.Namespace, client: Client) -> int:
    document = {"id": options.organisation_id, **_organisation_fields(options)}
    created = _post_json(client, "/admin/organisations", document)
    print(json.dumps(created, indent=2, ensure_ascii=False))
    return 0


def edit_organisation(options: argparse.Namespace, client: Client) -> int:
    document = _organisation_fields(options)
    if not document:
        raise Failure(
            "nothing to change: give " + ", ".join(o for o, _, _ in _ORGANISATION_OPTIONS),
            MISUSED,
        )
    path = f"{_organisation_path(options)}/edit"
    print(json.dumps(_post_json(client, path, document), indent=2, ensure_ascii=False))
    return 0


def show_organisation(options: argparse.Namespace, client: Client) -> int:
    shown = client.admin(
        "GET", _organisation_path(options), headers={"Accept": "application/json"}
    ).json()
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0


def add_organiser_token(options: argparse.Namespace, client: Client) -> int:
    """A token for one of the organisation's organisers; printed this once."""
    path = f"{_organisation_path(options)}/tokens"
    added = _post_json(client, path, {"name": options.name})
    print(json.dumps(added, indent=2, ensure_ascii=False))
    print(
        "optout: the token above is shown this once: give it to its organiser now", file=sys.stderr
    )
    return 0


def list_organiser_tokens(options: argparse.Namespace, client: Client) -> int:
    path = f"{_organisation_path(options)}/tokens"
    found = client.admin("GET", path, headers={"Accept": "application/json"}).json()
    if not found["tokens"]:
        print(f"No token yet: optout organisation token add {options.organisation_id} NAME")
        return 0
    rows = [
        {"token_id": t["token_id"], "name": t["name"], "created_at": t["created_at"]}
        for t in found["tokens"]
    ]
    print(table(rows))
    return 0


def revoke_organiser_token(options: argparse.Namespace, client: Client) -> int:
    path = f"{_organisation_path(options)}/tokens/{quote(options.token_id, safe='')}"
    response = client.admin("DELETE", path, headers={"Accept": "application/json"})
    print(json.dumps(response.json(), indent=2, ensure_ascii=False))
    return 0


def _organisation_path(options: argparse.Namespace) -> str:
    return f"/admin/organisations/{quote(options.organisation_id, safe='')}"


def _organisation_fields(options: argparse.Namespace) -> dict[str, str]:
    """The fields given as options (those left out are not sent)."""
    given = {field: getattr(options, field) for _, field, _ in _ORGANISATION_OPTIONS}
    return {field: value for field, value in given.items() if value is not None}


def _post_json(client: Client, path: str, document: dict[str, Any]) -> Any:
    return client.admin(
        "POST",
        path,
        data=json.dumps(document).encode("utf-8"),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    ).json()


def run_smoke(options: argparse.Namespace, client: Client) -> int:
    from optout.organisers import smoke  # it builds on this module

    return smoke.main(options, client)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise Failure(f"cannot read {path}: {error.strerror}", MISUSED) from None


def run() -> NoReturn:
    """The console script's entry point."""
    sys.exit(main())
