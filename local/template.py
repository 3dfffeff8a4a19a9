"""Read template.yaml, the single source of truth, for the local stack and the tests.

Understands the CloudFormation short tags (!Ref, !GetAtt, !Sub...) well enough to create the
tables and queues in moto with the template's own key schemas and indexes, to list the HTTP
routes of the API events and the rate of each schedule, and to give each function the
environment it would have in AWS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, f"!{suffix} on a {type(node).__name__}", node.start_mark
        )
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml (or a copy of it, as a test mutates one), parsed once."""
    return _parsed(path.resolve())


# Keyed on the resolved path: `load()` and `load(TEMPLATE)` are one entry, and a test's copy
# another (with one entry, each call of the other kind parsed the YAML again: 0.27 s a time).
@lru_cache(maxsize=4)
def _parsed(path: Path) -> dict[str, Any]:
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
    variables: frozenset[str]  # its environment's names: the Globals' and its own
    timeout_seconds: int = 3  # Lambda's own default, when neither it nor the Globals say


def functions() -> dict[str, Function]:
    handler_default = load()["Globals"]["Function"].get("Handler", "app.lambda_handler")
    timeout_default = int(load()["Globals"]["Function"].get("Timeout", 3))
    shared = load()["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    return {
        name: Function(
            logical_id=name,
            code_dir=ROOT / props["CodeUri"],
            handler=props.get("Handler", handler_default),
            events=props.get("Events", {}),
            variables=frozenset(shared)
            | frozenset(props.get("Environment", {}).get("Variables", {})),
            timeout_seconds=int(props.get("Timeout", timeout_default)),
        )
        for name, props in resources("AWS::Serverless::Function").items()
    }


def environment_variables() -> frozenset[str]:
    """Every variable template.yaml gives some function."""
    return frozenset().union(*(function.variables for function in functions().values()))


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


_RATE = re.compile(r"rate\((?P<value>[0-9]+) (?P<unit>minutes?|hours?|days?)\)")


def parse_rate(expression: str) -> timedelta:
    """The period of an EventBridge rate expression: `rate(5 minutes)`, `rate(1 hour)`.

    Refused as EventBridge refuses them: a value that is not a positive whole number, a unit
    other than minutes, hours or days, and a unit whose number does not agree with the value
    (`rate(1 hours)`, `rate(5 hour)`)."""
    found = _RATE.fullmatch(expression)
    if not found:
        raise ValueError(
            f"{expression!r} is not a rate; write rate(N minutes), rate(N hours) or "
            "rate(N days), with the unit singular for 1: rate(1 hour)"
        )
    value, unit = int(found["value"]), found["unit"]
    if value == 0:
        raise ValueError(f"{expression!r}: a rate must be at least 1")
    if (value == 1) == unit.endswith("s"):
        agreeing = unit.rstrip("s") if value == 1 else unit + "s"
        raise ValueError(f"{expression!r}: write rate({value} {agreeing})")
    return timedelta(**{unit.rstrip("s") + "s": value})


@dataclass(frozen=True)
class Schedule:
    """A function's EventBridge schedule, as the local stack plays it."""

    function: str  # logical id
    expression: str  # "rate(1 hour)"
    period: timedelta

    def due(self, now: datetime, last_run: datetime | None) -> bool:
        """True when the function runs at `now`, having last run at `last_run` (None: not yet):
        its period has passed since, or the clock was moved back before that run (a timeline
        replayed from an earlier point)."""
        return last_run is None or now - last_run >= self.period or now < last_run


def schedules(of: Iterable[Function]) -> dict[str, Schedule]:
    """Logical id -> the schedule, for each function of `of` that an EventBridge schedule
    invokes. A `cron(...)` schedule, or more than one schedule on a function, is refused: the
    local stack plays only one rate a function, which is what template.yaml uses."""
    found = {}
    for function in of:
        expressions = [
            event["Properties"]["Schedule"]
            for event in function.events.values()
            if event["Type"] == "Schedule"
        ]
        if not expressions:
            continue
        name = function.logical_id
        if len(expressions) > 1:
            raise ValueError(
                f"{name} has {len(expressions)} Schedule events; the local stack plays one a "
                "function"
            )
        (expression,) = expressions
        if not isinstance(expression, str) or expression.startswith("cron("):
            raise ValueError(
                f"{name}'s schedule is {expression}; the local stack plays only a rate written "
                "out, like rate(1 hour), not cron expressions nor intrinsic functions"
            )
        try:
            period = parse_rate(expression)
        except ValueError as error:
            raise ValueError(f"{name}'s schedule: {error}") from None
        found[name] = Schedule(name, expression, period)
    return found


def scheduled_functions() -> dict[str, Schedule]:
    """Logical id -> schedule of each function an EventBridge schedule invokes (see
    `schedules`)."""
    return schedules(functions().values())


