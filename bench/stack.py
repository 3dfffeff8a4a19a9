"""The local moto stack, as `make run` starts it, for benchmarks: one embedded moto server, and
template.yaml's tables and queues created afresh for each measurement."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from local import provision
from local.__main__ import _point_aws_at, _start_moto
from optout.core import aws, settings
from optout.core.settings import Settings


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """Start moto in this process on a free port and point every boto3 client at it, exactly as
    the local stack does; yields its URL, and empties and stops it afterwards.

    Emptied, because the interpreter would otherwise collect moto's tables at exit, walking
    every item several times: half a minute at 100,000 subscribers.
    """
    server = _start_moto()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        _point_aws_at(endpoint)
        yield endpoint
    finally:
        _reset(endpoint)
        server.stop()


def fresh_stack(endpoint: str, prefix: str) -> Settings:
    """Empty moto, create the template's resources under `prefix`, and return the settings the
    functions would get for them."""
    _reset(endpoint)
    os.environ.update(provision.provision(prefix))
    aws.reset()
    settings.get.cache_clear()
    return settings.get()


def _reset(endpoint: str) -> None:
    """Drop everything moto holds. Its state lives in this process, not in the server, so a
    new server would still hold the tables of an earlier size."""
    requests.post(f"{endpoint}/moto-api/reset", timeout=60).raise_for_status()
