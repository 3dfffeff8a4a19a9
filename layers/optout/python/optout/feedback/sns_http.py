"""SNS messages delivered over HTTP(S): for SES feedback or two-way texts whose topic cannot
invoke our function directly (another account, a provider's topic).

Anyone can POST to a public URL, so a message is acted on only when it provably comes from one
of the topics we expect, checked as AWS documents it ("Verifying the signatures of Amazon SNS
messages"): the topic is one of ours; the signing certificate's URL is https on an
``sns.<region>.amazonaws.com`` host (or ``.amazonaws.com.cn``), refused without a request
otherwise; the signature (version 1: SHA1withRSA, 2: SHA256withRSA) holds over the canonical
string of the message's type; and the message is younger than SNS's longest retry. The
certificate is trusted because it comes from SNS's own host over TLS that `requests` verifies
against the public certificate authorities: that is the chain of trust.
A notification then takes the same path as one SNS delivers to the function directly.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from optout.core import json_body
from optout.core.clock import parse_iso
from optout.core.errors import InvalidInput, OptoutError, PayloadTooLarge
from optout.core.observability import logger, trace_requests
from optout.core.settings import Settings
from optout.feedback import inbound

trace_requests()

# SNS messages are at most 256 KiB; their JSON envelope adds a little.
MAX_BODY_BYTES = 300 * 1024
# SNS stops retrying an HTTP delivery within an hour (a hard limit of its delivery policies),
# so an older message is a replay; a few minutes more for clocks that disagree.
MAX_AGE = timedelta(hours=1, minutes=5)
CERTIFICATE_TIMEOUT_SECONDS = 5.0

# The fields each type signs, in the order of the canonical string; Subject only when present.
_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": _CONFIRMATION_FIELDS,
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
# SNS's own hosts: sns.<a region>.amazonaws.com(.cn), the region spelt as AWS spells them
# (eu-west-1, us-gov-west-1, cn-north-1). A looser pattern let in sns.s3.amazonaws.com, the
# S3 address of a bucket named "sns" that anyone can create.
_SNS_HOST = re.compile(r"sns\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[1-9][0-9]?\.amazonaws\.com(\.cn)?")
_ENVELOPE = ("Type", "TopicArn", "Timestamp", "SignatureVersion", "Signature", "SigningCertURL")


class SnsMessageRefused(OptoutError):
    """Not provably an SNS message of a topic we expect: nothing is done with it."""

    status = 403


class SnsUnreachable(OptoutError):
    """SNS did not answer (its certificate, a confirmation): a 5xx makes SNS try again."""

    status = 503


@dataclass(frozen=True)
class SnsMessage:
    type: str
    topic_arn: str
    message_id: str
    message: str
    subscribe_url: str


def receive(settings: Settings, body: bytes, *, received_at: datetime, now: datetime) -> str:
    """Check one SNS delivery and act on it; what was done, for the log and the answer.

    `received_at` is real time (a signer's true clock must be accepted whatever the stack's
    clock says); `now` is the clock domain code writes with.
    """
    message = verified(parse(body), settings.accepted_sns_topic_arns, received_at)
    if message.type == "SubscriptionConfirmation":
        confirm_subscription(message)
        logger.info("SNS subscription confirmed", extra={"topic": message.topic_arn})
        return "subscription confirmed"
    if message.type == "UnsubscribeConfirmation":
        # Someone unsubscribed this endpoint; re-subscribing is the operator's decision.
        logger.warning("SNS subscription ended", extra={"topic": message.topic_arn})
        return "unsubscribe noted"
    return inbound.handle(settings, message.message, now)


def parse(body: bytes) -> dict[str, str]:
    """The fields of an SNS HTTP delivery; InvalidInput names what is missing or malformed."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"an SNS message is not larger than {MAX_BODY_BYTES // 1024} KiB")
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput({"body": "not a JSON SNS message"}) from None
    if not isinstance(fields, dict):
        raise InvalidInput({"body": "not a JSON SNS message"})
    kind = fields.get("Type")
    if not isinstance(kind, str) or kind not in _SIGNED_FIELDS:  # a dict or list: unhashable
        raise InvalidInput({"Type": f"not an SNS message type: {str(kind)[:40]!r}"})
    required = [*_ENVELOPE, *(name for name in _SIGNED_FIELDS[kind] if name != "Subject")]
    problems = {
        name: "missing"
        for name in required
        if not (fields.get(name) and isinstance(fields[name], str))
    }
    if not isinstance(fields.get("Subject", ""), str | None):
        problems["Subject"] = "not a string"
    for name, value in fields.items():
        # JSON may escape half a UTF-16 pair; SNS never signs one, and it has no UTF-8 bytes.
        if isinstance(value, str) and not json_body.is_utf8(value):
            problems[name] = "not UTF-8 text"
    if problems:
        raise InvalidInput(problems)
    return {name: value for name, value in fields.items() if isinstance(value, str)}


def verified(fields: dict[str, str], accepted_topics: tuple[str, ...], now: datetime) -> SnsMessage:
    """The message, if it is signed by SNS for one of `accepted_topics` and recent enough."""
    if fields["TopicArn"] not in accepted_topics:
        raise SnsMessageRefused("messages from this topic are not accepted here")
    algorithm = _HASHES.get(fields["SignatureVersion"])
    if algorithm is None:
        raise SnsMessageRefused("unknown SignatureVersion (1 or 2)")
    certificate_url = sns_url(fields["SigningCertURL"], "SigningCertURL")
    try:
        signature = base64.b64decode(fields["Signature"], validate=True)
    except (binascii.Error, ValueError):
        raise SnsMessageRefused("the signature is not base64") from None
    try:
        signing_key(certificate_url).verify(
            signature, canonical_string(fields), padding.PKCS1v15(), algorithm()
        )
    except InvalidSignature:
        raise SnsMessageRefused("the signature does not match the message") from None
    try:
        sent_at = parse_iso(fields["Timestamp"])
    except ValueError:
        raise SnsMessageRefused("the Timestamp is not a time") from None
    if abs(now - sent_at) > MAX_AGE:
        raise SnsMessageRefused(
            "the message's Timestamp is further from now than any SNS retry (a replay?)"
        )
    return SnsMessage(
        type=fields["Type"],
        topic_arn=fields["TopicArn"],
        message_id=fields["MessageId"],
        message=fields["Message"],
        subscribe_url=fields.get("SubscribeURL", ""),
    )


def canonical_string(fields: dict[str, str]) -> bytes:
    """What SNS signs: each signed field of the message's type as name, newline, value,
    newline, in order; Subject only when the message has one."""
    return "".join(
        f"{name}\n{fields[name]}\n"
        for name in _SIGNED_FIELDS[fields["Type"]]
        if fields.get(name) is not None
    ).encode("utf-8")


def sns_url(url: str, field: str) -> str:
    """`url` if it is https on an SNS host of some region; refused (before any request) if not."""
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.password is not None
        or parts.port is not None
        or not _SNS_HOST.fullmatch(parts.hostname or "")
    ):
        raise SnsMessageRefused(f"the {field} is not an https URL of Amazon SNS")
    return url


