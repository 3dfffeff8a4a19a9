"""IAM as AWS enforces it, for the local stack, the tests and the benchmarks.

Each function's AWS calls are made with credentials of its own role, made from its `Policies`
in template.yaml (SAM policy templates expanded, intrinsics resolved to the local resources).
Two checks, because moto alone would let through what AWS refuses:

- moto authenticates every request (its IAM access control): a call must be signed by the
  session of the running function's role, or by the operator for what the stack and the tests
  do themselves. A client made with any other credentials is refused, as AWS refuses an unknown
  key.
- this module authorises each call as IAM does: the action and the resource ARN it acts on,
  against the role's statements (Allow and Deny, NotAction, NotResource, wildcards). moto's own
  check compares actions only: it takes "*" as the resource of DynamoDB, SES and SNS calls, and
  names a transaction as one action where AWS checks each of its parts (the sender's claim needs
  `dynamodb:ConditionCheckItem`). So moto's role policy allows every action, and the decision is
  made here.

A call the role does not allow fails as on AWS (an AccessDenied error carrying AWS's message,
with the role, the action and the resource), is logged naming the function, and is kept in
`denials()`, which the test fixtures report.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.loaders
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.credentials import CredentialProvider, CredentialResolver, ReadOnlyCredentials
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.models import DEFAULT_ACCOUNT_ID

from local import template

log = logging.getLogger("local.iam")

# One loader of botocore's service models and endpoints for every session made here: a session
# of its own would parse the same JSON files again, 60 ms a client, and a test makes a dozen.
_MODELS = botocore.loaders.create_loader()


def session(**options: Any) -> boto3.Session:
    """A boto3 session (`options` as boto3.Session takes them) sharing this process's models."""
    botocore_session = botocore.session.get_session()
    botocore_session.register_component("data_loader", _MODELS)
    made = boto3.Session(botocore_session=botocore_session, **options)
    # boto3 adds its resource models' folder to the loader's path at every session: once is
    # enough.
    _MODELS.search_paths[:] = dict.fromkeys(_MODELS.search_paths)
    return made


# What AWS calls its refusal, per service (the IAM action prefix).
_DENIED_CODES = {"sns": "AuthorizationError", "sqs": "AccessDenied"}
_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
_EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


# ------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...]  # Action, or NotAction when `not_action`
    resources: tuple[str, ...]  # Resource, or NotResource when `not_resource`
    not_action: bool = False
    not_resource: bool = False

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Statement:
        if "Condition" in raw:
            raise ValueError(f"local/iam.py does not evaluate conditions: {raw}")
        return cls(
            effect=raw["Effect"],
            actions=_strings(raw.get("Action", raw.get("NotAction"))),
            resources=_strings(raw.get("Resource", raw.get("NotResource"))),
            not_action="NotAction" in raw,
            not_resource="NotResource" in raw,
        )

    def applies(self, action: str, resource: str) -> bool:
        # Actions match whatever their case; resources match exactly, wildcards aside.
        action_named = any(fnmatch.fnmatch(action.lower(), a.lower()) for a in self.actions)
        resource_named = any(fnmatch.fnmatchcase(resource, r) for r in self.resources)
        return action_named != self.not_action and resource_named != self.not_resource


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in (value if isinstance(value, list) else [value]))


@dataclass(frozen=True)
class Role:
    """A function's execution role: its name and the statements of its policies."""

    function: str
    name: str
    statements: tuple[Statement, ...]

    def decide(self, action: str, resource: str) -> str:
        """ "allowed", "denied" (an explicit Deny) or "not allowed" (no Allow names it)."""
        applying = [s.effect for s in self.statements if s.applies(action, resource)]
        if "Deny" in applying:
            return "denied"
        return "allowed" if "Allow" in applying else "not allowed"


