"""What an ally receives about a change, and how long the watch keeps trying to deliver it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from optout.watching.forward import (
    EVENT_FIELDS,
    MAX_ATTEMPTS,
    MAX_DELAY,
    event_body,
    new_secret,
    retry_delay,
)


def change(**changes: object) -> dict[str, Any]:
    return {
        "change_id": "20251103090000-linkedin-privacy",
        "watch_id": "linkedin-privacy",
        "platform": "LinkedIn",
        "title": "Privacy Policy",
        "about": "policy",
        "detected_at": "2025-11-03T09:00:00Z",
        "added": ("Nous entraînons l'IA sur vos publications.",),
        "removed": ("You can opt out at any time.",),
        "terms": ("IA", "opt out"),
        "score": 0.55,
        "source_url": "https://www.linkedin.com/legal/privacy-policy",
        "setting_url": "",
        # What the record holds beyond the event: not for allies.
        "notify": True,
        "draft_campaign_id": "c-1",
        "follow_ups": {"c-1": "s-1"},
        "told": True,
        **changes,
    }


def test_the_event_is_a_standard_webhooks_event_with_the_changes_fields_and_no_others() -> None:
    event = json.loads(event_body(change()))

    assert event["type"] == "policy.change_detected"
    assert event["timestamp"] == "2025-11-03T09:00:00Z"
    assert set(event["data"]) == set(EVENT_FIELDS)
    assert event["data"]["added"] == ["Nous entraînons l'IA sur vos publications."]
    assert event["data"]["terms"] == ["IA", "opt out"]
    assert event["data"]["score"] == 0.55


def test_the_same_change_gives_the_same_bytes_for_every_ally_and_attempt() -> None:
    assert event_body(change()) == event_body(dict(reversed(change().items())))


def test_a_change_missing_a_field_is_a_bug_not_an_event() -> None:
    incomplete = change()
    del incomplete["source_url"]

    with pytest.raises(KeyError):
        event_body(incomplete)


def test_retries_wait_longer_each_time_up_to_the_longest_sqs_delay() -> None:
    waits = [retry_delay(attempt) for attempt in range(MAX_ATTEMPTS - 1)]

    assert waits[:5] == [60, 120, 240, 480, 900]
    assert max(waits) == MAX_DELAY == 900
    assert waits == sorted(waits)


def test_the_attempts_span_about_two_hours() -> None:
    total = sum(retry_delay(attempt) for attempt in range(MAX_ATTEMPTS - 1))

    assert 100 * 60 <= total <= 130 * 60


def test_a_receivers_retry_after_is_waited_at_least_up_to_the_longest_delay() -> None:
    assert retry_delay(0, retry_after=300) == 300
    assert retry_delay(0, retry_after=0.5) == 60
    assert retry_delay(3, retry_after=10) == 480
    assert retry_delay(0, retry_after=86400) == 900


def test_a_huge_attempt_number_is_still_the_longest_delay() -> None:
    assert retry_delay(10_000) == 900


def test_each_secret_is_new_and_in_the_standard_webhooks_form() -> None:
    first, second = new_secret(), new_secret()

    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32
