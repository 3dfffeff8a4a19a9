"""Create template.yaml's tables, queues, secrets, email identity and functions' roles in moto,
and the
environment the functions would have in AWS. Used by the local stack, the integration tests and
the benchmarks: from then on every function's calls are checked against its role
(`local.iam`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from secrets import token_bytes, token_urlsafe
from typing import TYPE_CHECKING

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID

from local import iam, template

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

LOCAL_PARAMETERS = {
    "Stage": "local",
    "SenderAddress": "reminders@optout.example.org",
    "OrganisationName": "Data Rights Watch (demo)",
    "OrganisationAddress": "Rue de l'Exemple 1, 1000 Brussels, Belgium",
    "PublicBaseUrl": "",
    # moto reports SES's sandbox rate of one message a second; the local stack need not wait.
    "SendRatePerSecond": "200",
    "SmsRatePerSecond": "200",
    # Everything local comes from 127.0.0.1: the end-to-end tests alone subscribe dozens of times.
    "SubscribesPerHourPerAddress": "500",
}

# template.yaml's Secrets Manager secrets (logical ids), which `provision` creates.
SECRETS = ("TokenSigningSecret", "ContactHashSecret", "WebhookSigningSecret", "AdminTokenSecret")
# The two an organiser uses, and the environment variables the CLI reads them from, and from
# which a local stack takes them (else it makes them up and prints them).
ORGANISER_SECRETS = {
    "WebhookSigningSecret": "OPTOUT_WEBHOOK_SECRET",
    "AdminTokenSecret": "OPTOUT_ADMIN_TOKEN",
}


def organiser_secrets_from(environ: Mapping[str, str]) -> dict[str, str]:
    """The organisers' secrets given in `environ` (logical id -> value), for `provision`."""
    return {
        name: environ[variable]
        for name, variable in ORGANISER_SECRETS.items()
        if environ.get(variable)
    }


def provision(
    prefix: str = "optout-local",
    parameters: dict[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create every table, queue and secret of the template under `prefix`; return the
    functions' environment (table names, queue URLs, secret ARNs, parameters). `secrets` gives
    some secrets' values (logical id -> value); the others are made up."""
    iam.stand_down()  # the resources are made by an unchecked administrator
    params = {**LOCAL_PARAMETERS, **(parameters or {})}
    physical: dict[str, str] = {}
    dynamodb = boto3.client("dynamodb")
    ttl = template.ttl_attributes()
    for name, definition in template.table_definitions().items():
        table_name = f"{prefix}-{name}"
        dynamodb.create_table(TableName=table_name, **definition)
        if name in ttl:
            dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl[name]},
            )
        physical[name] = table_name
    sqs = boto3.client("sqs")
    arns: dict[str, str] = {}
    for name, props in template.queue_definitions().items():
        attributes: dict[QueueAttributeNameType, str] = {
            "VisibilityTimeout": str(props.get("VisibilityTimeout", 30))
        }
        if "RedrivePolicy" in props:
            redrive = props["RedrivePolicy"]
            dead_letter = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": arns[dead_letter],
                    "maxReceiveCount": redrive["maxReceiveCount"],
                }
            )
        url = sqs.create_queue(QueueName=f"{prefix}-{name}", Attributes=attributes)["QueueUrl"]
        arns[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        physical[name] = url
    configuration_set = f"{prefix}-emails"
    sesv2 = boto3.client("sesv2")
    sesv2.create_email_identity(EmailIdentity=params["SenderAddress"])
    sesv2.create_configuration_set(ConfigurationSetName=configuration_set)
    physical["EmailConfigurationSet"] = configuration_set
    physical.update(_secrets(prefix, secrets or {}))
    env = template.environment(physical, params)
    declared = template.load()["Parameters"]
    values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
    region = iam.session().region_name or "eu-west-1"
    iam.enforce(
        template.Deployment(
            prefix, region, DEFAULT_ACCOUNT_ID, {**values, **params}, physical, arns
        )
    )
    return env


def _secrets(prefix: str, given: Mapping[str, str]) -> dict[str, str]:
    """Create the template's secrets in Secrets Manager: logical id -> ARN, which the functions
    are given and read them by, as on AWS. Values as the template's `GenerateSecretString`
    makes them, unless `given` (the local stack's webhook secret and admin token, which it
    prints, and the tests' own)."""
    unknown = set(given) - set(SECRETS)
    if unknown:
        raise ValueError(f"not a secret of template.yaml: {', '.join(sorted(unknown))}")
    values = {
        "TokenSigningSecret": json.dumps({"kid": "k1", "key": token_urlsafe(36)}),
        "ContactHashSecret": token_urlsafe(36),
        "WebhookSigningSecret": "whsec_" + base64.b64encode(token_bytes(24)).decode(),
        "AdminTokenSecret": token_urlsafe(32),
        **given,
    }
    client = boto3.client("secretsmanager")
    return {
        name: client.create_secret(Name=f"{prefix}-{name}", SecretString=values[name])["ARN"]
        for name in SECRETS
    }
