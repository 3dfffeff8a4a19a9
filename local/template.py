"""Read template.yaml, the single source of truth, for the local stack and the tests.

Understands the CloudFormation short tags (!Ref, !GetAtt, !Sub...) well enough to create the
tables and queues in moto with the template's own key schemas and indexes, to list the HTTP
routes of the API events, and to give each function the environment it would have in AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    """A YAML loader that turns ``!Tag value`` into ``{"Tag": value}`` (``!Ref`` -> ``Ref``)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


@lru_cache(maxsize=1)
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(yaml.load(handle, Loader=_Loader))  # noqa: S506 (a SafeLoader subclass)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every resource of CloudFormation type `kind`."""
    return {
        name: resource.get("Properties", {})
        for name, resource in load()["Resources"].items()
        if resource["Type"] == kind
    }


def table_definitions() -> dict[str, dict[str, Any]]:
    """Logical id -> create_table arguments (without TableName), exactly as declared."""
    keep = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    return {
        name: {key: props[key] for key in keep if key in props}
        for name, props in resources("AWS::DynamoDB::Table").items()
    }


def ttl_attributes() -> dict[str, str]:
    """Logical id -> the TTL attribute of each table that declares one."""
    return {
        name: props["TimeToLiveSpecification"]["AttributeName"]
        for name, props in resources("AWS::DynamoDB::Table").items()
        if props.get("TimeToLiveSpecification", {}).get("Enabled")
    }


def queue_definitions() -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of each SQS queue (dead-letter queues first)."""
    queues = resources("AWS::SQS::Queue")
    return dict(sorted(queues.items(), key=lambda item: "RedrivePolicy" in item[1]))


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str  # "app.lambda_handler"
    events: dict[str, dict[str, Any]]  # event name -> {"Type": ..., "Properties": ...}


def functions() -> dict[str, Function]:
    handler_default = load()["Globals"]["Function"].get("Handler", "app.lambda_handler")
    return {
        name: Function(
            logical_id=name,
            code_dir=ROOT / props["CodeUri"],
            handler=props.get("Handler", handler_default),
            events=props.get("Events", {}),
        )
        for name, props in resources("AWS::Serverless::Function").items()
    }


@dataclass(frozen=True)
class Route:
    method: str  # upper case
    path: str  # "/confirm/{token}", or "/admin/{proxy+}" for everything below /admin/
    function: str  # logical id

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if this route serves `method` `path`, else None."""
        if self.method not in (method.upper(), "ANY"):
            return None
        pattern = re.sub(r"\\{(\w+)\\\+\\}", r"(?P<\1>.+)", re.escape(self.path))
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", pattern) + "$"
        # API Gateway serves "/admin/" on the resource "/admin": a trailing slash is dropped.
        found = re.match(pattern, path.rstrip("/") or "/")
        return found.groupdict() if found else None


def routes() -> list[Route]:
    """Every API event of every function, as (method, path, function)."""
    return [
        Route(
            event["Properties"]["Method"].upper(), event["Properties"]["Path"], function.logical_id
        )
        for function in functions().values()
        for event in function.events.values()
        if event["Type"] == "Api"
    ]


def queue_consumers() -> dict[str, str]:
    """Queue logical id -> the logical id of the function its SQS event feeds."""
    consumers = {}
    for function in functions().values():
        for event in function.events.values():
            if event["Type"] == "SQS":
                queue_ref = event["Properties"]["Queue"]
                consumers[queue_ref["Fn::GetAtt"][0]] = function.logical_id
    return consumers


def scheduled_functions() -> list[str]:
    """Logical ids of the functions an EventBridge schedule invokes."""
    return [
        function.logical_id
        for function in functions().values()
        if any(event["Type"] == "Schedule" for event in function.events.values())
    ]


def environment(physical: dict[str, str], parameters: dict[str, str]) -> dict[str, str]:
    """The Globals environment with every !Ref resolved: resources through `physical`
    (logical id -> table name or queue URL), parameters through `parameters` or their defaults."""
    declared = load()["Parameters"]
    values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
    values.update(parameters)
    values.update(physical)
    env = {}
    for name, value in load()["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, dict) and "Ref" in value:
            if value["Ref"] not in values:
                continue  # a resource the local stack does not have (a secret: given directly)
            env[name] = values[value["Ref"]]
        else:
            env[name] = str(value)
    return env
