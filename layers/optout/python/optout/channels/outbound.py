"""Requests to an address an organiser typed: a policy watch's page (`optout.watching.sources`),
an ally's receiver (`optout.watching.forward`), an endpoint of the organisers' own tools
(`optout.events`). No AWS here. Such an address must never be a way into our own network nor a
way to make a Lambda hang. What every request here promises:

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
- **Time.** A connect timeout, a read timeout for each wait, and a total deadline: a watchdog
  shuts the socket when the deadline passes, so a server that drips a byte at a time, in its
  headers or its body, is cut off.

Every failure is a `SourceFailed` whose reason an organiser reads (on a watch's status, in an
endpoint's log of deliveries), and which says whether trying again later may help.

`post` sends; the fetchers of `optout.watching.sources` read, with the same rules (their
redirects followed by hand, each checked again; a POST's redirect is answered, never followed).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util import connection as urllib3_connection

CONNECT_TIMEOUT = 5.0  # seconds to open the connection
READ_TIMEOUT = 15.0  # seconds of silence while reading
TOTAL_TIMEOUT = 30.0  # seconds for the whole fetch, redirects included
PROJECT_URL = "https://github.com/optout-bot/optout-bot"
EXCERPT = 200  # characters of a POST's answer kept (`Posted.excerpt`)


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


# ------------------------------------------------------------------ sending


@dataclass(frozen=True)
class Posted:
    """What a receiver answered a POST: its status, its Retry-After in seconds when it gave one
    as a number, and the first `EXCERPT` characters of its body ("" when none came before the
    deadline), for a person to read why it refused."""

    status: int
    retry_after: float | None
    excerpt: str = ""


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    what: str,
    never: str = "which the watch never sends to",
    allow_loopback: bool = False,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    total_timeout: float = TOTAL_TIMEOUT,
) -> Posted:
    """POST `body` with `headers` (and our User-Agent) to `url`, under the module's rules of
    where a request may go and how long it may take. A redirect is not followed: its status is
    returned like any other, for the caller to judge. `what` names the receiver in failures
    ("the ally"), and `never` ends the sentence that refuses an internal address. A `session`, if given, must come from `guarded_session`. Raises
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
        refused=never,
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
        return Posted(response.status_code, _retry_after(response), _excerpt(response))


def _excerpt(response: requests.Response) -> str:
    """The start of an answer's body, read within the request's deadline; "" if it fails."""
    try:
        start = next(response.iter_content(EXCERPT * 4), b"")
    except (requests.exceptions.RequestException, OSError):
        return ""
    text = start.decode(response.encoding or "utf-8", errors="replace")
    return " ".join(text.split())[:EXCERPT]
