"""Fetching a watched source: a page by its URL, or a version kept by an Open Terms Archive
Collection API (or that API's Atom feed of the versions it recorded). No AWS here; what is
fetched is stored and compared elsewhere.

An organiser types the address, so the fetcher must never be a way into our own network nor a
way to make a Lambda hang or run out of memory. Where a request may go and how long it may take
are `optout.channels.outbound`'s rules, shared with every request to an address an organiser
typed; on top of them, a fetch promises:

- **Redirects**, followed by hand: at most `MAX_REDIRECTS`, each to https on the same site (the
  same host, or one a parent domain of the other: www.linkedin.com and linkedin.com), each one
  checked as the first address was.
- **Size.** At most `MAX_BYTES`, read as a stream and abandoned past it (a declared
  Content-Length above it is refused before reading anything).
- **Kind.** Text only: the Content-Type must be one of `PAGE_TYPES` (or JSON from the API), and a
  body holding a NUL byte is binary whatever it says.

Every failure is a `SourceFailed` whose reason an organiser reads on the watch's status, and which
says whether trying again later may help (`fetch_with_retries` retries only those).

`post` is the one request the watch sends rather than reads (a change told to an ally's receiver,
`optout.watching.forward`): `optout.channels.outbound.post`, re-exported here.
"""

from __future__ import annotations

import json
import random
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from typing import TypeVar
from urllib.parse import quote, urljoin

import requests

from optout.channels.outbound import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    TOTAL_TIMEOUT,
    USER_AGENT,
    GuardedAdapter,
    Posted,
    SourceFailed,
    _Answered,
    _check_address,
    _is_ip,
    _Rules,
    _send,
    _session_for,
    _too_large,
    _too_slow,
    _watchdog,
    address_refused,
    guarded_session,
    post,
)
from optout.core import clock

__all__ = [  # what the watch uses from here, the rules of `optout.channels.outbound` with it
    "CONNECT_TIMEOUT",
    "MAX_BYTES",
    "MAX_REDIRECTS",
    "PAGE_TYPES",
    "READ_TIMEOUT",
    "TOTAL_TIMEOUT",
    "USER_AGENT",
    "Fetched",
    "GuardedAdapter",
    "NotModified",
    "OtaFeed",
    "OtaFeedEntry",
    "OtaVersion",
    "Posted",
    "SourceFailed",
    "address_refused",
    "fetch_ota_feed",
    "fetch_ota_version",
    "fetch_page",
    "fetch_with_retries",
    "guarded_session",
    "ota_feed_url",
    "ota_version_url",
    "post",
    "same_site",
]

MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "text/markdown"})
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Fetched:
    """A page read whole. `url` is where it was read, after redirects; `etag` and
    `last_modified` are the validators to send next time ("" when the server gave none);
    `encoding` is the charset the Content-Type named, if any."""

    body: bytes
    content_type: str
    encoding: str | None
    etag: str
    last_modified: str
    url: str


@dataclass(frozen=True)
class NotModified:
    """The server said the page has not changed since the validators sent (304). Its validators
    are the ones it answered with, or those sent when it repeated none."""

    url: str
    etag: str
    last_modified: str


@dataclass(frozen=True)
class OtaVersion:
    """A version of some terms as Open Terms Archive recorded it: its `id` in the archive, when
    it was fetched, its `content` as Markdown, and the API `url` it was read from."""

    id: str
    fetch_date: datetime
    content: str
    url: str


@dataclass(frozen=True)
class OtaFeedEntry:
    """One entry of an Open Terms Archive Atom feed: a version recorded. `id` is its tag URI,
    `link` where to read it (the Version API, or the page the archive's operator chose),
    `record_type` "First record" or "Change" ("" if the feed did not say)."""

    id: str
    title: str
    updated: datetime
    link: str
    record_type: str


@dataclass(frozen=True)
class OtaFeed:
    """An Open Terms Archive Atom feed read: its entries as given (newest first), and the
    validators to send next time."""

    entries: tuple[OtaFeedEntry, ...]
    etag: str
    last_modified: str
    url: str


def same_site(first: str, second: str) -> bool:
    """True when two host names are the same site: equal, or one a parent domain of the other
    (www.linkedin.com and linkedin.com, help.linkedin.com from linkedin.com). Siblings
    (help.example.com and www.example.com) are not: without the public suffix list, a sibling
    could be another owner's (one.github.io and two.github.io)."""
    a, b = first.rstrip(".").lower(), second.rstrip(".").lower()
    if a == b:
        return True
    if _is_ip(a) or _is_ip(b):
        return False
    parent, child = (a, b) if len(a) < len(b) else (b, a)
    return child.endswith("." + parent) and "." in parent


