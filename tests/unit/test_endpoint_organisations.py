"""Which events an endpoint hears in coalition mode (`Endpoint.hears`): the default
organisation's endpoints (the coalition owner's tools) every one, an organisation's only those
whose data names it; an event that names none is the default organisation's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optout.domain.endpoints import Endpoint


def _endpoint(organisation: str) -> Endpoint:
    return Endpoint(
        "ep_a",
        "https://x.example.org/in",
        "whsec_a",
        "2025-10-27T09:00:00Z",
        organisation=organisation,
    )


def _event(data: dict[str, Any]) -> str:
    return json.dumps(
        {"type": "campaign.launched", "timestamp": "2025-10-27T09:00:00Z", "data": data}
    )


@pytest.mark.parametrize(
    "data",
    [{"organisations": ["friends-de"]}, {"organisations": ["greens-fr"]}, {}],
)
def test_the_default_organisation_s_endpoint_hears_every_event(data: dict[str, Any]) -> None:
    assert _endpoint("default").hears(_event(data))


@pytest.mark.parametrize(
    ("data", "heard"),
    [
        ({"organisations": ["default", "friends-de"]}, True),
        ({"organisations": ["greens-fr"]}, False),
        ({}, False),  # before coalitions: the default organisation's
        ({"organisations": []}, False),
    ],
)
def test_an_organisation_s_endpoint_hears_only_the_events_naming_it(
    data: dict[str, Any], heard: bool
) -> None:
    assert _endpoint("friends-de").hears(_event(data)) is heard


def test_an_organisation_s_endpoint_hears_nothing_of_a_body_it_cannot_read() -> None:
    assert not _endpoint("friends-de").hears("not json")
    assert not _endpoint("friends-de").hears(json.dumps(["friends-de"]))
