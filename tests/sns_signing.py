"""Sign SNS messages as SNS does, with a key and self-signed certificate made for the test, and
serve that certificate (and SubscribeURL visits) from a real HTTP server on 127.0.0.1.

`sns_http.session()` gets an adapter that sends every https request to that server and records
it, so a test sees exactly which SNS URLs the code fetched, and that it fetched nothing when it
should refuse first.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter

from optout.feedback import sns_http

# As in the sample events of events/feedback-http-*.json.
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"


class SnsSigner:
    """An RSA key and its self-signed certificate, signing messages the way SNS does."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(UTC)
        self.certificate_pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )

    def sign(self, fields: dict[str, Any], version: str = "2") -> dict[str, Any]:
        """`fields` with SignatureVersion, SigningCertURL (unless given) and a fresh Signature."""
        signed = {"SigningCertURL": CERT_URL, **fields, "SignatureVersion": version}
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS's v1)
        signature = self.key.sign(sns_http.canonical_string(signed), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed


class _Handler(BaseHTTPRequestHandler):
    server: LocalSns  # type: ignore[assignment]

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.path.endswith("-missing.pem"):
            self.send_error(404)
            return
        if self.path.endswith(".pem"):
            body, kind = self.server.certificate_pem, "application/x-pem-file"
        else:  # ?Action=ConfirmSubscription&...
            body, kind = b"<ConfirmSubscriptionResponse/>", "text/xml"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class LocalSns(ThreadingHTTPServer):
    """SNS's certificate host and SubscribeURL, on 127.0.0.1; `requests` lists the paths asked."""

    def __init__(self, certificate_pem: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.certificate_pem = certificate_pem
        self.requests: list[str] = []


class _ToLocalSns(HTTPAdapter):
    """Sends each https request to the local server instead, keeping path and query."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        parts = urlsplit(request.url)
        request.url = parts._replace(scheme="http", netloc=f"127.0.0.1:{self.port}").geturl()
        return super().send(request, **kwargs)


@contextmanager
def local_sns(signer: SnsSigner) -> Iterator[LocalSns]:
    """Serve `signer`'s certificate and route `sns_http`'s https requests to it."""
    server = LocalSns(signer.certificate_pem)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sns_http.forget_certificates()
    session = sns_http.session()
    session.mount("https://", _ToLocalSns(server.server_address[1]))
    try:
        yield server
    finally:
        sns_http.session.cache_clear()
        sns_http.forget_certificates()
        server.shutdown()
        server.server_close()