@dataclass(frozen=True)
class _Answer:
    status: int  # 200, 203 or 304
    body: bytes
    content_type: str
    encoding: str | None
    etag: str
    last_modified: str
    url: str


def _media_type(header: str) -> tuple[str, str | None]:
    """The media type ("" when none was given) and the charset of a Content-Type."""
    if not header.strip():
        return "", None
    message = Message()
    message["content-type"] = header
    charset = message.get_param("charset")
    return message.get_content_type(), charset if isinstance(charset, str) else None


def _get(
    url: str, rules: _Rules, headers: dict[str, str], session: requests.Session | None
) -> _Answer:
    """GET `url` under every rule of the module docstring, following redirects by hand."""
    start = _check_address(url, rules)
    http = _session_for(session, url, rules.allow_loopback)
    began = time.monotonic()
    current = url
    with _watchdog.deadline(rules.total_timeout):
        for hop in range(MAX_REDIRECTS + 1):
            if hop:
                address = _check_address(current, rules, redirected=True)
                if not same_site(start.host, address.host):
                    raise SourceFailed(
                        f"{rules.what} redirected to another site ({address.host})",
                        retryable=False,
                    )
            with _send(http, current, rules, headers, began) as response:
                if response.status_code not in _REDIRECTS:
                    return _read(response, current, rules, began)
                location = response.headers.get("Location", "")
                if not location:
                    raise SourceFailed(
                        f"{rules.what} answered {response.status_code} without saying where to",
                        retryable=False,
                    )
                current = urljoin(current, location)
    raise SourceFailed(f"{rules.what} redirected more than {MAX_REDIRECTS} times", retryable=False)


def _read(response: requests.Response, url: str, rules: _Rules, began: float) -> _Answer:
    """The answer's status and body, read as a stream within the size cap and the deadline."""
    # The watchdog's shutdown looks like the end of the headers or of a body sent without a
    # length: an answer that ends after the deadline is cut, never taken as whole.
    if time.monotonic() - began >= rules.total_timeout:
        raise _too_slow(rules)
    status = response.status_code
    etag = response.headers.get("ETag", "")
    last_modified = response.headers.get("Last-Modified", "")
    content_type, encoding = _media_type(response.headers.get("Content-Type", ""))
    if status == 304:
        return _Answer(304, b"", content_type, encoding, etag, last_modified, url)
    if status not in (200, 203):
        raise _Answered(rules.what, status, response)
    if content_type and content_type not in rules.types:
        raise SourceFailed(
            f"{rules.what} is not {rules.kind} ({content_type[:100]})", retryable=False
        )
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > rules.max_bytes:
        raise _too_large(rules)
    body = bytearray()
    try:
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > rules.max_bytes:
                raise _too_large(rules)
            if time.monotonic() - began >= rules.total_timeout:
                raise _too_slow(rules)
    except requests.exceptions.RequestException as error:
        if time.monotonic() - began >= rules.total_timeout:
            raise _too_slow(rules) from error
        raise SourceFailed(f"{rules.what} broke off while it was read", retryable=True) from error
    if time.monotonic() - began >= rules.total_timeout:
        raise _too_slow(rules)
    if b"\x00" in body:
        raise SourceFailed(f"{rules.what} holds binary data, not text", retryable=False)
    return _Answer(status, bytes(body), content_type, encoding, etag, last_modified, url)


# ------------------------------------------------------------------ the public fetchers


def fetch_page(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    allow_loopback: bool = False,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    total_timeout: float = TOTAL_TIMEOUT,
    max_bytes: int = MAX_BYTES,
) -> Fetched | NotModified:
    """Read the page at `url` under the module's rules. `etag` and `last_modified` are the
    validators of the version seen last: sent as If-None-Match and If-Modified-Since, and a 304
    gives `NotModified`. `timeout` is (connect, read) in seconds, `total_timeout` the deadline of
    the whole fetch. A `session`, if given, must come from `guarded_session` (another would not
    check addresses, and is refused). Raises `SourceFailed`."""
    rules = _Rules(
        what="the page",
        accept="text/html,application/xhtml+xml,text/plain;q=0.9,text/markdown;q=0.9",
        types=PAGE_TYPES,
        kind="text",
        allow_loopback=allow_loopback,
        timeout=timeout,
        total_timeout=total_timeout,
        max_bytes=max_bytes,
    )
    headers = _conditional(etag, last_modified)
    answer = _get(url, rules, headers, session)
    if answer.status == 304:
        return NotModified(
            url=answer.url,
            etag=answer.etag or etag,
            last_modified=answer.last_modified or last_modified,
        )
    return Fetched(
        body=answer.body,
        content_type=answer.content_type,
        encoding=answer.encoding,
        etag=answer.etag,
        last_modified=answer.last_modified,
        url=answer.url,
    )