def roles(deployment: template.Deployment, path: Path = template.TEMPLATE) -> dict[str, Role]:
    """Every function's role, from the `Policies` of the template at `path` (a copy, in the
    test that proves a missing permission is noticed)."""
    document = template.load(path)
    return {
        name: Role(
            function=name,
            name=f"{deployment.prefix}-{name}Role"[:64],
            statements=tuple(
                Statement.of(raw)
                for policy in resource["Properties"].get("Policies", [])
                for raw in _policy_statements(deployment.resolve(_expanded(policy)))
            ),
        )
        for name, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _expanded(policy: Any) -> dict[str, Any]:
    """An entry of `Policies` as a policy document: SAM policy templates are expanded."""
    if isinstance(policy, dict) and "Statement" in policy:
        return policy
    if isinstance(policy, dict) and len(policy) == 1:
        # Imported here: only a template that uses them needs SAM's translator.
        from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor

        ((name, parameters),) = policy.items()
        processor = PolicyTemplatesProcessor(
            PolicyTemplatesProcessor.get_default_policy_templates_json()
        )
        if processor.has(name):
            return dict(processor.convert(name, parameters or {}))
    raise ValueError(
        f"local/iam.py cannot read the policy {policy!r}: write its statements, or use a SAM "
        "policy template (a managed policy's statements are not known here)"
    )


def _policy_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


# ------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Call:
    """One action on one resource, as IAM sees a request: a transaction is one call a part."""

    action: str
    resource: str


def calls(service: str, operation: str, params: dict[str, Any], region: str) -> list[Call]:
    """What IAM checks for `operation` of `service` (its signing name) called with `params`.

    An operation not known here is checked on the resource "*": only a statement that allows
    every resource lets it through, so a new kind of call is noticed, not waved through."""
    where = f"{region}:{DEFAULT_ACCOUNT_ID}"
    if service == "dynamodb":
        return _dynamodb_calls(operation, params, f"arn:aws:dynamodb:{where}:table/")
    if service == "sqs":
        return [Call(f"sqs:{_SQS_ACTIONS.get(operation, operation)}", _queue_arn(params, where))]
    if service == "sns" and operation == "Publish":
        target = params.get("TopicArn") or params.get("TargetArn") or params.get("PhoneNumber")
        return [Call("sns:Publish", str(target))]
    if service == "ses" and operation == "SendEmail" and "FromEmailAddress" in params:
        return _sesv2_send_calls(params, f"arn:aws:ses:{where}:")
    if service == "secretsmanager" and "SecretId" in params:
        return [Call(f"secretsmanager:{operation}", _secret_arn(params["SecretId"], where))]
    return [Call(f"{service}:{operation}", "*")]


_TRANSACTION_PARTS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
# SQS's batch operations are authorised as the single ones (there is no SendMessageBatch action).
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _dynamodb_calls(operation: str, params: dict[str, Any], tables: str) -> list[Call]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        # IAM has no transaction actions: each part needs its own.
        return [
            Call(f"dynamodb:{_TRANSACTION_PARTS[kind]}", tables + part["TableName"])
            for item in params["TransactItems"]
            for kind, part in item.items()
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Call(f"dynamodb:{operation}", tables + name) for name in params["RequestItems"]]
    resource = tables + params["TableName"]
    if params.get("IndexName"):
        resource += f"/index/{params['IndexName']}"
    return [Call(f"dynamodb:{operation}", resource)]


def _queue_arn(params: dict[str, Any], where: str) -> str:
    name = params.get("QueueName") or urlsplit(params.get("QueueUrl", "")).path.rsplit("/", 1)[-1]
    return f"arn:aws:sqs:{where}:{name}" if name else "*"


def _sesv2_send_calls(params: dict[str, Any], ses: str) -> list[Call]:
    """SESv2 SendEmail is authorised on the sending identity and on the configuration set. The
    identity is the From address's domain: the README has deployments verify the domain."""
    address = str(params["FromEmailAddress"]).rsplit("<", 1)[-1].rstrip(">").strip()
    identity = (
        params.get("FromEmailAddressIdentityArn") or f"{ses}identity/{address.split('@')[-1]}"
    )
    found = [Call("ses:SendEmail", identity)]
    if params.get("ConfigurationSetName"):
        found.append(
            Call("ses:SendEmail", f"{ses}configuration-set/{params['ConfigurationSetName']}")
        )
    return found


def _secret_arn(secret_id: str, where: str) -> str:
    return (
        secret_id
        if secret_id.startswith("arn:")
        else f"arn:aws:secretsmanager:{where}:secret:{secret_id}"
    )


# ------------------------------------------------------------------------- enforcement


@dataclass(frozen=True)
class Denial:
    function: str
    action: str
    resource: str
    explicit: bool  # refused by a Deny statement, not for want of an Allow

    def __str__(self) -> str:
        why = "a Deny statement refuses it" if self.explicit else "no statement allows it"
        return (
            f"{self.function} may not {self.action} on {self.resource}: {why} in "
            f"{self.function}'s Policies in template.yaml"
        )


class Enforcer:
    """The operator's and every function's credentials in moto, and the check of each call."""

    def __init__(self, deployment: template.Deployment, path: Path = template.TEMPLATE) -> None:
        self.deployment = deployment
        self.roles = roles_by_function = roles(deployment, path)
        self.region = deployment.region
        self._thread = threading.local()
        self._running: Counter[str] = Counter()
        self._denials: list[Denial] = []
        self._lock = threading.Lock()
        # Made while moto still answers unsigned requests, with whatever credentials are set.
        iam, sts = boto3.client("iam"), boto3.client("sts")
        iam.create_user(UserName="optout-local-operator")
        iam.put_user_policy(
            UserName="optout-local-operator",
            PolicyName="operator",
            PolicyDocument=json.dumps(_EVERYTHING),
        )
        key = iam.create_access_key(UserName="optout-local-operator")["AccessKey"]
        self.operator = ReadOnlyCredentials(key["AccessKeyId"], key["SecretAccessKey"], None)
        self._credentials: dict[str, ReadOnlyCredentials] = {}
        for function, role in roles_by_function.items():
            arn = iam.create_role(
                RoleName=role.name, AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST)
            )["Role"]["Arn"]
            iam.put_role_policy(
                RoleName=role.name,
                PolicyName="moto-authenticates-only",
                PolicyDocument=json.dumps(_EVERYTHING),
            )
            assumed = sts.assume_role(RoleArn=arn, RoleSessionName=function)["Credentials"]
            self._credentials[function] = ReadOnlyCredentials(
                assumed["AccessKeyId"], assumed["SecretAccessKey"], assumed["SessionToken"]
            )

    def operator_session(self) -> boto3.Session:
        """A session with the operator's credentials, for the stack's own calls: it is never
        taken for a function's, whichever function runs meanwhile."""
        return session(
            aws_access_key_id=self.operator.access_key,
            aws_secret_access_key=self.operator.secret_key,
            region_name=self.region,
        )

    def acting(self) -> str | None:
        """The function whose calls these are: the one this thread runs, else (a thread a
        handler started, such as the sender's read-ahead) the only one running; else None,
        the operator."""
        mine = getattr(self._thread, "function", None)
        if mine is not None:
            return str(mine)
        with self._lock:
            running = [function for function, count in self._running.items() if count]
        return running[0] if len(running) == 1 else None

    def current_credentials(self) -> ReadOnlyCredentials:
        acting = self.acting()
        return self.operator if acting is None else self._credentials[acting]

    @contextmanager
    def acting_as(self, function: str) -> Iterator[None]:
        """Make the calls of this thread, and of threads it starts meanwhile, as `function`'s
        role."""
        if function not in self.roles:
            raise KeyError(f"template.yaml has no function {function}")
        previous, self._thread.function = getattr(self._thread, "function", None), function
        with self._lock:
            self._running[function] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[function] -= 1
            self._thread.function = previous

    def made(self, physical: dict[str, str]) -> None:
        """Resources of the template made after provisioning (a test's secrets): logical id ->
        what `!Ref` gives. The roles are resolved again with them."""
        self.deployment = dataclasses.replace(
            self.deployment, physical={**self.deployment.physical, **physical}
        )
        self.roles = roles(self.deployment)

    @contextmanager
    def policies_of(self, path: Path) -> Iterator[None]:
        """Judge calls meanwhile by the `Policies` of another template (a changed copy)."""
        previous, self.roles = self.roles, roles(self.deployment, path)
        try:
            yield
        finally:
            self.roles = previous

    def denials(self) -> list[Denial]:
        with self._lock:
            return list(self._denials)

    def take_denials(self) -> list[Denial]:
        """The calls refused so far, forgotten from now on."""
        with self._lock:
            taken, self._denials = self._denials, []
            return taken

    def check(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        """botocore's `before-parameter-build`: decide the call, before it is sent."""
        acting = self.acting()
        if acting is None:
            return  # the operator: the stack's own calls, and the tests'
        role = self.roles[acting]
        service = model.service_model.signing_name
        region = context.get("client_region") or self.region
        for call in calls(service, model.name, params, region):
            decision = role.decide(call.action, call.resource)
            if decision != "allowed":
                denial = Denial(acting, call.action, call.resource, decision == "denied")
                with self._lock:
                    self._denials.append(denial)
                log.error("AccessDenied: %s", denial)
                context["local_iam_denial"] = (denial, role, service)
                return

    @staticmethod
    def refuse(model: Any, context: dict[str, Any], **_: Any) -> Any:
        """botocore's `before-call`: answer a refused call as AWS does, without sending it."""
        if "local_iam_denial" not in context:
            return None
        denial, role, service = context["local_iam_denial"]
        principal = f"arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/{role.name}/{denial.function}"
        reason = (
            "with an explicit deny in an identity-based policy"
            if denial.explicit
            else f"because no identity-based policy allows the {denial.action} action"
        )
        message = (
            f"User: {principal} is not authorized to perform: {denial.action} "
            f"on resource: {denial.resource} {reason}"
        )
        status = 403 if service in ("sns", "sqs") else 400
        parsed = {
            "Error": {
                "Code": _DENIED_CODES.get(service, "AccessDeniedException"),
                "Message": message,
            },
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        return AWSResponse(model.name, status, HTTPHeaders(), None), parsed


class _Provider(CredentialProvider):
    METHOD = "local-iam"

    def __init__(self, enforcer: Enforcer) -> None:
        self._credentials = _SwitchingCredentials(enforcer)

    def load(self) -> _SwitchingCredentials:
        return self._credentials


class _SwitchingCredentials:
    """botocore's Credentials, read at each request: the running function's role session."""

    method = "local-iam"
    account_id = None

    def __init__(self, enforcer: Enforcer) -> None:
        self._enforcer = enforcer

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._enforcer.current_credentials()

    def get_deferred_property(self, name: str) -> Any:
        return lambda: getattr(self, name, None)

    @property
    def access_key(self) -> str | None:
        return self.get_frozen_credentials().access_key

    @property
    def secret_key(self) -> str | None:
        return self.get_frozen_credentials().secret_key

    @property
    def token(self) -> str | None:
        return self.get_frozen_credentials().token


_enforcer: Enforcer | None = None
_moto_auth_before: tuple[float, int] | None = None


def enforce(deployment: template.Deployment, path: Path = template.TEMPLATE) -> Enforcer:
    """Make every function's role in moto and check every call from now on: boto3's default
    session (every client the layer makes) signs with the running function's role session."""
    global _enforcer, _moto_auth_before
    stand_down()
    enforcer = Enforcer(deployment, path)
    default = boto3.DEFAULT_SESSION = session(region_name=deployment.region)
    botocore_session = default._session  # boto3 exposes no other way
    botocore_session.register_component(
        "credential_provider", CredentialResolver([_Provider(enforcer)])
    )
    default.events.register("before-parameter-build", enforcer.check)
    default.events.register("before-call", enforcer.refuse)
    _moto_auth_before = (
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT,
        ActionAuthenticatorMixin.request_count,
    )
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # every request from now on
    ActionAuthenticatorMixin.request_count = 0
    _enforcer = enforcer
    _forget_clients()
    return enforcer


def stand_down() -> None:
    """Stop checking: moto answers unsigned requests again, boto3 reads the environment."""
    global _enforcer, _moto_auth_before
    if _moto_auth_before is not None:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = (
            _moto_auth_before
        )
        _moto_auth_before = None
    boto3.DEFAULT_SESSION = session()  # as boto3 would make it, sharing the models
    if _enforcer is not None:
        _enforcer = None
        _forget_clients()


def enforcer() -> Enforcer:
    if _enforcer is None:
        raise RuntimeError(
            "no function runs without its role: provision the stack first "
            "(local.provision.provision)"
        )
    return _enforcer


def _forget_clients() -> None:
    from optout.core import aws

    aws.reset()
