"""The `optout` command as an organiser runs it: the installed console script against a local
stack in its own process, and `preview` against a stub server (its route is not built here)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from optout.organisers import cli
from tests.e2e.conftest import DEMO_SECRETS, StackClient, running_stack

pytestmark = pytest.mark.slow

OPTOUT = Path(sys.executable).parent / "optout"  # installed by `pip install -e .`
PAYLOAD = json.loads(
    (
        Path(__file__).resolve().parents[2] / "events/payloads/policy-changed.linkedin.json"
    ).read_text(encoding="utf-8")
)
HEADER = (
    "contact,region,locale,timezone,platforms,consent_source,consent_at,consent_form,consent_proof"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackClient]:
    """An empty stack whose secrets the test knows, as an organiser knows them from make run."""
    log = tmp_path_factory.mktemp("cli-stack") / "stack.log"
    with running_stack(log, "--no-demo", env=DEMO_SECRETS) as client:
        # The LinkedIn payload's weeks: a stack refuses deadlines more than a year behind its clock
        client.move_clock(set="2025-10-13T09:00:00Z").raise_for_status()
        yield client


def optout(
    *arguments: str, url: str, token: str | None = None, secret: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the console script with the settings in the environment, as the README shows."""
    env = {
        "PATH": "/usr/bin:/bin",
        "OPTOUT_URL": url,
        "OPTOUT_ADMIN_TOKEN": DEMO_SECRETS["OPTOUT_ADMIN_TOKEN"] if token is None else token,
        "OPTOUT_WEBHOOK_SECRET": DEMO_SECRETS["OPTOUT_WEBHOOK_SECRET"]
        if secret is None
        else secret,
    }
    return subprocess.run(  # noqa: S603 (our own console script)
        [str(OPTOUT), *arguments], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def write_payload(tmp_path: Path, campaign_id: str, **changes: Any) -> Path:
    payload = {**PAYLOAD, "policy": {**PAYLOAD["policy"], "id": campaign_id}, **changes}
    path = tmp_path / f"{campaign_id}.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


# -- against the local stack ----------------------------------------------------------------


def test_webhook_send_signs_the_file_and_the_stack_creates_the_campaign(
    stack: StackClient, tmp_path: Path
) -> None:
    sent = optout("webhook", "send", str(write_payload(tmp_path, "cli-one")), url=stack.base_url)
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["campaign_id"] == "cli-one"
    listed = stack.get(
        "/admin/campaigns",
        headers={"Authorization": f"Bearer {DEMO_SECRETS['OPTOUT_ADMIN_TOKEN']}"},
    ).json()
    assert "cli-one" in [c["campaign_id"] for c in listed["campaigns"]]


def test_webhook_send_lists_every_problem_of_a_bad_file_and_sends_nothing(
    stack: StackClient, tmp_path: Path
) -> None:
    bad = write_payload(tmp_path, "cli-bad", type="policy.exploded", regions=[{"region": "XX"}])
    sent = optout("webhook", "send", str(bad), url=stack.base_url)
    assert sent.returncode == 1
    assert "  type: " in sent.stderr and "  regions[0]" in sent.stderr
    assert sent.stdout == ""


def test_webhook_send_with_a_wrong_secret_says_the_server_refused_it(
    stack: StackClient, tmp_path: Path
) -> None:
    wrong = "whsec_" + "d3Jvbmcta2V5LWZvci10ZXN0cw=="
    sent = optout(
        "webhook", "send", str(write_payload(tmp_path, "cli-x")), url=stack.base_url, secret=wrong
    )
    assert sent.returncode == 1 and "401" in sent.stderr and "signature" in sent.stderr


def test_import_shows_progress_and_reports_with_the_file_s_line_numbers(
    stack: StackClient, tmp_path: Path
) -> None:
    rows = [
        f"cli{n:03d}@example.org,DE,de,,linkedin,FOSDEM stall,2025-02-01,v1," for n in range(40)
    ]
    rows.insert(30, "not-an-address,DE,,,,,,,")  # line 34 of the file (after the insert below)
    rows.insert(10, '"clidup@example.org",CH,,,,"met at\nthe stall",,,')  # two lines: 12 and 13
    rows.append("CLIDUP@example.org,CH,fr,,,,,,")
    path = tmp_path / "people.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    imported = optout("import", str(path), "--rows-per-request", "15", url=stack.base_url)
    assert imported.returncode == 1, imported.stderr  # a row was rejected
    assert "importing [" in imported.stderr and "43/43 rows" in imported.stderr
    report = json.loads(imported.stdout)
    assert report["imported_active"] == 40 and report["confirmation_sent"] == 1
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(34, "contact")]
    # The warning about the first clidup row (a source without a date) is on its own line.
    assert [w["line"] for w in report["warnings"]] == [12]


