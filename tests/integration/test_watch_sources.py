"""Fetching a watched source, seen from the watch's side: a real HTTP server on 127.0.0.1, started
here, plays the watched site and an Open Terms Archive Collection API (its answers written from
the engine's routes: `GET /version/{serviceId}/{termsType}/{date}` gives `id`, `fetchDate` and
`content`; a 404 or a 416 gives `{"error": ...}`). Nothing here reaches beyond 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from optout.watching.sources import (
    Fetched,
    NotModified,
    OtaFeed,
    OtaFeedEntry,
    OtaVersion,
    SourceFailed,
    address_refused,
    fetch_ota_feed,
    fetch_ota_version,
    fetch_page,
    fetch_with_retries,
    guarded_session,
    same_site,
)

Route = Callable[["_Handler"], None]
PAGE = b"<html><body><h1>Privacy settings</h1><p>We train AI on your posts.</p></body></html>"


class Site(ThreadingHTTPServer):
    """Answers each path with the route the test gave it (a key ending in * takes every path it
    begins), and counts what it received and sent."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.received: list[tuple[str, dict[str, str]]] = []
        self.sent = 0  # body bytes written to the socket
        self.stopping = threading.Event()  # wakes slow routes when the test ends

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: Site

    def do_GET(self) -> None:
        self.server.received.append((self.path, dict(self.headers.items())))
        path = urlsplit(self.path).path  # as sent: still percent-encoded
        route = self.server.routes.get(path) or next(
            (route for key, route in self.server.routes.items() if _matches(key, path)), None
        )
        if route is None:
            answer(404, b"not here", "text/plain")(self)
            return
        with suppress(BrokenPipeError, ConnectionResetError):  # the fetcher hung up, as meant
            route(self)

    def write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        self.server.sent += len(data)

    def log_message(self, *_: object) -> None:
        pass


def _matches(key: str, path: str) -> bool:
    return key.endswith("*") and path.startswith(key[:-1])


def answer(
    status: int, body: bytes = b"", content_type: str = "text/html", **headers: str
) -> Route:
    def route(handler: _Handler) -> None:
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.write(body)

    return route


def in_turn(*routes: Route) -> Route:
    """Each request answered by the next route; the last one repeats."""
    queue = list(routes)

    def route(handler: _Handler) -> None:
        (queue.pop(0) if len(queue) > 1 else queue[0])(handler)

    return route


@pytest.fixture
def site() -> Iterator[Site]:
    yield from serving(Site())


def serving(server: Site) -> Iterator[Site]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def fetch(url: str, **options: Any) -> Fetched | NotModified:
    """The local stack's fetch: loopback allowed, small timeouts so that slow cases stay fast."""
    options.setdefault("allow_loopback", True)
    options.setdefault("timeout", (1.0, 1.0))
    options.setdefault("total_timeout", 3.0)
    return fetch_page(url, **options)


def failure(call: Callable[[], object]) -> SourceFailed:
    with pytest.raises(SourceFailed) as raised:
        call()
    return raised.value


# ---------------------------------------------------------------- a page, read and read again


def test_a_page_is_read_with_its_etag_and_a_304_says_it_has_not_changed(site: Site) -> None:
    # Given a page that answers 304 to the ETag it gave
    def page(handler: _Handler) -> None:
        if handler.headers.get("If-None-Match") == '"v1"':
            answer(304, content_type="", ETag='"v1"')(handler)
        else:
            answer(200, PAGE, "text/html; charset=utf-8", ETag='"v1"')(handler)

    site.routes["/settings"] = page

    # When it is fetched, then fetched again with what was seen
    first = fetch(site.url("/settings"))
    assert isinstance(first, Fetched)
    second = fetch(site.url("/settings"), etag=first.etag)

    # Then the first is the page, the second says "not modified"
    assert first == Fetched(
        body=PAGE,
        content_type="text/html",
        encoding="utf-8",
        etag='"v1"',
        last_modified="",
        url=site.url("/settings"),
    )
    assert second == NotModified(url=site.url("/settings"), etag='"v1"', last_modified="")