def environment(physical: dict[str, str], parameters: dict[str, str]) -> dict[str, str]:
    """Every function's environment together, with every !Ref resolved: resources through
    `physical` (logical id -> table name, queue URL or secret ARN), parameters through
    `parameters` or their defaults."""
    declared = load()["Parameters"]
    values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
    values.update(parameters)
    values.update(physical)
    variables = dict(load()["Globals"]["Function"]["Environment"]["Variables"])
    # One process runs every function locally: each function's own variables (plain values
    # and `!Ref`s) join the shared environment; `local.environments` shows each function only
    # its own, and its role keeps it from the others' resources.
    for function in load()["Resources"].values():
        if function["Type"] == "AWS::Serverless::Function":
            own = function["Properties"].get("Environment", {}).get("Variables", {})
            variables.update(
                {
                    name: value
                    for name, value in own.items()
                    if not isinstance(value, dict) or "Ref" in value
                }
            )
    env = {}
    for name, value in variables.items():
        if isinstance(value, dict) and "Ref" in value:
            if value["Ref"] not in values:
                continue  # a resource the local stack does not have
            env[name] = values[value["Ref"]]
        else:
            env[name] = str(value)
    return env


# CloudFormation's `AWS::NoValue`: an entry that resolves to it is left out.
NO_VALUE = object()


@dataclass(frozen=True)
class Deployment:
    """What the template's resources are called where the local stack made them: enough to
    resolve `!Ref`, `!GetAtt`, `!Sub`, `!If` and `!Join` as CloudFormation would."""

    prefix: str
    region: str
    account: str
    parameters: dict[str, str]  # every parameter's value (defaults filled in)
    physical: dict[str, str]  # logical id -> what `!Ref` gives, for the resources made locally
    arns: dict[str, str]  # logical id -> `!GetAtt X.Arn`, where it is not built from the name

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function worked out; `NO_VALUE` entries dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::GetAtt":
                return self.get_att(*argument)
            if name == "Fn::Sub":
                return self._sub(argument)
            if name == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self.condition(condition) else if_false)
            if name == "Fn::Join":
                separator, parts = argument
                return separator.join(str(part) for part in self.resolve(parts))
            if name.startswith("Fn::"):
                raise ValueError(f"local/template.py does not resolve {name}: {value}")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::StackName": self.prefix,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        kind = load()["Resources"].get(name, {}).get("Type", "")
        if kind in ("AWS::SecretsManager::Secret", "AWS::SNS::Topic"):  # Ref gives the ARN
            return self.get_att(name, "Arn")
        if kind == "AWS::Logs::LogGroup" and "LogGroupName" in resources(kind)[name]:
            return self.resolve(resources(kind)[name]["LogGroupName"])
        if kind:
            return f"{self.prefix}-{name}"
        raise ValueError(f"!Ref {name}: template.yaml has no such parameter or resource")

    def get_att(self, name: str, attribute: str) -> str:
        if attribute in ("Arn", "TopicArn") and name in self.arns:
            return self.arns[name]
        kind = load()["Resources"].get(name, {}).get("Type", "")
        where = f"{self.region}:{self.account}"
        if attribute == "Arn" and kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{where}:table/{self.ref(name)}"
        if attribute == "Arn" and kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{where}:{self.prefix}-{name}"
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return str(self.ref(name)).rsplit("/", 1)[-1]
        if attribute in ("Arn", "TopicArn") and kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{where}:{self.prefix}-{name}"
        if attribute in ("Arn", "Id") and kind == "AWS::SecretsManager::Secret":
            return f"arn:aws:secretsmanager:{where}:secret:{self.prefix}-{name}"
        # Not made locally (moto's SQS, SNS and Lambda use no key, and logs go to stdout), but
        # named where a policy would name them.
        if attribute == "Arn" and kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{where}:key/{self.ref(name)}"
        if attribute == "Arn" and kind == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{where}:log-group:{self.ref(name)}:*"
        raise ValueError(f"!GetAtt {name}.{attribute}: local/template.py cannot work it out")

    def condition(self, name: str) -> bool:
        return bool(self._truth(load()["Conditions"][name]))

    def _truth(self, expression: Any) -> Any:
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Not":
            return not self._truth(argument[0])
        if function == "Fn::And":
            return all(self._truth(part) for part in argument)
        if function == "Fn::Or":
            return any(self._truth(part) for part in argument)
        if function == "Fn::Equals":
            left, right = (self.resolve(part) for part in argument)
            return str(left) == str(right)
        raise ValueError(f"local/template.py does not evaluate the condition {expression}")

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {key: self.resolve(value) for key, value in variables.items()}

        def substitute(found: re.Match[str]) -> str:
            name = found.group(1)
            if name.startswith("!"):  # ${!Literal} is written as ${Literal}
                return "${" + name[1:] + "}"
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", substitute, text)
