"""Fetching a watched source: a page by its URL, or a version kept by an Open Terms Archive
Collection API (or that API's Atom feed of the versions it recorded). No AWS here; what is
fetched is stored and compared elsewhere.

An organiser types the address, so the fetcher must never be a way into our own network nor a
way to make a Lambda hang or run out of memory. What it promises:

- **Where it goes.** https only, on port 443, with no user name or password in the address. Every
  address the host name resolves to is checked, and the socket connects to an address that was
  checked, in the same step (`_open_socket`, used by the connections of `guarded_session`): a
  DNS answer that changes between the check and the connection (DNS rebinding) cannot slip in,
  while TLS still verifies the certificate against the host name (SNI and Host unchanged).
  Refused: private, loopback, link-local, multicast, reserved, unspecified and shared (CGNAT,
  100.64.0.0/10) addresses, IPv6 unique-local and link-local ones, and IPv6 addresses that carry
  an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo). No proxy is ever used, not even one named
  in the environment. On the local stack (`allow_loopback=True`) loopback addresses are allowed
  too, and only they may be reached over http or on another port.
- **Redirects**, followed by hand: at most `MAX_REDIRECTS`, each to https on the same site (the
  same host, or one a parent domain of the other: www.linkedin.com and linkedin.com), each one
  checked as above.
- **Time.** A connect timeout, a read timeout for each wait, and a total deadline: a watchdog
  shuts the socket when the deadline passes, so a server that drips a byte at a time, in its
  headers or its body, is cut off.
- **Size.** At most `MAX_BYTES`, read as a stream and abandoned past it (a declared
  Content-Length above it is refused before reading anything).
- **Kind.** Text only: the Content-Type must be one of `PAGE_TYPES` (or JSON from the API), and a
  body holding a NUL byte is binary whatever it says.

Every failure is a `SourceFailed` whose reason an organiser reads on the watch's status, and which
says whether trying again later may help (`fetch_with_retries` retries only those).

`post` is the one request the watch sends rather than reads (a change told to an ally's receiver,
`optout.watching.forward`): the same rules of where it goes and how long it may take, and a
redirect is answered, never followed.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from importlib import metadata
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util import connection as urllib3_connection

from optout.core import clock

MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 5.0  # seconds to open the connection
READ_TIMEOUT = 15.0  # seconds of silence while reading
TOTAL_TIMEOUT = 30.0  # seconds for the whole fetch, redirects included
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "text/markdown"})
PROJECT_URL = "https://github.com/optout-bot/optout-bot"
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _user_agent() -> str:
    try:
        name = f"optout-bot/{metadata.version('optout-bot')}"
    except metadata.PackageNotFoundError:  # in Lambda the layer is a folder, not a distribution
        name = "optout-bot"
    return f"{name} (+{PROJECT_URL}; policy watch)"


USER_AGENT = _user_agent()


class SourceFailed(Exception):
    """The source could not be read. `reason` is a sentence for the watch's status; `retryable`
    says whether the same request may succeed later (a timeout, a 5xx, a 429), as opposed to a
    refusal that only a change of the watch or of the site can lift (a 404, a page too large, a
    redirect to another site, an address never read). `retry_after` is the server's Retry-After
    in seconds, when it gave one."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


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


# ------------------------------------------------------------------ which addresses are read

