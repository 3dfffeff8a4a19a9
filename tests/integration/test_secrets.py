"""The functions read their secrets from Secrets Manager by the ARNs template.yaml gives them,
each with its own role, as on AWS: no secret's value is in their environment. A rotated token
key keeps the links signed before it working."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from local import iam, provision
from optout.core import keys, settings
from tests.helpers import confirm_path
from tests.integration.conftest import Stack


def stored(stack: Stack, name: str) -> str:
    """A secret's value as Secrets Manager holds it, read by the operator."""
    client = iam.enforcer().operator_session().client("secretsmanager")
    return str(client.get_secret_value(SecretId=f"optout-test-{name}")["SecretString"])


def test_the_functions_environment_names_the_secrets_and_holds_none_of_their_values(
    stack: Stack,
) -> None:
    values = [stored(stack, name) for name in provision.SECRETS]
    arns = {name: value for name, value in stack.env.items() if name.endswith("_ARN")}
    assert {
        "TOKEN_SECRET_ARN",
        "CONTACT_SECRET_ARN",
        "WEBHOOK_SECRET_ARN",
        "ADMIN_TOKEN_ARN",
    } <= set(arns)
    assert all(arn.startswith("arn:aws:secretsmanager:") for arn in arns.values() if arn)
    assert not [name for name, value in stack.env.items() if value in values]


def test_a_subscriber_id_is_the_keyed_hash_under_the_stored_contact_key(stack: Stack) -> None:
    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    assert stack.call("confirm", path=confirm_path(stack.outbox()[0].text)).status == 200
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    key = stored(stack, "ContactHashSecret").encode()
    digest = hmac.new(key, b"email:ada@example.org", hashlib.sha256).digest()
    assert (
        record["subscriber_id"] == "s" + base64.b32encode(digest).decode().rstrip("=").lower()[:31]
    )
    assert record["status"] == "active"


def test_a_link_signed_before_a_key_rotation_still_works(stack: Stack) -> None:
    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    signed_with_k1 = confirm_path(stack.outbox()[0].text)
    old = json.loads(stored(stack, "TokenSigningSecret"))
    assert old["kid"] == "k1"
    rotated = {"kid": "k2", "key": "b" * 48, "previous": {"k1": old["key"]}}
    stack.put_secret("TokenSigningSecret", json.dumps(rotated))

    assert keys.token_keyring(settings.get()).current == "k2"
    assert stack.call("confirm", path=signed_with_k1).status == 200
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert record["status"] == "active"


def test_a_function_may_not_read_a_secret_its_role_does_not_name(stack: Stack) -> None:
    with iam.enforcer().acting_as("LinksFunction"), pytest.raises(GetParameterError) as refused:
        keys.webhook_keys(settings.get())
    assert "(AccessDeniedException) when calling the GetSecretValue operation" in str(refused.value)
    (denial,) = iam.enforcer().take_denials()
    assert "LinksFunction" in str(denial) and "secretsmanager:GetSecretValue" in str(denial)
    assert "WebhookSigningSecret" in str(denial)
