"""Log lines name no contact and carry no link token, whatever an error message says."""

from __future__ import annotations

import io
import json
import logging

from botocore.exceptions import ClientError

from optout.channels import PermanentFailure
from optout.core.observability import logger, redact

TOKEN = "k1.privacy.t9eu80.syx36lomhc265z4el5bxpwmgqeayhfyb.0h0P4GdTPFmFVnaZUF7Ilw"


def logged_line(emit) -> str:
    """What the shared logger writes while `emit(logger)` runs, with its own formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    return line


def test_an_exception_from_ses_naming_the_address_is_logged_without_it() -> None:
    # Given SES's sandbox refusal, which names the recipient, under an error of our own
    refusal = ClientError(
        {
            "Error": {
                "Code": "MessageRejected",
                "Message": "Email address is not verified. The following identities failed "
                "the check in region EU-WEST-1: Ada.Lovelace@example.org",
            }
        },
        "SendEmail",
    )

    def fail(log: logging.Logger) -> None:
        try:
            try:
                raise refusal
            except ClientError as error:
                raise PermanentFailure(f"could not send to +1 416 555 0123 ({TOKEN})") from error
        except PermanentFailure:
            log.exception("notice failed; SQS will retry it")

    line = logged_line(fail)
    # Then the line is still JSON, says what failed and why, and names nobody
    record = json.loads(line)
    assert record["message"] == "notice failed; SQS will retry it"
    assert "MessageRejected" in record["exception"] and "failed the check" in line
    for personal in ("Ada.Lovelace@example.org", "+1 416 555 0123", "4165550123", TOKEN):
        assert personal not in line
    assert line.count("[redacted]") >= 3


def test_redaction_leaves_times_ids_and_counts_alone() -> None:
    ordinary = (
        '{"timestamp":"2026-12-04 01:30:43,974+0000","campaign_id":"linkedin-genai-2025",'
        '"reminder":"REMINDER#EU#07","sent":1200,"message_id":"0102019a-5b1f"}'
    )
    assert redact(ordinary) == ordinary
    assert redact("to +14165550123 and +41 79 123 45 67") == "to [redacted] and [redacted]"