def test_export_writes_the_active_subscribers_to_a_file(stack: StackClient, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        f"{HEADER}\nexp1@example.org,FR,,,,FOSDEM,2025-02-01,v1,\nexp2@example.org,FR,,,,,,,\n",
        encoding="utf-8",
    )
    imported = optout("import", str(path), url=stack.base_url)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["rejected"] == []
    out = tmp_path / "out.csv"
    exported = optout("export", "-o", str(out), url=stack.base_url)
    assert exported.returncode == 0, exported.stderr
    contacts = [row["contact"] for row in csv.DictReader(io.StringIO(out.read_text()))]
    assert "exp1@example.org" in contacts and "exp2@example.org" not in contacts  # pending


def test_stats_prints_the_regions_as_a_table_or_as_csv(stack: StackClient, tmp_path: Path) -> None:
    assert (
        optout(
            "webhook", "send", str(write_payload(tmp_path, "cli-stats")), url=stack.base_url
        ).returncode
        == 0
    )
    shown = optout("stats", "cli-stats", url=stack.base_url)
    assert shown.returncode == 0, shown.stderr
    header, *lines = shown.stdout.splitlines()
    assert header.split()[:5] == ["region", "audience", "sent", "clicked", "confirmed"]
    assert [line.split()[0] for line in lines] == ["CA", "CH", "EEA", "EU", "HK", "all"]
    assert len({len(line) for line in [header, *lines]}) == 1  # aligned
    as_csv = optout("stats", "cli-stats", "--csv", url=stack.base_url)
    assert as_csv.stdout.startswith("region,audience,sent,clicked,confirmed")


def test_recount_finds_the_counters_right_and_prints_the_counts_by_region(
    stack: StackClient, tmp_path: Path
) -> None:
    # Given people imported (active) and signed up (pending) through the stack's routes
    path = tmp_path / "recount.csv"
    path.write_text(
        f"{HEADER}\nrec1@example.org,CH,,,,FOSDEM,2025-02-01,v1,\nrec2@example.org,CH,,,,,,,\n",
        encoding="utf-8",
    )
    assert optout("import", str(path), url=stack.base_url).returncode == 0
    before = stack.get(
        "/admin/list-health",
        headers={"Authorization": f"Bearer {DEMO_SECRETS['OPTOUT_ADMIN_TOKEN']}"},
    ).json()
    # When the organiser recounts
    recounted = optout("recount", url=stack.base_url)
    # Then the counters kept on writes were right, and the counts are printed by region
    assert recounted.returncode == 0, recounted.stderr
    first, blank, header, *lines = recounted.stdout.splitlines()
    assert first == "Every counter was right: nothing to correct." and blank == ""
    assert header.split() == ["region", "pending", "active", "unsubscribed", "suppressed"]
    rows = {line.split()[0]: [int(n) for n in line.split()[1:]] for line in lines}
    (switzerland,) = [row for row in before["by_region"] if row["region"] == "CH"]
    assert rows["CH"] == [
        switzerland[s] for s in ("pending", "active", "unsubscribed", "suppressed")
    ]
    assert rows["CH"][:2] >= [1, 1]  # rec2 waits to confirm, rec1 is active
    assert rows["all"][1] == before["total"]["active"]