def ota_version_url(base_url: str, service_id: str, terms_type: str, at: datetime) -> str:
    """The Collection API's address of the version of `terms_type` of `service_id` in force at
    `at`: `{base_url}/version/{serviceId}/{termsType}/{date}`, each part percent-encoded
    ("Privacy Policy" becomes Privacy%20Policy; a slash in an id cannot reach another route)."""
    if at.tzinfo is None:
        raise ValueError("the date of an Open Terms Archive version must be timezone-aware")
    parts = (service_id, terms_type, clock.iso(at))
    return base_url.rstrip("/") + "/version/" + "/".join(quote(part, safe="") for part in parts)


def fetch_ota_version(
    base_url: str,
    service_id: str,
    terms_type: str,
    at: datetime,
    *,
    allow_loopback: bool = False,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    total_timeout: float = TOTAL_TIMEOUT,
    max_bytes: int = MAX_BYTES,
) -> OtaVersion:
    """The version of `service_id`'s `terms_type` (e.g. "LinkedIn", "Privacy Policy") in force at
    `at`, from the Open Terms Archive Collection API at `base_url` (its root, `/v1` included),
    under the same rules as `fetch_page`. Raises `SourceFailed`: a 404 (no such service, terms
    type, or no version yet at that date) names them and is not retried."""
    url = ota_version_url(base_url, service_id, terms_type, at)
    rules = _Rules(
        what="the Open Terms Archive API",
        accept="application/json",
        types=frozenset({"application/json"}),
        kind="JSON",
        allow_loopback=allow_loopback,
        timeout=timeout,
        total_timeout=total_timeout,
        max_bytes=max_bytes,
    )
    try:
        answer = _get(url, rules, {}, session)
    except _Answered as answered:
        if answered.status == 404:
            raise SourceFailed(
                f"Open Terms Archive has no version of {service_id}'s {terms_type} at "
                f"{clock.iso(at)} (404: the service, the terms type or any version that early)",
                retryable=False,
            ) from None
        if answered.status == 416:
            raise SourceFailed(
                f"Open Terms Archive refused the date {clock.iso(at)}, in its future (416)",
                retryable=False,
            ) from None
        raise
    if answer.status == 304:  # never asked for: no validators were sent
        raise SourceFailed("the Open Terms Archive API answered 304 unasked", retryable=False)
    return _ota_version(answer.body, answer.url)


def _ota_version(body: bytes, url: str) -> OtaVersion:
    wrong = SourceFailed(
        "the Open Terms Archive API answered something that is not a version", retryable=False
    )
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise wrong from None
    if not isinstance(data, dict):
        raise wrong
    version_id, fetch_date, content = data.get("id"), data.get("fetchDate"), data.get("content")
    if not (
        isinstance(version_id, str)
        and version_id
        and isinstance(fetch_date, str)
        and isinstance(content, str)
    ):
        raise wrong
    try:
        fetched_at = datetime.fromisoformat(fetch_date)
    except ValueError:
        raise wrong from None
    if fetched_at.tzinfo is None:
        raise wrong
    return OtaVersion(id=version_id, fetch_date=fetched_at, content=content, url=url)


def ota_feed_url(base_url: str, service_id: str, terms_type: str) -> str:
    """The Collection API's Atom feed of one service's terms type:
    `{base_url}/feed/{serviceId}/{termsType}`, each part percent-encoded."""
    parts = (service_id, terms_type)
    return base_url.rstrip("/") + "/feed/" + "/".join(quote(part, safe="") for part in parts)