def test_last_modified_is_sent_back_as_if_modified_since(site: Site) -> None:
    stamp = "Mon, 27 Oct 2025 09:00:00 GMT"

    def page(handler: _Handler) -> None:
        if handler.headers.get("If-Modified-Since") == stamp:
            answer(304, content_type="")(handler)
        else:
            answer(200, PAGE, Last_Modified=stamp)(handler)

    site.routes["/blog"] = page

    first = fetch(site.url("/blog"))
    assert isinstance(first, Fetched) and first.last_modified == stamp
    assert first.encoding is None  # no charset named
    assert fetch(site.url("/blog"), last_modified=stamp) == NotModified(
        url=site.url("/blog"), etag="", last_modified=stamp
    )


def test_the_request_names_the_project_and_where_to_learn_about_it(site: Site) -> None:
    site.routes["/"] = answer(200, PAGE)
    fetch(site.url("/"))
    (_, headers), *_ = site.received
    assert headers["User-Agent"].startswith("optout-bot")
    assert "(+https://github.com/optout-bot/optout-bot; policy watch)" in headers["User-Agent"]


@pytest.mark.parametrize("content_type", ["text/plain", "text/markdown", "application/xhtml+xml"])
def test_other_text_kinds_are_read(site: Site, content_type: str) -> None:
    site.routes["/notes"] = answer(200, b"# Terms\n\nWe changed them.", content_type)
    fetched = fetch(site.url("/notes"))
    assert isinstance(fetched, Fetched) and fetched.content_type == content_type


# ---------------------------------------------------------------- failures, and retries


def test_a_503_is_retried_with_backoff_and_the_page_read_the_second_time(site: Site) -> None:
    site.routes["/"] = in_turn(answer(503, b"busy"), answer(200, PAGE))
    waits: list[float] = []

    fetched = fetch_with_retries(lambda: fetch(site.url("/")), sleep=waits.append)

    assert isinstance(fetched, Fetched) and fetched.body == PAGE
    assert len(waits) == 1 and 1.0 <= waits[0] <= 2.0  # backoff 2 s, jittered to half or more
    assert site.paths() == ["/", "/"]


def test_a_source_that_keeps_failing_is_tried_three_times_and_reported(site: Site) -> None:
    site.routes["/"] = answer(500, b"oops")
    waits: list[float] = []

    failed = failure(lambda: fetch_with_retries(lambda: fetch(site.url("/")), sleep=waits.append))

    assert (failed.reason, failed.retryable) == ("the page answered 500", True)
    assert len(site.received) == 3
    assert len(waits) == 2 and 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 4.0


def test_a_429_waits_for_its_retry_after(site: Site) -> None:
    site.routes["/"] = in_turn(answer(429, b"", Retry_After="20"), answer(200, PAGE))
    waits: list[float] = []

    fetch_with_retries(lambda: fetch(site.url("/")), sleep=waits.append, jitter=lambda: 0.0)

    assert waits == [20.0]  # the server's wish, not shortened by the jitter


def test_the_backoff_doubles_and_is_jittered() -> None:
    calls: list[int] = []
    waits: list[float] = []

    def always_busy() -> None:
        calls.append(1)
        raise SourceFailed("the page answered 503", retryable=True)

    failure(
        lambda: fetch_with_retries(
            always_busy, attempts=4, backoff=1.0, sleep=waits.append, jitter=lambda: 0.0
        )
    )
    assert (len(calls), waits) == (4, [0.5, 1.0, 2.0])


@pytest.mark.parametrize("status", [404, 403, 410, 401])
def test_a_client_error_is_reported_at_once_and_not_retried(site: Site, status: int) -> None:
    site.routes["/gone"] = answer(status, b"no")
    waits: list[float] = []

    failed = failure(
        lambda: fetch_with_retries(lambda: fetch(site.url("/gone")), sleep=waits.append)
    )

    assert (failed.reason, failed.retryable) == (f"the page answered {status}", False)
    assert waits == [] and len(site.received) == 1


