"""A draft campaign: what it may lack until it is launched (and how that is said), and the
dashboard form that completes it."""

from __future__ import annotations

import json

import pytest

from optout.core.errors import InvalidInput
from optout.domain import drafts, policy
from optout.domain.models import Policy, PolicyText

# -- what a draft lacks until launched -----------------------------------------------------------


def text(steps: tuple[str, ...] = (), setting_url: str = "") -> Policy:
    return Policy("x", PolicyText("T", "T", "", steps), "", setting_url, {})


def test_a_draft_says_what_it_lacks_first_regions_and_deadlines() -> None:
    assert policy.launch_problem(text(), {}) == (
        "the draft is not complete: add regions and deadlines first; it also needs the opt-out "
        "steps and the setting's address"
    )
    assert policy.launch_problem(text(("Switch it off.",), "https://x.example"), {}) == (
        "the draft is not complete: add regions and deadlines first"
    )
    assert policy.launch_problem(text(), {"EU": "2025-11-02T23:00:00Z"}) == (
        "the draft is not complete: add the opt-out steps first; it also needs the setting's "
        "address"
    )
    assert (
        policy.launch_problem(
            text(("Switch it off.",), "https://x.example"), {"EU": "2025-11-02T23:00:00Z"}
        )
        == ""
    )


def test_a_draft_is_checked_as_any_body_but_for_what_it_may_lack() -> None:
    document = {
        "type": "policy.changed",
        "platform": "Linked In",
        "policy": {"id": "x", "title": "T", "steps": []},
    }
    with pytest.raises(InvalidInput) as refused:
        policy.parse(json.dumps(document).encode(), draft=True)
    assert set(refused.value.problems) == {"platform", "policy.steps"}  # given empty: refused


# -- the form on a draft's page ------------------------------------------------------------------


def test_the_form_reads_regions_a_line_each_at_midnight_there_and_steps_a_line_each() -> None:
    read = drafts.from_form(
        {
            "regions": "EU 2025-11-03\r\nca, 2025-11-03 09:30\n\nHK 2025-11-03T00:00:00+08:00\n",
            "steps": "Open Settings.\r\n\r\nSwitch it off.",
            "title": "  LinkedIn trains AI  ",
            "summary": "",
            "setting_url": "",
        }
    )
    assert read == {
        "policy": {"title": "LinkedIn trains AI", "steps": ["Open Settings.", "Switch it off."]},
        "regions": [
            {"region": "EU", "effective_at": "2025-11-03T00:00:00+01:00"},
            {"region": "CA", "effective_at": "2025-11-03T09:30:00-05:00"},
            {"region": "HK", "effective_at": "2025-11-02T16:00:00+00:00"},
        ],
    }


def test_an_empty_form_changes_nothing() -> None:
    assert drafts.from_form({"regions": "", "steps": " ", "title": ""}) == {}


def test_each_unreadable_line_of_the_form_is_named() -> None:
    with pytest.raises(InvalidInput) as refused:
        drafts.from_form({"regions": "XX 2025-11-03\nEU\nCH soon", "platform": "x"})
    problems = refused.value.problems
    assert problems["platform"] == "not a field of this form"
    assert problems["regions"].startswith("line 1: unknown region 'XX'")
    assert "; line 2: EU needs its deadline, like EU 2025-11-03" in problems["regions"]
    assert "; line 3: 'soon' is not a date (2025-11-03)" in problems["regions"]