# IPv6 ranges that carry an IPv4 address, so could reach one the IPv4 checks would refuse.
_CARRIES_IPV4 = tuple(
    ipaddress.ip_network(net)
    for net in ("::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def address_refused(address: str, *, allow_loopback: bool = False) -> bool:
    """True for an IP address the fetcher never connects to: anything but a public unicast
    address, except loopback when `allow_loopback` (the local stack)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if allow_loopback and ip.is_loopback:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in net for net in _CARRIES_IPV4):
        return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED)
        or not ip.is_global
    )


class _AddressRefused(Exception):
    """Raised from inside a connection, before it connects; deliberately not an OSError, so that
    neither urllib3 nor requests retries or rewraps it."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(host, address)
        self.where = address if host == address else f"{host} is {address}"


def _checked_addresses(host: str, port: int, allow_loopback: bool) -> list[tuple[Any, ...]]:
    """Every (family, sockaddr) `host` resolves to, all checked; one refused refuses the host
    (a name that answers with a public and a private address is not trusted with either)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as error:  # a name IDNA cannot spell: no address, as for DNS
        raise socket.gaierror(f"{host} cannot be looked up") from error
    if not found:
        raise socket.gaierror(f"no address for {host}")
    for _family, _type, _proto, _name, sockaddr in found:
        if address_refused(str(sockaddr[0]), allow_loopback=allow_loopback):
            raise _AddressRefused(host, str(sockaddr[0]))
    return [(family, sockaddr) for family, _type, _proto, _name, sockaddr in found]


def _open_socket(conn: HTTPConnection, allow_loopback: bool) -> socket.socket:
    """Resolve, check and connect in one step: the socket goes to an address just checked."""
    try:
        addresses = _checked_addresses(conn.host, conn.port or 0, allow_loopback)
    except socket.gaierror as error:
        raise NameResolutionError(conn.host, conn, error) from error
    last: OSError | None = None
    for _family, sockaddr in addresses:
        try:
            # An IP literal: create_connection's own lookup of it asks no DNS server.
            sock = urllib3_connection.create_connection(
                (str(sockaddr[0]), int(sockaddr[1])),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as error:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out") from error
        except OSError as error:
            last = error
            continue
        _watchdog.track(sock)
        return sock
    raise NewConnectionError(conn, f"Failed to establish a new connection: {last}")


class _GuardedHTTPConnection(HTTPConnection):
    allow_loopback: ClassVar[bool] = False

    def _new_conn(self) -> socket.socket:
        return _open_socket(self, self.allow_loopback)

    def getresponse(self) -> Any:  # a reused connection's socket is watched too
        _watchdog.track(self.sock)
        return super().getresponse()


class _GuardedHTTPSConnection(HTTPSConnection):
    allow_loopback: ClassVar[bool] = False

    def _new_conn(self) -> socket.socket:
        return _open_socket(self, self.allow_loopback)

    def getresponse(self) -> Any:
        _watchdog.track(self.sock)
        return super().getresponse()


class _LoopbackHTTPConnection(_GuardedHTTPConnection):
    allow_loopback = True


class _LoopbackHTTPSConnection(_GuardedHTTPSConnection):
    allow_loopback = True


class _GuardedPoolManager(PoolManager):
    """Pools whose connections check every address as they connect."""

    def __init__(self, *args: Any, allow_loopback: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: dict[str, Any] = (
            {"http": _LoopbackHTTPConnection, "https": _LoopbackHTTPSConnection}
            if allow_loopback
            else {"http": _GuardedHTTPConnection, "https": _GuardedHTTPSConnection}
        )

    def _new_pool(
        self,
        scheme: str,
        host: str,
        port: int,
        request_context: dict[str, Any] | None = None,
    ) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = self.connections[scheme]
        return pool


class GuardedAdapter(HTTPAdapter):
    """requests' adapter with the connections above, and no proxy."""

    def __init__(self, *, allow_loopback: bool = False) -> None:
        self.allow_loopback = allow_loopback
        super().__init__(max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            allow_loopback=self.allow_loopback,
            **pool_kwargs,
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise ValueError("the policy watch never fetches through a proxy")


def guarded_session(*, allow_loopback: bool = False) -> requests.Session:
    """A session for the fetchers: every connection checked, no proxy, no .netrc."""
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(allow_loopback=allow_loopback)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


_sessions: dict[bool, requests.Session] = {}


def _session_for(
    session: requests.Session | None, url: str, allow_loopback: bool
) -> requests.Session:
    if session is None:
        if allow_loopback not in _sessions:
            _sessions[allow_loopback] = guarded_session(allow_loopback=allow_loopback)
        return _sessions[allow_loopback]
    adapter = session.get_adapter(url)
    if not isinstance(adapter, GuardedAdapter) or (adapter.allow_loopback and not allow_loopback):
        raise TypeError("fetch with a session made by guarded_session(), with the same policy")
    return session


# ------------------------------------------------------------------ the total deadline


class _Watchdog:
    """At the deadline of the fetch running in this thread, shut every socket it used: a read
    blocked on a server that drips bytes then fails at once instead of waiting for the next."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        sockets: list[socket.socket] = []
        lock = threading.Lock()
        fired = threading.Event()

        def expire() -> None:
            with lock:
                fired.set()
                for sock in sockets:
                    _shut(sock)

        self._local.current = (sockets, lock, fired)
        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            self._local.current = None

    def track(self, sock: socket.socket | None) -> None:
        current = getattr(self._local, "current", None)
        if sock is None or current is None:
            return
        sockets, lock, fired = current
        with lock:
            if fired.is_set():
                _shut(sock)
            elif sock not in sockets:
                sockets.append(sock)


def _shut(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for a TLS socket: it wakes the blocked read without
    # touching the TLS state that the reading thread is using.
    with suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_watchdog = _Watchdog()


# ------------------------------------------------------------------ addresses and sites


@dataclass(frozen=True)
class _Address:
    scheme: str
    host: str
    port: int


def _host_of(url: str) -> str:
    """The host name of `url` as DNS spells it (IDNA, lower case, no final dot); "" if none."""
    try:
        host = urlsplit(url).hostname or ""
        return host.rstrip(".").lower().encode("idna").decode("ascii")
    except (ValueError, UnicodeError):  # UnicodeError: a label empty or over 63 characters
        return ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback_host(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_address(url: str, rules: _Rules, *, redirected: bool = False) -> _Address:
    """The scheme, host and port of `url`, or `SourceFailed` saying why it is not read."""
    subject = f"{rules.what} redirected to an address that" if redirected else "the address"
    shown = url[:200]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SourceFailed(f"{subject} is not valid ({shown})", retryable=False) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise SourceFailed(f"{subject} is not a web address ({shown})", retryable=False)
    host = _host_of(url)
    if not host:
        raise SourceFailed(f"{subject} is not valid ({shown})", retryable=False)
    if parts.username is not None or parts.password is not None:
        raise SourceFailed(
            f"{subject} has a user name or password, which the watch never sends",
            retryable=False,
        )
    if scheme == "http" and not (rules.allow_loopback and _is_loopback_host(host)):
        raise SourceFailed(f"{subject} is not https ({shown})", retryable=False)
    effective = port if port is not None else (443 if scheme == "https" else 80)
    if effective != 443 and not rules.allow_loopback:
        raise SourceFailed(
            f"{subject} uses port {effective}: only the standard https port (443) is watched",
            retryable=False,
        )
    return _Address(scheme, host, effective)


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


# ------------------------------------------------------------------ one fetch


@dataclass(frozen=True)
class _Rules:
    what: str  # what the failures name: "the page", "the Open Terms Archive API"
    accept: str
    types: frozenset[str]
    kind: str  # what `types` are, in a refusal: "text", "JSON"
    allow_loopback: bool
    timeout: tuple[float, float]
    total_timeout: float
    max_bytes: int
    # The ends of two failures' sentences, which differ when the request sends rather than reads.
    refused: str = "which the watch never reads"  # after "... at a private address (...),"
    late: str = "to arrive"  # after "... took longer than 30 seconds"


@dataclass(frozen=True)
class _Answer:
    status: int  # 200, 203 or 304
    body: bytes
    content_type: str
    encoding: str | None
    etag: str
    last_modified: str
    url: str


class _Answered(SourceFailed):
    """An answer with a status that is neither read nor followed, the status kept."""

    def __init__(self, what: str, status: int, response: requests.Response) -> None:
        busy = status == 429 or status >= 500
        super().__init__(
            f"{what} answered {status}" + (" (too many requests)" if status == 429 else ""),
            retryable=busy,
            retry_after=_retry_after(response) if busy else None,
        )
        self.status = status


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


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


def _send(
    http: requests.Session,
    url: str,
    rules: _Rules,
    headers: dict[str, str],
    began: float,
    *,
    method: str = "GET",
    body: bytes | None = None,
) -> requests.Response:
    """One request, redirects not followed, its answer's body left unread (a stream); every way
    it can fail without an answer is a `SourceFailed`."""
    what = rules.what
    try:
        return http.request(
            method,
            url,
            data=body,
            headers={"Accept": rules.accept, "User-Agent": USER_AGENT, **headers},
            timeout=rules.timeout,
            allow_redirects=False,
            stream=True,
        )
    except _AddressRefused as refused:
        raise SourceFailed(
            f"{what} is at a private, internal or reserved address ({refused.where}), "
            + rules.refused,
            retryable=False,
        ) from None
    except requests.exceptions.SSLError as error:
        raise SourceFailed(
            f"{what} could not be reached securely (its certificate could not be verified)",
            retryable=False,
        ) from error
    except requests.exceptions.ConnectTimeout as error:
        raise SourceFailed(
            f"{what} did not accept a connection within {rules.timeout[0]:g} seconds",
            retryable=True,
        ) from error
    except requests.exceptions.ReadTimeout as error:
        raise SourceFailed(
            f"{what} did not answer within {rules.timeout[1]:g} seconds", retryable=True
        ) from error
    except requests.exceptions.ConnectionError as error:
        if time.monotonic() - began >= rules.total_timeout:
            raise _too_slow(rules) from error
        if _is_name_error(error):
            raise SourceFailed(
                f"{what} could not be found: no address for {_host_of(url)}", retryable=True
            ) from error
        raise SourceFailed(f"{what} could not be reached", retryable=True) from error
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as error:
        raise SourceFailed(f"the address is not valid ({url[:200]})", retryable=False) from error
    except requests.exceptions.RequestException as error:
        raise SourceFailed(
            f"{what} could not be read ({type(error).__name__})", retryable=True
        ) from error


def _is_name_error(error: BaseException) -> bool:
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, NameResolutionError | socket.gaierror):
            return True
        reason = getattr(cause, "reason", None)
        nested = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None
        cause = reason if isinstance(reason, BaseException) else nested or cause.__cause__
    return False


def _too_slow(rules: _Rules) -> SourceFailed:
    return SourceFailed(
        f"{rules.what} took longer than {rules.total_timeout:g} seconds {rules.late}",
        retryable=True,
    )


def _too_large(rules: _Rules) -> SourceFailed:
    return SourceFailed(
        f"{rules.what} is larger than {rules.max_bytes / 1024 / 1024:g} MB", retryable=False
    )


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


# ------------------------------------------------------------------ sending


@dataclass(frozen=True)
class Posted:
    """What a receiver answered a POST: its status, and its Retry-After in seconds when it gave
    one as a number. Its body is never read."""

    status: int
    retry_after: float | None


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    what: str,
    allow_loopback: bool = False,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    total_timeout: float = TOTAL_TIMEOUT,
) -> Posted:
    """POST `body` with `headers` (and our User-Agent) to `url`, under the module's rules of
    where a request may go and how long it may take. A redirect is not followed: its status is
    returned like any other, for the caller to judge. `what` names the receiver in failures
    ("the ally"). A `session`, if given, must come from `guarded_session`. Raises
    `SourceFailed` when no answer came: an address never reached (not retryable), a timeout or
    a broken connection (retryable)."""
    rules = _Rules(
        what=what,
        accept="*/*",
        types=frozenset(),
        kind="",
        allow_loopback=allow_loopback,
        timeout=timeout,
        total_timeout=total_timeout,
        max_bytes=0,
        refused="which the watch never sends to",
        late="to answer",
    )
    _check_address(url, rules)
    http = _session_for(session, url, allow_loopback)
    began = time.monotonic()
    with (
        _watchdog.deadline(total_timeout),
        _send(http, url, rules, headers, began, method="POST", body=body) as response,
    ):
        # As in `_read`: headers cut off by the watchdog may look complete.
        if time.monotonic() - began >= total_timeout:
            raise _too_slow(rules)
        return Posted(response.status_code, _retry_after(response))


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