def test_a_server_that_does_not_answer_in_time_is_a_retryable_timeout(site: Site) -> None:
    def slow(handler: _Handler) -> None:
        if not handler.server.stopping.wait(5):
            answer(200, PAGE)(handler)

    site.routes["/slow"] = slow
    began = time.monotonic()

    failed = failure(lambda: fetch(site.url("/slow"), timeout=(1.0, 0.2)))

    assert (failed.reason, failed.retryable) == ("the page did not answer within 0.2 seconds", True)
    assert time.monotonic() - began < 2


def drip(handler: _Handler, *, headers_too: bool = False) -> None:
    """A byte every 50 ms, each well within the read timeout, for up to ten seconds."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    if not headers_too:
        handler.wfile.write(b"Content-Type: text/html\r\n\r\n")
    handler.wfile.flush()
    for _ in range(200):
        if handler.server.stopping.wait(0.05):
            return
        handler.write(b"X-Slow: y\r\n" if headers_too else b"a")


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_server_that_drips_bytes_is_cut_off_at_the_total_deadline(
    site: Site, headers_too: bool
) -> None:
    site.routes["/drip"] = lambda handler: drip(handler, headers_too=headers_too)
    began = time.monotonic()

    failed = failure(lambda: fetch(site.url("/drip"), timeout=(1.0, 1.0), total_timeout=0.5))

    assert (failed.reason, failed.retryable) == (
        "the page took longer than 0.5 seconds to arrive",
        True,
    )
    assert time.monotonic() - began < 2


def test_a_server_that_is_not_there_is_retryable() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()

    failed = failure(lambda: fetch(f"http://127.0.0.1:{port}/"))

    assert (failed.reason, failed.retryable) == ("the page could not be reached", True)


# ---------------------------------------------------------------- size and kind


def test_a_50_mb_page_is_refused_without_being_read_whole(site: Site) -> None:
    # Given a page of 50 MB, sent as it is read, with no Content-Length
    done = threading.Event()

    def endless(handler: _Handler) -> None:
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.end_headers()
            chunk = b"<p>" + b"x" * (64 * 1024 - 8) + b"</p>\n"
            for _ in range(50 * 16):
                handler.write(chunk)
        finally:
            done.set()

    site.routes["/huge"] = endless

    # When it is fetched
    failed = failure(lambda: fetch(site.url("/huge")))

    # Then it is refused, and the server could send little more than the cap before the fetcher
    # hung up (the rest of what it sent sat in the two sockets' buffers)
    assert (failed.reason, failed.retryable) == ("the page is larger than 5 MB", False)
    assert done.wait(10)
    assert site.sent < 16 * 1024 * 1024


def test_a_page_declaring_50_mb_is_refused_before_its_body_is_read(site: Site) -> None:
    def declared(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(50 * 1024 * 1024))
        handler.end_headers()
        for _ in range(50):
            if handler.server.stopping.wait(0.01):
                return
            handler.write(b"a" * 1024)

    site.routes["/huge"] = declared

    failed = failure(lambda: fetch(site.url("/huge")))

    assert failed.reason == "the page is larger than 5 MB"


def test_a_compressed_page_that_unpacks_past_the_cap_is_refused(site: Site) -> None:
    # 50 MB of text, 50 KB gzipped: the cap counts what it unpacks to
    bomb = gzip.compress(b"<p>" + b"a" * (50 * 1024 * 1024) + b"</p>", compresslevel=9)
    site.routes["/bomb"] = answer(200, bomb, "text/html", Content_Encoding="gzip")

    failed = failure(lambda: fetch(site.url("/bomb")))

    assert len(bomb) < 100 * 1024
    assert failed.reason == "the page is larger than 5 MB"


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        ("image/png", "the page is not text (image/png)"),
        ("application/pdf", "the page is not text (application/pdf)"),
        ("application/octet-stream", "the page is not text (application/octet-stream)"),
    ],
)
def test_binary_content_is_refused(site: Site, content_type: str, reason: str) -> None:
    site.routes["/logo"] = answer(200, b"\x89PNG\r\n\x1a\n\x00\x00", content_type)
    failed = failure(lambda: fetch(site.url("/logo")))
    assert (failed.reason, failed.retryable) == (reason, False)


def test_a_page_that_says_html_but_holds_nul_bytes_is_refused(site: Site) -> None:
    site.routes["/fake"] = answer(200, b"<html>\x00\x01\x02binary</html>", "text/html")
    failed = failure(lambda: fetch(site.url("/fake")))
    assert (failed.reason, failed.retryable) == ("the page holds binary data, not text", False)


# ---------------------------------------------------------------- redirects


def test_a_redirect_on_the_same_host_is_followed(site: Site) -> None:
    site.routes["/old"] = answer(301, content_type="", Location="/new")
    site.routes["/new"] = answer(200, PAGE)

    fetched = fetch(site.url("/old"))

    assert isinstance(fetched, Fetched) and fetched.url == site.url("/new")
    assert site.paths() == ["/old", "/new"]


def test_a_redirect_to_another_host_is_refused_and_not_followed(site: Site) -> None:
    site.routes["/old"] = answer(302, content_type="", Location=site.url("/new", "localhost"))
    site.routes["/new"] = answer(200, PAGE)

    failed = failure(lambda: fetch(site.url("/old")))

    assert (failed.reason, failed.retryable) == (
        "the page redirected to another site (localhost)",
        False,
    )
    assert site.paths() == ["/old"]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("https://evil.example/", "the page redirected to another site (evil.example)"),
        ("ftp://127.0.0.1/x", "the page redirected to an address that is not a web address"),
        ("file:///etc/passwd", "the page redirected to an address that is not a web address"),
        ("https://u:p@127.0.0.1/", "the page redirected to an address that has a user name"),
    ],
)
def test_a_redirect_anywhere_else_is_refused(site: Site, location: str, reason: str) -> None:
    site.routes["/old"] = answer(307, content_type="", Location=location)
    failed = failure(lambda: fetch(site.url("/old")))
    assert failed.reason.startswith(reason) and not failed.retryable
    assert site.paths() == ["/old"]


def test_more_than_five_redirects_are_refused(site: Site) -> None:
    site.routes["/loop"] = answer(302, content_type="", Location="/loop")

    failed = failure(lambda: fetch(site.url("/loop")))

    assert (failed.reason, failed.retryable) == ("the page redirected more than 5 times", False)
    assert site.paths() == ["/loop"] * 6


def test_same_site_means_the_same_host_or_a_parent_domain() -> None:
    assert same_site("www.linkedin.com", "linkedin.com")
    assert same_site("linkedin.com", "www.linkedin.com")
    assert same_site("www.linkedin.com", "WWW.LinkedIn.com.")
    assert not same_site("www.linkedin.com", "evil.example")
    assert not same_site("one.github.io", "two.github.io")  # siblings may have other owners
    assert not same_site("linkedin.com", "notlinkedin.com")
    assert not same_site("example.com", "com")
    assert not same_site("127.0.0.1", "0.0.1")


# ---------------------------------------------------------------- where the fetcher goes


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every address a socket tried to connect to; none gets through."""
    tried: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        tried.append(address)
        raise ConnectionRefusedError("no connection in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return tried


def resolving(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[list[str]]]) -> list[str]:
    """getaddrinfo answering each name in `names` with its next list of addresses (the last one
    repeats); other names as usual. What was asked is returned."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(host))
        if host not in names:
            return real(host, port, *args, **kwargs)
        answers = names[host]
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("https://127.0.0.1/", "127.0.0.1"),
        ("https://[::1]/", "::1"),
        ("https://10.0.0.1/", "10.0.0.1"),
        ("https://192.168.1.1/", "192.168.1.1"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("https://100.64.0.1/", "100.64.0.1"),
        ("https://0.0.0.0/", "0.0.0.0"),  # noqa: S104 (an address refused, not bound)
        ("https://224.0.0.1/", "224.0.0.1"),
        ("https://240.0.0.1/", "240.0.0.1"),
        ("https://[fd00::1]/", "fd00::1"),
        ("https://[fe80::1]/", "fe80::1"),
        ("https://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1"),
        ("https://[::ffff:8.8.8.8]/", "::ffff:8.8.8.8"),
        ("https://[64:ff9b::a00:1]/", "64:ff9b::a00:1"),
        ("https://2130706433/", "2130706433 is 127.0.0.1"),
    ],
)
def test_internal_addresses_are_refused_before_any_connection(
    connections: list[object], url: str, where: str
) -> None:
    failed = failure(lambda: fetch_page(url))

    assert (failed.reason, failed.retryable) == (
        f"the page is at a private, internal or reserved address ({where}), "
        "which the watch never reads",
        False,
    )
    assert connections == []


def test_a_name_that_resolves_to_loopback_is_refused_before_any_connection(
    monkeypatch: pytest.MonkeyPatch, connections: list[object]
) -> None:
    resolving(monkeypatch, {"watched.example": [["127.0.0.1"]]})

    failed = failure(lambda: fetch_page("https://watched.example/privacy"))

    assert "(watched.example is 127.0.0.1)" in failed.reason and not failed.retryable
    assert connections == []


def test_a_name_with_one_internal_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch, connections: list[object]
) -> None:
    resolving(monkeypatch, {"watched.example": [["93.184.216.34", "10.1.2.3"]]})

    failed = failure(lambda: fetch_page("https://watched.example/"))

    assert "(watched.example is 10.1.2.3)" in failed.reason
    assert connections == []


def test_the_socket_connects_to_the_address_checked_not_a_new_lookup(
    monkeypatch: pytest.MonkeyPatch, connections: list[object]
) -> None:
    # Given a name that answers a public address once, then loopback (DNS rebinding)
    asked = resolving(monkeypatch, {"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})

    # When it is fetched (the connection itself is refused by the test)
    failed = failure(lambda: fetch_page("https://rebind.example/"))

    # Then the name was resolved once, and the socket went to the address that was checked
    assert asked.count("rebind.example") == 1
    assert connections == [("93.184.216.34", 443)]
    assert (failed.reason, failed.retryable) == ("the page could not be reached", True)


def test_the_local_stack_reaches_loopback_and_no_other_internal_address(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.routes["/"] = answer(200, PAGE)
    resolving(monkeypatch, {"lan.test": [["192.168.0.5"]]})

    assert isinstance(fetch(site.url("/", "localhost")), Fetched)
    assert "(10.0.0.1)" in failure(lambda: fetch("https://10.0.0.1/")).reason
    assert "(lan.test is 192.168.0.5)" in failure(lambda: fetch("https://lan.test/")).reason
    assert "not https" in failure(lambda: fetch("http://lan.test/")).reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/terms", "the address is not a web address (ftp://example.com/terms)"),
        ("file:///etc/passwd", "the address is not a web address (file:///etc/passwd)"),
        ("javascript:alert(1)", "the address is not a web address (javascript:alert(1))"),
        ("http://example.com/", "the address is not https (http://example.com/)"),
        ("http://127.0.0.1/", "the address is not https (http://127.0.0.1/)"),
        (
            "https://user:pass@example.com/",
            "the address has a user name or password, which the watch never sends",
        ),
        (
            "https://example.com:8443/",
            "the address uses port 8443: only the standard https port (443) is watched",
        ),
        ("https://example.com:99999/", "the address is not valid (https://example.com:99999/)"),
        ("https://a..b/", "the address is not valid (https://a..b/)"),
        ("https://" + "a" * 64 + ".com/", f"the address is not valid (https://{'a' * 64}.com/)"),
    ],
)
def test_addresses_that_are_not_https_on_443_are_refused(
    connections: list[object], url: str, reason: str
) -> None:
    failed = failure(lambda: fetch_page(url))
    assert (failed.reason, failed.retryable) == (reason, False)
    assert connections == []


def test_a_session_that_does_not_check_addresses_is_refused() -> None:
    with pytest.raises(TypeError):
        fetch_page("https://example.com/", session=requests.Session())
    with pytest.raises(TypeError):
        fetch_page("https://example.com/", session=guarded_session(allow_loopback=True))


def test_no_proxy_from_the_environment_is_used(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.9:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.9:3128")
    site.routes["/"] = answer(200, PAGE)
    assert isinstance(fetch(site.url("/"), session=guarded_session(allow_loopback=True)), Fetched)


def test_what_counts_as_internal() -> None:
    assert not address_refused("93.184.216.34")
    assert not address_refused("2606:2800:220:1:248:1893:25c8:1946")
    assert address_refused("127.0.0.1") and not address_refused("127.0.0.1", allow_loopback=True)
    assert address_refused("::1") and not address_refused("::1", allow_loopback=True)
    assert address_refused("10.0.0.1", allow_loopback=True)
    assert address_refused("::ffff:127.0.0.1", allow_loopback=True)
    assert address_refused("2002:a00:1::1")  # 6to4 around 10.0.0.1
    assert address_refused("not an address")


# ---------------------------------------------------------------- TLS, with the address pinned


def certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` and its key, as files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[tuple[Site, Path]]:
    """A site on https://127.0.0.1, its certificate for watched.test (the file returned)."""
    cert_file, key_file = certificate(tmp_path, "watched.test")
    server = Site()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from ((served, cert_file) for served in serving(server))


