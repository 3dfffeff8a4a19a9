"""`optout organisations` and `optout organisation ...` send what their options say, and nothing
else, to /admin/organisations (the routes themselves are
tests/integration/test_organisations_admin.py's)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optout.organisers import cli

TOKEN = "oot_shown-once"


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
        if path == "/admin/organisations":
            default = {"id": "default", "name": "Us", "sender_address": "a@b.org", "default": True}
            return Answer({"organisations": [default]})
        if path.endswith("/tokens") and method == "GET":
            return Answer({"organisation": "friends-de", "tokens": []})
        return Answer({"token_id": "tok_a", "token": TOKEN})

    monkeypatch.setattr(cli.Client, "admin", admin)
    return calls


def optout(*arguments: str) -> int:
    return cli.main(["--url", "http://127.0.0.1:3000", "--token", "t", *arguments])


def test_organisations_lists_them_the_default_one_marked(
    sent: list[tuple[str, str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert optout("organisations") == 0

    assert sent == [("GET", "/admin/organisations", None)]
    assert "default (default)" in capsys.readouterr().out


def test_add_sends_the_id_and_only_the_fields_given(sent: list[tuple[str, str, Any]]) -> None:
    arguments = ["--name", "Friends", "--sender", "hallo@friends.org", "--postal", "Berlin"]

    assert optout("organisation", "add", "friends-de", *arguments) == 0

    assert sent == [
        (
            "POST",
            "/admin/organisations",
            {
                "id": "friends-de",
                "name": "Friends",
                "sender_address": "hallo@friends.org",
                "postal_address": "Berlin",
            },
        )
    ]


def test_edit_with_nothing_to_change_is_a_misuse_and_sends_nothing(
    sent: list[tuple[str, str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert optout("organisation", "edit", "friends-de") == cli.MISUSED

    assert sent == []
    assert "nothing to change" in capsys.readouterr().err


def test_edit_sends_what_changes(sent: list[tuple[str, str, Any]]) -> None:
    assert optout("organisation", "edit", "friends-de", "--privacy-notice", "https://p") == 0

    assert sent == [
        ("POST", "/admin/organisations/friends-de/edit", {"privacy_notice_url": "https://p"})
    ]


def test_token_add_prints_the_token_and_says_it_is_shown_once(
    sent: list[tuple[str, str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert optout("organisation", "token", "add", "friends-de", "Ana") == 0

    assert sent == [("POST", "/admin/organisations/friends-de/tokens", {"name": "Ana"})]
    printed = capsys.readouterr()
    assert TOKEN in printed.out and "shown this once" in printed.err


def test_token_list_and_revoke_name_the_organisation_and_the_token(
    sent: list[tuple[str, str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert optout("organisation", "token", "list", "friends-de") == 0
    assert optout("organisation", "token", "revoke", "friends-de", "tok_a") == 0

    assert sent == [
        ("GET", "/admin/organisations/friends-de/tokens", None),
        ("DELETE", "/admin/organisations/friends-de/tokens/tok_a", None),
    ]
    assert "No token yet" in capsys.readouterr().out