def fetch_ota_feed(
    base_url: str,
    service_id: str,
    terms_type: str,
    *,
    etag: str = "",
    last_modified: str = "",
    allow_loopback: bool = False,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    total_timeout: float = TOTAL_TIMEOUT,
    max_bytes: int = MAX_BYTES,
) -> OtaFeed | NotModified:
    """The Atom feed of the versions of `service_id`'s `terms_type` recorded by the archive at
    `base_url` (newer engines only), under the rules of `fetch_page`, conditional requests
    included (the engine answers 304 to an If-Modified-Since it can). A feed with a DTD is
    refused unread; an entry without an id, an update time or a link is left out. Raises
    `SourceFailed`; a 404 (no such service or terms type) names them and is not retried."""
    url = ota_feed_url(base_url, service_id, terms_type)
    rules = _Rules(
        what="the Open Terms Archive feed",
        accept="application/atom+xml",
        types=frozenset({"application/atom+xml", "application/xml", "text/xml"}),
        kind="Atom",
        allow_loopback=allow_loopback,
        timeout=timeout,
        total_timeout=total_timeout,
        max_bytes=max_bytes,
    )
    headers = _conditional(etag, last_modified)
    try:
        answer = _get(url, rules, headers, session)
    except _Answered as answered:
        if answered.status != 404:
            raise
        raise SourceFailed(
            f"Open Terms Archive has no feed of {service_id}'s {terms_type} (404: the service "
            "or its terms type is unknown to it)",
            retryable=False,
        ) from None
    if answer.status == 304:
        return NotModified(
            url=answer.url,
            etag=answer.etag or etag,
            last_modified=answer.last_modified or last_modified,
        )
    return OtaFeed(_atom_entries(answer.body), answer.etag, answer.last_modified, answer.url)


_ATOM = "{http://www.w3.org/2005/Atom}"


def _atom_entries(body: bytes) -> tuple[OtaFeedEntry, ...]:
    """The entries of an Atom feed. A DTD is refused before parsing: without one no entity can
    be declared, so none can expand (billion laughs) or name a file (XXE); and a body with a NUL
    byte, the only way to spell it in UTF-16, was refused as binary already."""
    wrong = SourceFailed(
        "the Open Terms Archive feed answered something that is not an Atom feed", retryable=False
    )
    if b"<!doctype" in body.lower() or b"<!entity" in body.lower():
        raise SourceFailed(
            "the Open Terms Archive feed declares a DTD, which the watch never reads",
            retryable=False,
        )
    try:
        root = ET.fromstring(body)  # noqa: S314 (no DTD, checked above)
    except ET.ParseError:
        raise wrong from None
    if root.tag != f"{_ATOM}feed":
        raise wrong
    entries = []
    for entry in root.iter(f"{_ATOM}entry"):
        entry_id = (entry.findtext(f"{_ATOM}id") or "").strip()
        links = [
            link.get("href", "")
            for link in entry.iter(f"{_ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        try:
            updated = datetime.fromisoformat((entry.findtext(f"{_ATOM}updated") or "").strip())
        except ValueError:
            continue
        if not entry_id or not links or not links[0] or updated.tzinfo is None:
            continue
        record_type = next(
            (
                category.get("term", "")
                for category in entry.iter(f"{_ATOM}category")
                if category.get("scheme", "").endswith(":scheme:record-type")
            ),
            "",
        )
        entries.append(
            OtaFeedEntry(
                id=entry_id,
                title=(entry.findtext(f"{_ATOM}title") or "").strip(),
                updated=updated,
                link=links[0],
                record_type=record_type,
            )
        )
    return tuple(entries)


# ------------------------------------------------------------------ retries

T = TypeVar("T")


def fetch_with_retries(
    fetch: Callable[[], T],
    attempts: int = 3,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    *,
    max_delay: float = 60.0,
    jitter: Callable[[], float] = random.random,
) -> T:
    """`fetch()`, called again after a retryable `SourceFailed`, at most `attempts` times in
    all. The n-th wait is `backoff * 2**n` seconds jittered down to between half and all of it
    (`jitter()` is in [0, 1): watches failing together do not come back together), or the
    server's Retry-After if longer, and never more than `max_delay`. A failure that is not
    retryable, or the last one, is raised as it is."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts - 1):
        try:
            return fetch()
        except SourceFailed as failed:
            if not failed.retryable:
                raise
            delay = backoff * 2**attempt * (0.5 + jitter() / 2)
            sleep(min(max(delay, failed.retry_after or 0.0), max_delay))
    return fetch()


def _conditional(etag: str, last_modified: str) -> dict[str, str]:
    """The headers of a conditional request: a 304 if the source is as it was when last seen."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers
