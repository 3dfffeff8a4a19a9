"""`optout ab-tests CAMPAIGN` shows a campaign's A/B tests as the stats route reports them, and
`--set FILE.json` sends the file to the A/B tests route, and nothing else (the routes themselves
are tests/integration/test_ab_tests.py's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from optout.organisers import cli

DECIDED = {
    "reminder": "EU-07",
    "share": 0.2,
    "wait_hours": 4.0,
    "held_for_result": 0,
    "rest_due_at": "",
    "variants": [
        {
            "variant": name,
            "test": {"sent": 50, "confirmed": confirmed, "conversion_rate": confirmed / 50},
            "rest": {"sent": rest, "confirmed": 0, "conversion_rate": 0.0},
        }
        for name, confirmed, rest in (("A", 2, 0), ("B", 6, 400))
    ],
    "decision": {"winner": "B", "reason": "B: 12.0% vs 4.0%, significant at 95%"},
}
WAITING = {
    **DECIDED,
    "reminder": "CA-07",
    "decision": None,
    "held_for_result": 3,
    "rest_due_at": "2025-10-27T18:00:00Z",
}


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    calls: list[tuple[str, str, Any]] = []

    def admin(self: cli.Client, method: str, path: str, **kwargs: Any) -> Answer:
        calls.append((method, path, json.loads(kwargs["data"]) if "data" in kwargs else None))
        if path.endswith("/stats"):
            return Answer({"ab_tests": [DECIDED, WAITING]})
        return Answer({"ab_tests": [{"days_before": 7}]})

    monkeypatch.setattr(cli.Client, "admin", admin)
    return calls


def optout(*arguments: str) -> int:
    return cli.main(["--url", "http://127.0.0.1:3000", "--token", "t", "ab-tests", *arguments])


def test_alone_it_shows_each_variants_numbers_and_the_decision_in_words(
    sent: list[tuple[str, str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert optout("linkedin-genai-2025") == 0

    assert sent == [("GET", "/admin/campaigns/linkedin-genai-2025/stats", None)]
    out = capsys.readouterr().out
    assert "EU-07: 20% of the audience, the rest after 4 h" in out
    assert "Goes to the rest: B. B: 12.0% vs 4.0%, significant at 95%" in out
    b_row = next(line for line in out.splitlines() if line.startswith("B "))
    assert b_row.split() == ["B", "50", "6", "12.0%", "400", "0", "0.0%"]
    assert "Waiting for the result: the rest goes at 2025-10-27T18:00:00Z; 3 held for it" in out


def test_set_sends_the_file_as_it_is(sent: list[tuple[str, str, Any]], tmp_path: Path) -> None:
    document = {"ab_tests": [{"days_before": 7, "variants": [{"subject": {"en": "A"}}]}]}
    (tmp_path / "tests.json").write_text(json.dumps(document), encoding="utf-8")

    assert optout("linkedin-genai-2025", "--set", str(tmp_path / "tests.json")) == 0

    assert sent == [("POST", "/admin/campaigns/linkedin-genai-2025/ab-tests", document)]


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"tests": []}'])
def test_a_file_that_is_not_a_set_of_tests_is_refused_and_nothing_is_sent(
    sent: list[tuple[str, str, Any]],
    tmp_path: Path,
    text: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "tests.json").write_text(text, encoding="utf-8")

    assert optout("c", "--set", str(tmp_path / "tests.json")) == cli.REFUSED

    assert sent == []
    assert "tests.json" in capsys.readouterr().err
