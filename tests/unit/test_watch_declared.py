"""What an organiser may declare as a watch (`optout.domain.watches.parse_watch`): addresses the
watch reads or posts to must be ones the fetcher would ever reach, so that a watch that could
never be read, or an ally never told, is refused when it is declared."""

from __future__ import annotations

from typing import Any

import pytest

from optout.core.errors import InvalidInput
from optout.domain.watches import parse_watch

WATCH = {
    "platform": "linkedin",
    "title": "LinkedIn privacy policy",
    "source": {"kind": "page", "url": "https://www.linkedin.com/legal/privacy-policy"},
}


def problems(document: dict[str, Any], *, allow_loopback: bool = False) -> dict[str, str]:
    try:
        parse_watch(document, created_at="2025-10-13T09:00:00Z", allow_loopback=allow_loopback)
    except InvalidInput as error:
        return error.problems
    return {}


@pytest.mark.parametrize(
    "url",
    [
        "https://www.linkedin.com/legal/privacy-policy",
        "https://www.linkedin.com:443/legal/privacy-policy",
        "https://93.184.215.14/legal",
    ],
)
def test_an_https_address_on_the_standard_port_is_read(url: str) -> None:
    assert problems({**WATCH, "source": {"kind": "page", "url": url}}) == {}


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://www.linkedin.com:8443/legal", "port 8443"),
        ("https://www.linkedin.com:80/legal", "port 80"),
        ("http://www.linkedin.com/legal", "https"),
        ("https://10.1.2.3/legal", "private"),
        ("https://[fd00::1]/legal", "private"),
        ("https://127.0.0.1/legal", "private"),
        ("http://127.0.0.1:8000/legal", "https"),
        ("https://user:pass@www.linkedin.com/legal", "user name"),
    ],
)
def test_an_address_the_fetcher_would_never_reach_is_refused_saying_why(
    url: str, said: str
) -> None:
    found = problems({**WATCH, "source": {"kind": "page", "url": url}, "allies": [url]})
    assert said in found["source.url"] and said in found["allies[0]"]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/legal", "http://localhost:3000/legal", "https://[::1]:8443/"]
)
def test_the_local_stack_reads_loopback_on_any_port(url: str) -> None:
    document = {**WATCH, "source": {"kind": "page", "url": url}, "allies": [url]}
    assert problems(document, allow_loopback=True) == {}
    assert problems(document, allow_loopback=False) != {}


def test_the_setting_s_address_is_only_followed_by_people_so_any_port_will_do() -> None:
    document = {**WATCH, "setting_url": "https://www.linkedin.com:8443/settings"}
    assert problems(document) == {}
    assert "setting_url" in problems({**document, "setting_url": "http://www.linkedin.com/"})


def test_a_blank_required_field_is_missing_not_odd() -> None:
    assert problems({**WATCH, "platform": "   "})["platform"] == "is required"
