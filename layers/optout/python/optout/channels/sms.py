"""SMS through Amazon SNS, sent as transactional messages to one E.164 number."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from botocore.exceptions import ClientError

from optout.channels import PermanentFailure, send_once
from optout.core import aws
from optout.core.settings import Settings

_PERMANENT = {"InvalidParameter", "InvalidParameterValue", "OptedOut"}


# GSM 03.38: the basic set costs one septet a character, the extension set two.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = set("^{}\\[~]|€\f")


_LETTERS_WITHOUT_DECOMPOSITION = {"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "ø", "æ": "æ"}
# Typography that would force the costly UCS-2 encoding for a whole message, and its plain twin.
_PLAIN = str.maketrans(
    {
        "\u00a0": " ",
        "\u202f": " ",
        "\u2019": "'",
        "\u2018": "'",
        "«": '"',
        "»": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


def plain(text: str) -> str:
    """`text` made to fit the GSM-7 alphabet where it can be without losing words, so that it
    costs 160 characters a segment rather than 70: typographic spaces, quotes and dashes become
    plain ones, and accented Latin letters that GSM-7 lacks lose their accent (``ó`` -> ``o``,
    ``ł`` -> ``l``), as texts in Spanish or Polish are commonly written. Text in other scripts
    is left as it is."""
    text = text.translate(_PLAIN)
    if _is_gsm(text):
        return text
    folded = "".join(
        char if char in _GSM_BASIC or char in _GSM_EXTENSION else _unaccented(char) for char in text
    )
    return folded if _is_gsm(folded) else text


def _unaccented(char: str) -> str:
    if char in _LETTERS_WITHOUT_DECOMPOSITION:
        return _LETTERS_WITHOUT_DECOMPOSITION[char]
    return "".join(
        part for part in unicodedata.normalize("NFD", char) if not unicodedata.combining(part)
    )


def _is_gsm(text: str) -> bool:
    return all(char in _GSM_BASIC or char in _GSM_EXTENSION for char in text)


def segments(text: str) -> tuple[str, int]:
    """The encoding ("GSM-7" or "UCS-2") and number of segments a text message takes.

    One segment holds 160 GSM-7 characters or 70 UCS-2 code units; a longer message is split
    into parts of 153 or 67, the rest of each part carrying the joining header.
    """
    if _is_gsm(text):
        septets = sum(2 if char in _GSM_EXTENSION else 1 for char in text)
        return "GSM-7", 1 if septets <= 160 else -(-septets // 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else -(-units // 67)


@dataclass(frozen=True)
class Sms:
    to: str  # E.164
    text: str


def send(settings: Settings, sms: Sms) -> str:
    """Send `sms` through the configured provider; returns its message id."""
    if settings.sms.provider == "http":
        # Deferred: only an HTTP provider needs `requests`, and most stacks send through SNS.
        from optout.channels import sms_http

        return sms_http.send(settings, sms.to, sms.text)
    return _send_sns(sms)


def _send_sns(sms: Sms) -> str:  # SNS keeps its own opt-out list and drops those numbers
    attributes = {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
    }
    try:
        return send_once(
            aws.send_client("sns").publish,
            PhoneNumber=sms.to,
            Message=sms.text,
            MessageAttributes=attributes,
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _PERMANENT:
            raise PermanentFailure(
                f"SNS refused the message: {code}", opted_out=code == "OptedOut"
            ) from error
        raise
