"""SES's mailbox simulator, as the local stack plays it, so that `optout smoke` walks here the
path it walks in AWS.

Mail to `bounce@`, `complaint@` and `suppressionlist@simulator.amazonses.com` (with or without
a `+label`) is answered as SES answers it: a bounce or complaint notification, in SES's own
JSON format, with the tags the message was sent with, published to FeedbackTopic, which
invokes FeedbackFunction. `success@` (and any other address) is simply delivered. See
https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from optout.core.clock import iso
from optout.domain.contacts import SIMULATOR_DOMAIN

# What SES reports for each simulator mailbox (bounceSubType and the remote server's words).
_BOUNCES = {
    "bounce": ("General", "5.1.1", "smtp; 550 5.1.1 user unknown"),
    "suppressionlist": (
        "Suppressed",
        "5.1.1",
        "Amazon SES has suppressed sending to this address because it has a recent history "
        "of bouncing as an invalid address.",
    ),
}


def mailbox(address: str) -> str:
    """The simulator mailbox an address names ("bounce" for bounce+run7@...), or ""."""
    local, _, domain = address.strip().lower().rpartition("@")
    return local.split("+", 1)[0] if domain == SIMULATOR_DOMAIN else ""


class MailboxSimulator:
    """Keeps the tags of every email sent (moto drops them) and makes the notifications SES
    would publish for the ones sent to simulator mailboxes."""

    def __init__(self, events: Any, account: str, region: str) -> None:
        self._account, self._region = account, region
        self._tags: dict[str, dict[str, list[str]]] = {}  # SES message id -> tags
        # The tags are in the request, the id in the answer; a call's `context` goes to both.
        events.register("before-parameter-build.sesv2.SendEmail", self._read_tags)
        events.register("after-call.sesv2.SendEmail", self._remember_tags)

    @staticmethod
    def _read_tags(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["email_tags"] = {tag["Name"]: [tag["Value"]] for tag in params.get("EmailTags", [])}

    def _remember_tags(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "MessageId" in parsed:  # only a message moto accepted has an id, and is answered
            self._tags[parsed["MessageId"]] = context.get("email_tags", {})

    def answers(self, sent: list[Any], now: datetime) -> list[str]:
        """The SNS messages (SES notifications, as JSON) for moto's newly sent messages."""
        notifications = []
        for message in sent:
            tags = self._tags.pop(message.id, {})  # every message's: the stack runs for long
            for address in dict.fromkeys(message.destinations):  # moto may list one twice
                kind = mailbox(address)
                if kind in _BOUNCES or kind == "complaint":
                    notification = self._notification(kind, address, message, tags, now)
                    notifications.append(json.dumps(notification))
        return notifications

    def _notification(
        self, kind: str, address: str, message: Any, tags: dict[str, list[str]], now: datetime
    ) -> dict[str, Any]:
        at = iso(now)
        mail = {
            "timestamp": at,
            "source": message.source,
            "sourceArn": f"arn:aws:ses:{self._region}:{self._account}:identity/{message.source}",
            "sendingAccountId": self._account,
            "messageId": message.id,
            "destination": list(dict.fromkeys(message.destinations)),
            "headersTruncated": False,
            "tags": tags,
        }
        feedback_id = f"{uuid.uuid4().hex}-000000"
        if kind == "complaint":
            return {
                "notificationType": "Complaint",
                "complaint": {
                    "feedbackId": feedback_id,
                    "complaintSubType": None,
                    "complainedRecipients": [{"emailAddress": address}],
                    "timestamp": at,
                    "userAgent": "Amazon SES Mailbox Simulator",
                    "complaintFeedbackType": "abuse",
                    "arrivalDate": at,
                },
                "mail": mail,
            }
        sub_type, status, diagnostic = _BOUNCES[kind]
        return {
            "notificationType": "Bounce",
            "bounce": {
                "feedbackId": feedback_id,
                "bounceType": "Permanent",
                "bounceSubType": sub_type,
                "bouncedRecipients": [
                    {
                        "emailAddress": address,
                        "action": "failed",
                        "status": status,
                        "diagnosticCode": diagnostic,
                    }
                ],
                "timestamp": at,
                "reportingMTA": "dns; amazonses.com",
            },
            "mail": mail,
        }
