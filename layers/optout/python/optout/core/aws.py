"""boto3 clients, created lazily and once per execution environment.

Lazy so that tests and the local stack can point `AWS_ENDPOINT_URL` at moto before the first
call; cached so that a warm Lambda reuses connections.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling and 5xx; adaptive would add client-side rate
# limiting that fights the sender's own pacing.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10
)


@cache
def client(service: str) -> Any:
    """A boto3 client for `service` ("sesv2", "sns", "sqs", ...)."""
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


# A send that timed out may have gone out: botocore must not repeat it behind our back.
# `optout.channels.send_once` retries what is safe to retry (throttling) itself.
_SEND_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10
)


@cache
def send_client(service: str) -> Any:
    """A boto3 client for sending messages ("sesv2", "sns"), which never retries by itself."""
    return boto3.client(service, config=_SEND_CONFIG)  # type: ignore[call-overload]


@cache
def secrets() -> Any:
    """Powertools' Secrets Manager provider (its cache included), on a client made here: every
    AWS call of the layer goes through this module's clients."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client("secretsmanager"))


@cache
def table(name: str) -> Any:
    """A DynamoDB Table resource for the table called `name`."""
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)


def reset() -> None:
    """Forget every client (tests that switch endpoints or credentials)."""
    client.cache_clear()
    send_client.cache_clear()
    secrets.cache_clear()
    table.cache_clear()
