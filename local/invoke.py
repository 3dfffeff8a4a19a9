"""Run the real handlers in this process, with the events AWS would give them.

HTTP requests become API Gateway REST proxy events (version 1.0, the format of `Type: Api`
events); queue messages become SQS events; ticks become EventBridge scheduled events.
"""

from __future__ import annotations

import base64
import importlib.util
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

from local import environments, iam, template
from optout.core import settings as optout_settings


@dataclass
class FakeContext:
    """The LambdaContext fields Powertools reads, and the time left before the function's
    Timeout (template.yaml's), counted from the invocation's start as Lambda counts it."""

    function_name: str
    timeout_seconds: int = 60
    memory_limit_in_mb: int = 256
    aws_request_id: str = ""
    invoked_function_arn: str = ""
    started: float = 0.0

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:eu-west-1:123456789012:function:{self.function_name}"
        )
        self.started = time.monotonic()

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


_modules: dict[str, ModuleType] = {}


def handler_module(logical_id: str) -> ModuleType:
    """Import a function's handler module once, under a name of its own (every one is `app`),
    its settings read from its own environment (`local.environments`)."""
    if logical_id not in _modules:
        function = template.functions()[logical_id]
        module_file, _ = function.handler.split(".")
        # Lambda puts the task root on the path: a handler may import the modules beside it
        # (whose names are unique across functions: admin_campaigns, not campaigns).
        if str(function.code_dir) not in sys.path:
            sys.path.append(str(function.code_dir))
        spec = importlib.util.spec_from_file_location(
            f"functions_{logical_id}", function.code_dir / f"{module_file}.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        if getattr(module, "settings", None) is optout_settings:
            module.settings = environments.OwnSettings(logical_id)  # type: ignore[attr-defined]
        _modules[logical_id] = module
    return _modules[logical_id]


def invoke(logical_id: str, event: dict[str, Any]) -> Any:
    """Run `logical_id`'s handler on `event`, its AWS calls made as its own role (`local.iam`)."""
    function = template.functions()[logical_id]
    with iam.enforcer().acting_as(logical_id):  # the import too: Lambda's init runs as the role
        handler = getattr(handler_module(logical_id), function.handler.split(".")[1])
        return handler(event, FakeContext(logical_id, function.timeout_seconds))


def api_event(
    method: str,
    path: str,
    *,
    route: template.Route,
    path_parameters: dict[str, str],
    headers: dict[str, str] | None = None,
    query: str = "",
    body: bytes = b"",
    host: str = "127.0.0.1:3000",
    stage: str = "local",
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as AWS sends it for `method path`."""
    headers = dict(headers or {})
    headers.setdefault("Host", host)
    headers.setdefault("X-Forwarded-Proto", "http")
    query_values = parse_qs(query, keep_blank_values=True)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    now = datetime.now(UTC)
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query_values.items()} or None,
        "multiValueQueryStringParameters": query_values or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method.upper(),
            "path": path,  # the local stack serves without a stage prefix, like a custom domain
            "stage": stage,
            "domainName": host,
            "requestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
            "protocol": "HTTP/1.1",
            "accountId": "123456789012",
            "apiId": "local",
        },
        "body": text or None,
        "isBase64Encoded": encoded,
    }


def sqs_event(queue_arn: str, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An SQS event for messages as ReceiveMessage returns them."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": message.get("Attributes", {}).get(
                        "ApproximateReceiveCount", "1"
                    ),
                    "SentTimestamp": message.get("Attributes", {}).get("SentTimestamp", "0"),
                },
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
            for message in messages
        ]
    }


def sns_event(topic_arn: str, message: str) -> dict[str, Any]:
    """An SNS event, as a topic's Lambda subscription delivers `message`."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": None,
                    "Message": message,
                    "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def scheduled_event(at: datetime) -> dict[str, Any]:
    """An EventBridge scheduled event fired at `at`."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/local-tick"],
        "detail": {},
    }


def find_route(method: str, path: str) -> tuple[template.Route, dict[str, str]] | None:
    for route in template.routes():
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def decode_response(response: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body bytes of a proxy integration response."""
    headers = {k: v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode("utf-8")
    return int(response["statusCode"]), headers, data