def test_a_wrong_token_and_a_stopped_stack_are_explained(stack: StackClient) -> None:
    wrong = optout("export", url=stack.base_url, token="not-the-token")
    assert (wrong.returncode, wrong.stdout) == (1, "")
    assert "wrong or missing admin token" in wrong.stderr
    missing = optout("export", url=stack.base_url, token="")
    assert missing.returncode == 2 and "OPTOUT_ADMIN_TOKEN" in missing.stderr
    nobody = optout("stats", "x", url="http://127.0.0.1:9")  # the discard port: nothing listens
    assert nobody.returncode == 3 and "is the stack running? try make run" in nobody.stderr


def test_watch_add_prints_each_ally_s_secret_once_and_watches_lists_it(
    stack: StackClient, tmp_path: Path
) -> None:
    # The stack reads loopback addresses: its own subscribe page stands in for a policy page
    added = optout(
        "watch",
        "add",
        "--platform",
        "cliplatform",
        "--title",
        "A page the stack serves",
        "--page",
        stack.url("/subscribe"),
        "--ally",
        "https://hooks.example.org/optout",
        url=stack.base_url,
    )
    assert added.returncode == 0, added.stderr
    created = json.loads(added.stdout)
    assert created["watch_id"] == "cliplatform-subscribe"
    [ally] = created["allies"]
    assert ally["secret"].startswith("whsec_") and "shown this once" in added.stderr

    listed = optout("watches", url=stack.base_url)
    assert listed.returncode == 0, listed.stderr
    [header, *rows] = listed.stdout.splitlines()
    assert header.split() == ["watch", "state", "failures", "checked_at", "allies", "reason"]
    [row] = [row.split() for row in rows if row.startswith("cliplatform-subscribe ")]
    assert row[1] in ("new", "ok")  # the stack's pump may have read it already
    shown = optout("watch", "show", "cliplatform-subscribe", url=stack.base_url)
    assert ally["secret"] not in shown.stdout
    assert json.loads(shown.stdout)["allies"][0]["secret_hint"].startswith("whsec_…")

    paused = optout("watch", "pause", "cliplatform-subscribe", url=stack.base_url)
    assert json.loads(paused.stdout) == {"watch_id": "cliplatform-subscribe", "paused": True}
    assert "paused" in optout("watches", url=stack.base_url).stdout
    resumed = optout("watch", "resume", "cliplatform-subscribe", url=stack.base_url)
    assert json.loads(resumed.stdout)["paused"] is False
    deleted = optout("watch", "delete", "cliplatform-subscribe", url=stack.base_url)
    assert json.loads(deleted.stdout) == {"watch_id": "cliplatform-subscribe", "deleted": True}
    again = optout("watch", "delete", "cliplatform-subscribe", url=stack.base_url)
    assert again.returncode == 1 and "404" in again.stderr


def test_watch_add_from_a_file_lists_every_problem_and_adds_nothing(
    stack: StackClient, tmp_path: Path
) -> None:
    path = tmp_path / "watch.json"
    path.write_text(
        json.dumps(
            {
                "platform": "Bad Platform",
                "title": "A watch with problems",
                "source": {"kind": "page", "url": "https://www.linkedin.com:8443/help"},
                "allies": ["ftp://hooks.example.org/"],
            }
        ),
        encoding="utf-8",
    )
    added = optout("watch", "add", str(path), url=stack.base_url)
    assert (added.returncode, added.stdout) == (1, "")
    for field in ("  platform: ", "  source.url: port 8443", "  allies[0]: "):
        assert field in added.stderr, added.stderr
    neither = optout("watch", "add", "--platform", "x", url=stack.base_url)
    assert neither.returncode == 2 and "--page" in neither.stderr


# -- preview, against a stub of the route another branch builds -----------------------------


