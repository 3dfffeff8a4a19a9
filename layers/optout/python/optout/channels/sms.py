"""SMS through Amazon SNS, sent as transactional messages to one E.164 number."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from optout import aws
from optout.channels import PermanentFailure
from optout.settings import Settings

_PERMANENT = {"InvalidParameter", "InvalidParameterValue", "OptedOut"}


@dataclass(frozen=True)
class Sms:
    to: str  # E.164
    text: str


def send(settings: Settings, sms: Sms) -> str:
    """Send `sms`; returns the SNS message id."""
    attributes = {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
    }
    try:
        response = aws.client("sns").publish(
            PhoneNumber=sms.to, Message=sms.text, MessageAttributes=attributes
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _PERMANENT:
            raise PermanentFailure(f"SNS refused the message: {code}") from error
        raise
    return str(response["MessageId"])
