"""`optout watch edit` sends what its options change, and nothing else, to
POST /admin/watches/{id}/edit (the route itself is tests/integration/test_watch_editing.py's)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optout.organisers import cli

NEW_ALLY = {"url": "https://b.example.org/in", "secret": "whsec_x"}


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """The requests the command made; an ally added is answered with its secret."""
    calls: list[tuple[str, str, Any]] = []

    def admin(self: cli.Client, method: str, path: str, **kwargs: Any) -> Answer:
        document = json.loads(kwargs["data"])
        calls.append((method, path, document))
        return Answer({"new_allies": [NEW_ALLY] if "add_allies" in document else []})

    monkeypatch.setattr(cli.Client, "admin", admin)
    return calls


def edit(*arguments: str) -> int:
    return cli.main(["--url", "http://127.0.0.1:3000", "--token", "t", "watch", "edit", *arguments])


def test_only_the_options_given_are_sent(sent: list[tuple[str, str, Any]]) -> None:
    assert edit("li ai", "--title", "LinkedIn's AI setting", "--term", "AI", "--term", "train") == 0
    assert sent == [
        (
            "POST",
            "/admin/watches/li%20ai/edit",
            {"title": "LinkedIn's AI setting", "terms": ["AI", "train"]},
        )
    ]


def test_default_terms_send_an_empty_list(sent: list[tuple[str, str, Any]]) -> None:
    assert edit("li-ai", "--default-terms") == 0
    assert sent[0][2] == {"terms": []}


def test_allies_are_added_and_removed_and_new_secrets_flagged(
    sent: list[tuple[str, str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    added = edit(
        "li-ai",
        "--add-ally",
        "https://b.example.org/in",
        "--remove-ally",
        "https://a.example.org/in",
        "--setting-url",
        "",
    )
    assert added == 0
    assert sent[0][2] == {
        "setting_url": "",
        "add_allies": ["https://b.example.org/in"],
        "remove_allies": ["https://a.example.org/in"],
    }
    out = capsys.readouterr()
    assert "whsec_x" in out.out and "shown this once" in out.err


def test_nothing_to_change_is_a_misuse(
    sent: list[tuple[str, str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert edit("li-ai") == 2
    assert sent == [] and "nothing to change" in capsys.readouterr().err


def test_terms_and_the_default_terms_together_are_refused(sent: list[tuple[str, str, Any]]) -> None:
    with pytest.raises(SystemExit) as exited:
        edit("li-ai", "--term", "AI", "--default-terms")
    assert exited.value.code == 2 and sent == []