def signing_key(certificate_url: str) -> rsa.RSAPublicKey:
    """The public key of SNS's signing certificate at this (checked) URL."""
    key = _certificate(certificate_url).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsMessageRefused("the signing certificate does not hold an RSA key")
    return key


@lru_cache(maxsize=16)
def _certificate(certificate_url: str) -> x509.Certificate:
    """SNS's certificate, fetched once per URL and execution environment (SNS rotates it by
    changing the URL, so a cached one never goes stale under its URL)."""
    try:
        # Never followed: a redirect could lead off SNS's hosts, where anyone's key waits.
        response = session().get(
            certificate_url, timeout=CERTIFICATE_TIMEOUT_SECONDS, allow_redirects=False
        )
        if 300 <= response.status_code < 400:
            raise SnsMessageRefused("the SigningCertURL redirects: SNS serves its certificates")
        if 400 <= response.status_code < 500:
            # SNS has no certificate there: a made-up URL on its host, not an outage.
            raise SnsMessageRefused("there is no certificate at the SigningCertURL")
        response.raise_for_status()
    except requests.RequestException as error:
        logger.warning("SNS signing certificate not fetched", extra={"reason": str(error)})
        raise SnsUnreachable("the signing certificate could not be fetched; try again") from error
    try:
        return x509.load_pem_x509_certificate(response.content)
    except ValueError:
        raise SnsMessageRefused("the signing certificate is not a PEM certificate") from None


def forget_certificates() -> None:
    """Drop the cached certificates (tests that sign with keys of their own)."""
    _certificate.cache_clear()


def confirm_subscription(message: SnsMessage) -> None:
    """Visit the SubscribeURL of a verified confirmation (only if it leads to SNS itself)."""
    url = sns_url(message.subscribe_url, "SubscribeURL")
    try:
        answer = session().get(url, timeout=CERTIFICATE_TIMEOUT_SECONDS, allow_redirects=False)
        answer.raise_for_status()
    except requests.RequestException as error:
        logger.warning("SNS subscription not confirmed", extra={"reason": str(error)})
        raise SnsUnreachable(
            "the subscription could not be confirmed with SNS; try again"
        ) from error


@lru_cache(maxsize=1)
def session() -> requests.Session:
    """The HTTP session that reaches SNS (tests mount an adapter on it to serve locally)."""
    return requests.Session()
