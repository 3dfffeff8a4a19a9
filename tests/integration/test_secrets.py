"""In AWS the two secrets come from Secrets Manager (as template.yaml creates them), not the
environment; a rotated token key keeps old links working."""

from __future__ import annotations

import json

import boto3
import pytest

from local import iam
from optout import keys, settings, tokens
from optout.clock import now
from tests.integration.conftest import Stack


@pytest.fixture
def secrets_from_aws(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> boto3.client:
    client = boto3.client("secretsmanager")
    token_arn = client.create_secret(
        Name="optout-test-TokenSigningSecret",
        SecretString=json.dumps({"kid": "k1", "key": "a" * 48}),
    )["ARN"]
    contact_arn = client.create_secret(Name="optout-test-ContactHashSecret", SecretString="c" * 48)[
        "ARN"
    ]
    # The functions' roles name these secrets, as `!Ref` names them on AWS.
    iam.enforcer().made({"TokenSigningSecret": token_arn, "ContactHashSecret": contact_arn})
    monkeypatch.delenv("OPTOUT_TOKEN_SECRET")
    monkeypatch.delenv("OPTOUT_CONTACT_SECRET")
    monkeypatch.setenv("TOKEN_SECRET_ARN", token_arn)
    monkeypatch.setenv("CONTACT_SECRET_ARN", contact_arn)
    settings.get.cache_clear()
    return client


def test_subscribe_and_confirm_work_with_secrets_from_secrets_manager(
    stack: Stack, secrets_from_aws
) -> None:
    from tests.integration.test_subscriptions import confirm_path

    assert stack.call("subscribe-json").status == 202
    stack.drain_notices()
    assert stack.call("confirm", path=confirm_path(stack.outbox()[0].text)).status == 200
    (record,) = stack.items("SUBSCRIBERS_TABLE")
    assert record["subscriber_id"] == keys.contact_id(settings.get(), "email", "ada@example.org")
    assert record["status"] == "active"


def test_a_link_signed_before_a_key_rotation_still_works(stack: Stack, secrets_from_aws) -> None:
    keyring = keys.token_keyring(settings.get())
    assert keyring.current == "k1"
    old_link = tokens.mint(keyring, tokens.Purpose.CONFIRM, ["sabc"], now().replace(year=2026))
    rotated = tokens.Keyring("k2", {"k1": b"a" * 48, "k2": b"b" * 48})
    document = {"kid": "k2", "key": "b" * 48, "previous": {"k1": "a" * 48}}
    assert keys.token_keyring_from(json.dumps(document)) == rotated
    assert tokens.verify(rotated, old_link, tokens.Purpose.CONFIRM, now()) == ("sabc",)