class StubPreview(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, dict[str, Any]]] = {}
    seen: ClassVar[list[tuple[str, dict[str, list[str]], str]]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.seen.append((url.path, query, self.headers.get("Authorization", "")))
        body = json.dumps(self.answers[query["channel"][0]]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubPreview)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    StubPreview.seen = []
    StubPreview.answers = {
        "email": {
            "channel": "email",
            "locale": "de",
            "region": "EU",
            "reminder": "one-week-left",
            "subject": "Noch eine Woche: KI-Training auf LinkedIn abschalten",
            "text": "Hallo,\nnoch sieben Tage ...",
            "html": "<p>Hallo</p>",
            "sms": None,
            "headers": {"List-Unsubscribe": "<https://example.org/u>"},
        },
        "sms": {
            "channel": "sms",
            "locale": "de",
            "region": "EU",
            "reminder": "one-week-left",
            "subject": "",
            "text": "",
            "html": "",
            "sms": {
                "text": "Noch 7 Tage: LinkedIn-KI abschalten",
                "segments": 2,
                "encoding": "GSM-7",
            },
            "headers": {},
        },
    }
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def preview(url: str, channel: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(
        [
            "--url", url,
            "--token", "stub-token",
            "preview", "linkedin-genai-2025",
            "--region", "EU", "--reminder", "one-week-left", "--channel", channel, "--locale", "de",
        ]
    )  # fmt: skip
    return code, capsys.readouterr().out


def test_preview_prints_an_email_s_subject_and_text(
    stub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = preview(stub, "email", capsys)
    assert code == 0
    assert "Subject: Noch eine Woche: KI-Training auf LinkedIn abschalten" in out
    assert "noch sieben Tage" in out and "<p>" not in out
    path, query, authorization = StubPreview.seen[0]
    assert path == "/admin/campaigns/linkedin-genai-2025/preview"
    assert query == {
        "region": ["EU"],
        "reminder": ["one-week-left"],
        "channel": ["email"],
        "locale": ["de"],
    }
    assert authorization == "Bearer stub-token"


def test_preview_prints_a_text_with_its_segment_count(
    stub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = preview(stub, "sms", capsys)
    assert code == 0
    assert "2 segments, GSM-7" in out and "Noch 7 Tage: LinkedIn-KI abschalten" in out


class StubRecount(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str]]] = []
    answer: ClassVar[dict[str, Any]] = {
        "total": {"pending": 0, "active": 2, "unsubscribed": 1, "suppressed": 0},
        "by_region": [
            {"region": "DE", "pending": 0, "active": 2, "unsubscribed": 1, "suppressed": 0}
        ],
        "by_channel": [],
        "by_language": [],
        "timeline": {},
        "signups": 0,
        "confirmed": 0,
        "confirmation_rate": 0.0,
        "corrected": [
            {"region": "DE", "channel": "email", "language": "de", "state": "active"}
            | {"was": 3, "now": 2},
            {"region": "DE", "channel": "email", "language": "de", "state": "unsubscribed"}
            | {"was": 0, "now": 1},
        ],
    }

    def do_POST(self) -> None:
        self.seen.append(("POST", self.path, self.headers.get("Authorization", "")))
        body = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_recount_prints_each_counter_it_corrected(capsys: pytest.CaptureFixture[str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubRecount)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    StubRecount.seen = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        code = cli.main(["--url", url, "--token", "stub-token", "recount"])
    finally:
        server.shutdown()
        server.server_close()
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert StubRecount.seen == [("POST", "/admin/list-health/recount", "Bearer stub-token")]
    assert out[0] == "2 counters corrected:"
    assert out[1].split() == ["region", "channel", "language", "state", "was", "now"]
    assert out[2].split() == ["DE", "email", "de", "active", "3", "2"]
    assert out[3].split() == ["DE", "email", "de", "unsubscribed", "0", "1"]
    assert out[4] == ""
    assert [line.split() for line in out[6:]] == [
        ["DE", "0", "2", "1", "0"],
        ["all", "0", "2", "1", "0"],
    ]


def test_a_token_pasted_with_its_line_break_is_refused_before_any_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Nothing listens on port 9: a request would be "cannot reach", exit code 3
    code = cli.main(["--url", "http://127.0.0.1:9", "--token", "abc\n", "stats", "linkedin"])
    assert code == cli.MISUSED
    assert "the admin token has a space, a line break or a control character" in (
        capsys.readouterr().err
    )
