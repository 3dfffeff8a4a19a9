"""The rules of events out, read as their specification (`optout.domain.endpoints`): when a
failed delivery is tried again, when it is given up, when an endpoint is paused, and what an
organiser may declare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from optout.core.errors import InvalidInput
from optout.core.event_types import EVENT_TYPES
from optout.domain.endpoints import (
    GIVE_UP_AFTER,
    MAX_DELAY,
    Endpoint,
    address_problem,
    next_try,
    parse_edit,
    parse_endpoint,
    retry_delay,
    should_pause,
)

NOW = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- retries


def test_the_first_retry_waits_a_minute_and_each_wait_doubles() -> None:
    waits = [retry_delay(attempt) for attempt in range(6)]

    assert waits == [timedelta(minutes=minutes) for minutes in (1, 2, 4, 8, 16, 32)]


def test_a_wait_never_exceeds_six_hours() -> None:
    assert retry_delay(9) == MAX_DELAY == timedelta(hours=6)
    assert retry_delay(500) == MAX_DELAY


def test_a_retry_after_longer_than_the_wait_is_honoured_up_to_the_cap() -> None:
    assert retry_delay(0, retry_after=600) == timedelta(minutes=10)
    assert retry_delay(3, retry_after=1) == timedelta(minutes=8)
    assert retry_delay(0, retry_after=10**9) == MAX_DELAY


def test_attempts_count_from_zero() -> None:
    with pytest.raises(ValueError, match="from 0"):
        retry_delay(-1)


def test_retries_go_on_for_three_days_then_stop() -> None:
    # Given an endpoint that fails every time, from the moment its event was fanned out
    give_up_at = NOW + GIVE_UP_AFTER
    at, attempts = NOW, 0
    while (following := next_try(attempts, at, give_up_at)) is not None:
        at, attempts = following, attempts + 1

    # Then it is tried some twenty times, the last within the three days, and no wait is lost
    assert 15 <= attempts + 1 <= 25
    assert give_up_at - MAX_DELAY < at <= give_up_at


def test_a_retry_that_would_fall_after_the_three_days_is_not_made() -> None:
    give_up_at = NOW + timedelta(seconds=30)

    assert next_try(0, NOW, give_up_at) is None
    assert next_try(0, NOW, NOW + timedelta(minutes=1)) == NOW + timedelta(minutes=1)


# ---------------------------------------------------------------- the pause rule


@pytest.mark.parametrize(
    ("failing_for", "paused"),
    [
        (None, False),  # no run of failures: it just delivered
        (timedelta(0), False),  # the first failure
        (timedelta(hours=23, minutes=59), False),
        (timedelta(hours=24), True),
        (timedelta(days=3), True),
    ],
)
def test_an_endpoint_is_paused_once_every_delivery_has_failed_for_a_day(
    failing_for: timedelta | None, paused: bool
) -> None:
    since = None if failing_for is None else NOW - failing_for

    assert should_pause(since, NOW) is paused


# ---------------------------------------------------------------- what an endpoint is


def test_an_endpoint_with_no_types_takes_every_type() -> None:
    every = Endpoint("ep_a", "https://x.org", "whsec_a", "2025-10-27T09:00:00Z")
    some = Endpoint("ep_b", "https://x.org", "whsec_b", "", types=("reminder.sent",))

    assert all(every.takes(kind) for kind in EVENT_TYPES)
    assert [kind for kind in EVENT_TYPES if some.takes(kind)] == ["reminder.sent"]


def test_a_rotated_out_secret_signs_beside_the_new_one_until_its_time_ends() -> None:
    endpoint = Endpoint(
        "ep_a",
        "https://x.org",
        "whsec_new",
        "",
        previous_secret="whsec_old",
        previous_until="2025-10-28T09:00:00Z",
    )

    assert endpoint.signing_secrets(NOW) == "whsec_new whsec_old"
    assert endpoint.signing_secrets(NOW + timedelta(days=1)) == "whsec_new"


@pytest.mark.parametrize(
    ("url", "allow_loopback", "problem"),
    [
        ("https://crm.example.org/hooks", False, ""),
        ("https://crm.example.org:443/hooks", False, ""),
        ("http://crm.example.org/hooks", False, "an https address"),
        ("https://crm.example.org:8443/hooks", False, "port 8443"),
        ("https://10.1.2.3/hooks", False, "private"),
        ("https://[::1]/hooks", False, "private"),
        ("https://localhost/hooks", False, "private"),
        ("http://127.0.0.1:9000/hooks", False, "an https address"),
        ("http://127.0.0.1:9000/hooks", True, ""),
        ("https://a b.org/", False, "without spaces"),
        ("https://", False, "host name"),
    ],
)
def test_an_endpoint_s_address_must_be_public_https_on_443(
    url: str, allow_loopback: bool, problem: str
) -> None:
    found = address_problem(url, allow_loopback=allow_loopback)

    assert (problem in found) if problem else found == ""


def test_every_problem_of_a_new_endpoint_is_named_at_once() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_endpoint(
            {"url": "ftp://x", "events": ["nope"], "own_crm": 1, "colour": "red"},
            allow_loopback=False,
        )

    assert set(refused.value.problems) == {"url", "events", "own_crm", "colour"}


def test_an_edit_leaves_out_what_it_does_not_name() -> None:
    edit = parse_edit({"own_crm": True}, allow_loopback=False)

    assert (edit.url, edit.types, edit.own_crm, edit.description) == (None, None, True, None)