def trusting(cert_file: Path) -> requests.Session:
    session = guarded_session(allow_loopback=True)
    session.verify = str(cert_file)
    return session


def test_tls_is_checked_against_the_name_while_the_socket_goes_to_the_address_checked(
    tls_site: tuple[Site, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given watched.test, which resolves to the site's address, and its certificate trusted
    site, cert_file = tls_site
    site.routes["/privacy"] = answer(200, PAGE)
    resolving(monkeypatch, {"watched.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
    url = f"https://watched.test:{site.port}/privacy"

    # When it is fetched, then the same server under a name its certificate does not carry
    fetched = fetch(url, session=trusting(cert_file))
    failed = failure(
        lambda: fetch(f"https://other.test:{site.port}/privacy", session=trusting(cert_file))
    )

    # Then the first is read, asked for by its name; the second refused, for good
    assert isinstance(fetched, Fetched) and fetched.body == PAGE
    (_, headers), *_ = site.received
    assert headers["Host"] == f"watched.test:{site.port}"
    assert (failed.reason, failed.retryable) == (
        "the page could not be reached securely (its certificate could not be verified)",
        False,
    )


def test_a_drip_over_tls_is_cut_off_at_the_deadline(
    tls_site: tuple[Site, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    site, cert_file = tls_site
    site.routes["/drip"] = lambda handler: drip(handler, headers_too=True)
    resolving(monkeypatch, {"watched.test": [["127.0.0.1"]]})
    began = time.monotonic()

    failed = failure(
        lambda: fetch(
            f"https://watched.test:{site.port}/drip",
            session=trusting(cert_file),
            total_timeout=0.5,
        )
    )

    assert failed.reason == "the page took longer than 0.5 seconds to arrive"
    assert time.monotonic() - began < 2


# ---------------------------------------------------------------- an Open Terms Archive API

AT = datetime(2025, 10, 27, 9, 0, tzinfo=UTC)


def collection_api(site: Site, versions: dict[tuple[str, str], dict[str, str]]) -> str:
    """A Collection API at /api/v1 holding `versions`, answering as the engine's route does."""

    def version(handler: _Handler) -> None:
        service, terms, date = (unquote(part) for part in handler.path.split("/")[4:7])
        found = versions.get((service, terms))
        if found is None:
            body = json.dumps({"error": f"No version found for date {date}"}).encode()
            answer(404, body, "application/json; charset=utf-8")(handler)
        else:
            answer(200, json.dumps(found).encode(), "application/json; charset=utf-8")(handler)

    site.routes["/api/v1/version/*"] = version
    return site.url("/api/v1")


VERSION_PATH = "/api/v1/version/LinkedIn/Privacy%20Policy/2025-10-27T09%3A00%3A00Z"
LINKEDIN_PRIVACY = {
    "id": "3f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e",
    "fetchDate": "2025-10-20T06:12:44Z",
    "content": "# Privacy Policy\n\nWe may use your data to train AI models.",
}


def test_a_version_is_read_from_the_collection_api(site: Site) -> None:
    base = collection_api(site, {("LinkedIn", "Privacy Policy"): LINKEDIN_PRIVACY})

    version = fetch_ota_version(base, "LinkedIn", "Privacy Policy", AT, allow_loopback=True)

    assert version == OtaVersion(
        id=LINKEDIN_PRIVACY["id"],
        fetch_date=datetime(2025, 10, 20, 6, 12, 44, tzinfo=UTC),
        content=LINKEDIN_PRIVACY["content"],
        url=f"{base}/version/LinkedIn/Privacy%20Policy/2025-10-27T09%3A00%3A00Z",
    )
    (path, headers), *_ = site.received
    assert path == VERSION_PATH
    assert headers["Accept"] == "application/json"


def test_a_version_the_archive_does_not_have_is_reported_by_name(site: Site) -> None:
    base = collection_api(site, {})

    failed = failure(
        lambda: fetch_ota_version(base, "LinkedIn", "Terms of Service", AT, allow_loopback=True)
    )

    assert failed.reason.startswith(
        "Open Terms Archive has no version of LinkedIn's Terms of Service at 2025-10-27T09:00:00Z"
    )
    assert not failed.retryable


def test_a_slash_in_a_service_id_stays_in_its_segment(site: Site) -> None:
    base = collection_api(site, {("A/B", "Privacy Policy"): LINKEDIN_PRIVACY})

    version = fetch_ota_version(base, "A/B", "Privacy Policy", AT, allow_loopback=True)

    assert version.id == LINKEDIN_PRIVACY["id"]
    assert site.paths() == ["/api/v1/version/A%2FB/Privacy%20Policy/2025-10-27T09%3A00%3A00Z"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"id": "x", "content": "c"}', b'{"id": 1, "fetchDate": "x"}'],
)
def test_an_answer_that_is_not_a_version_is_reported(site: Site, body: bytes) -> None:
    site.routes[VERSION_PATH] = answer(200, body, "application/json")
    failed = failure(
        lambda: fetch_ota_version(
            site.url("/api/v1"), "LinkedIn", "Privacy Policy", AT, allow_loopback=True
        )
    )
    assert failed.reason == "the Open Terms Archive API answered something that is not a version"


def test_a_busy_collection_api_is_retryable(site: Site) -> None:
    site.routes[VERSION_PATH] = answer(503, b"{}", "application/json")
    failed = failure(
        lambda: fetch_ota_version(
            site.url("/api/v1"), "LinkedIn", "Privacy Policy", AT, allow_loopback=True
        )
    )
    assert (failed.reason, failed.retryable) == ("the Open Terms Archive API answered 503", True)


def test_the_collection_api_is_held_to_the_same_addresses(connections: list[object]) -> None:
    failed = failure(lambda: fetch_ota_version("https://10.0.0.1/v1", "LinkedIn", "x", AT))
    assert "(10.0.0.1)" in failed.reason and connections == []
    with pytest.raises(ValueError, match="timezone-aware"):
        fetch_ota_version("https://api.example/v1", "LinkedIn", "x", datetime(2025, 1, 1))


# ---------------------------------------------------------------- its Atom feed (newer engines)

FEED_PATH = "/api/v1/feed/LinkedIn/Privacy%20Policy"
FEED_UPDATED = "Fri, 20 Oct 2025 06:12:44 GMT"
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Demo collection</title>
  <id>tag:opentermsarchive.org,2026:feed:demo:LinkedIn:Privacy Policy</id>
  <updated>2025-10-20T06:12:44.000Z</updated>
  <link rel="self" type="application/atom+xml" href="http://127.0.0.1/api/v1/feed/LinkedIn/Privacy%20Policy"/>
  <author><name>Open Terms Archive engine</name></author>
  <entry>
    <id>tag:opentermsarchive.org,2026:version:demo:git:3f1c2a9e</id>
    <link rel="alternate" type="application/json" href="http://127.0.0.1/api/v1/version/LinkedIn/Privacy%20Policy/2025-10-20T06%3A12%3A44Z"/>
    <title>LinkedIn Privacy Policy</title>
    <updated>2025-10-20T06:12:44.000Z</updated>
    <category term="LinkedIn" scheme="tag:opentermsarchive.org,2026:scheme:service"/>
    <category term="Privacy Policy" scheme="tag:opentermsarchive.org,2026:scheme:terms-type"/>
    <category term="Change" scheme="tag:opentermsarchive.org,2026:scheme:record-type"/>
  </entry>
  <entry>
    <id>tag:opentermsarchive.org,2026:version:demo:git:0a1b2c3d</id>
    <link rel="alternate" type="application/json" href="http://127.0.0.1/api/v1/version/LinkedIn/Privacy%20Policy/2024-01-02T03%3A04%3A05Z"/>
    <title>LinkedIn Privacy Policy</title>
    <updated>2024-01-02T03:04:05.000Z</updated>
    <category term="First record" scheme="tag:opentermsarchive.org,2026:scheme:record-type"/>
  </entry>
  <entry>
    <title>an entry with no id, left out</title>
    <updated>2024-01-01T00:00:00.000Z</updated>
  </entry>
</feed>
"""


def feed_route(handler: _Handler) -> None:
    """As the engine's feed route: Last-Modified, and a 304 to an If-Modified-Since as recent."""
    if handler.headers.get("If-Modified-Since") == FEED_UPDATED:
        answer(304, content_type="")(handler)
    else:
        answer(200, FEED, "application/atom+xml; charset=utf-8", Last_Modified=FEED_UPDATED)(
            handler
        )


def test_the_feed_s_entries_are_read_and_a_304_says_nothing_is_new(site: Site) -> None:
    site.routes[FEED_PATH] = feed_route
    base = site.url("/api/v1")

    feed = fetch_ota_feed(base, "LinkedIn", "Privacy Policy", allow_loopback=True)
    again = fetch_ota_feed(
        base, "LinkedIn", "Privacy Policy", last_modified=feed.last_modified, allow_loopback=True
    )

    assert isinstance(feed, OtaFeed)
    assert [(entry.updated, entry.record_type) for entry in feed.entries] == [
        (datetime(2025, 10, 20, 6, 12, 44, tzinfo=UTC), "Change"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "First record"),
    ]
    assert feed.entries[0] == OtaFeedEntry(
        id="tag:opentermsarchive.org,2026:version:demo:git:3f1c2a9e",
        title="LinkedIn Privacy Policy",
        updated=datetime(2025, 10, 20, 6, 12, 44, tzinfo=UTC),
        link="http://127.0.0.1/api/v1/version/LinkedIn/Privacy%20Policy/2025-10-20T06%3A12%3A44Z",
        record_type="Change",
    )
    assert feed.last_modified == FEED_UPDATED
    assert again == NotModified(
        url=f"{base}/feed/LinkedIn/Privacy%20Policy", etag="", last_modified=FEED_UPDATED
    )


def test_a_feed_for_an_unknown_service_is_reported_by_name(site: Site) -> None:
    failed = failure(
        lambda: fetch_ota_feed(site.url("/api/v1"), "Nobody", "Privacy Policy", allow_loopback=True)
    )
    assert failed.reason.startswith("Open Terms Archive has no feed of Nobody's Privacy Policy")
    assert not failed.retryable


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;'
            b'&a;&a;&a;&a;&a;&a;&a;">]><feed xmlns="http://www.w3.org/2005/Atom">&b;</feed>',
            "the Open Terms Archive feed declares a DTD, which the watch never reads",
        ),
        (
            b'<?xml version="1.0"?><!doctype feed SYSTEM "file:///etc/passwd"><feed/>',
            "the Open Terms Archive feed declares a DTD, which the watch never reads",
        ),
        (b"<feed", "the Open Terms Archive feed answered something that is not an Atom feed"),
        (b"<rss/>", "the Open Terms Archive feed answered something that is not an Atom feed"),
    ],
    ids=["entities", "external", "broken", "not-atom"],
)
def test_a_feed_that_is_not_plain_atom_is_refused(site: Site, body: bytes, reason: str) -> None:
    site.routes[FEED_PATH] = answer(200, body, "application/atom+xml")
    failed = failure(
        lambda: fetch_ota_feed(
            site.url("/api/v1"), "LinkedIn", "Privacy Policy", allow_loopback=True
        )
    )
    assert (failed.reason, failed.retryable) == (reason, False)
