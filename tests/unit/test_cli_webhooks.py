"""`optout webhooks ...` sends what its options say, and nothing else, to /admin/webhooks (the
routes themselves are tests/integration/test_webhooks_admin.py's)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optout.organisers import cli

SECRET = "whsec_c2VjcmV0"


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """The requests the command made; each is answered as the admin API would, in short."""
    calls: list[tuple[str, str, Any]] = []

    def admin(self: cli.Client, method: str, path: str, **kwargs: Any) -> Answer:
        document = json.loads(kwargs["data"]) if "data" in kwargs else None
        calls.append((method, path, document))
        if method == "GET" and path == "/admin/webhooks":
            return Answer({"endpoints": []})
        return Answer({"endpoint_id": "ep_a", "secret": SECRET})

    monkeypatch.setattr(cli.Client, "admin", admin)
    return calls


def optout(*arguments: str) -> int:
    return cli.main(["--url", "http://127.0.0.1:3000", "--token", "t", "webhooks", *arguments])


def test_alone_it_lists_the_endpoints(
    sent: list[tuple[str, str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert optout() == 0
    assert sent == [("GET", "/admin/webhooks", None)]
    assert "No endpoint yet" in capsys.readouterr().out


def test_add_registers_the_endpoint_and_says_the_secret_is_shown_once(
    sent: list[tuple[str, str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://crm.example.org/in"
    assert optout("add", url, "--event", "subscriber.confirmed", "--crm") == 0

    assert sent == [
        (
            "POST",
            "/admin/webhooks",
            {"url": url, "own_crm": True, "events": ["subscriber.confirmed"]},
        )
    ]
    printed = capsys.readouterr()
    assert SECRET in printed.out and "shown this once" in printed.err


def test_edit_sends_only_what_it_changes(sent: list[tuple[str, str, Any]]) -> None:
    assert optout("edit", "ep_a", "--every-event", "--not-crm") == 0

    assert sent == [("POST", "/admin/webhooks/ep_a/edit", {"events": [], "own_crm": False})]


def test_nothing_to_edit_is_a_misuse(sent: list[tuple[str, str, Any]]) -> None:
    assert optout("edit", "ep_a") == cli.MISUSED
    assert sent == []


@pytest.mark.parametrize(
    ("options", "document"),
    [
        (("--event-id", "evt_x"), {"event_id": "evt_x"}),
        (
            ("--from", "2025-10-27T00:00:00Z", "--to", "2025-10-28T00:00:00Z"),
            {"from": "2025-10-27T00:00:00Z", "to": "2025-10-28T00:00:00Z"},
        ),
    ],
)
def test_replay_sends_one_event_or_a_range(
    sent: list[tuple[str, str, Any]], options: tuple[str, ...], document: dict[str, str]
) -> None:
    assert optout("replay", "ep_a", *options) == 0
    assert sent == [("POST", "/admin/webhooks/ep_a/replay", document)]


@pytest.mark.parametrize(
    "options",
    [(), ("--from", "2025-10-27T00:00:00Z"), ("--event-id", "e", "--to", "2025-10-27T00:00:00Z")],
)
def test_a_replay_that_names_neither_or_both_is_a_misuse(
    sent: list[tuple[str, str, Any]], options: tuple[str, ...]
) -> None:
    assert optout("replay", "ep_a", *options) == cli.MISUSED
    assert sent == []


@pytest.mark.parametrize(
    ("action", "method", "path"),
    [
        ("show", "GET", "/admin/webhooks/ep_a"),
        ("pause", "POST", "/admin/webhooks/ep_a/pause"),
        ("resume", "POST", "/admin/webhooks/ep_a/resume"),
        ("delete", "DELETE", "/admin/webhooks/ep_a"),
        ("rotate-secret", "POST", "/admin/webhooks/ep_a/rotate-secret"),
    ],
)
def test_each_action_calls_its_route(
    sent: list[tuple[str, str, Any]], action: str, method: str, path: str
) -> None:
    assert optout(action, "ep_a") == 0
    assert [(m, p) for m, p, _ in sent] == [(method, path)]
