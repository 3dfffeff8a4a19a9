"""IAM as AWS enforces it: every function runs as its own role, made from template.yaml, and a
permission missing from the template fails here, naming the function, action and resource."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from local import iam, template
from tests.helpers import active, at
from tests.integration.conftest import Stack


def changed_template(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of template.yaml with `old` (found exactly once) replaced by `new`."""
    text = template.TEMPLATE.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"template.yaml no longer has exactly one {old!r}"
    copy = tmp_path / "template.yaml"
    copy.write_text(text.replace(old, new), encoding="utf-8")
    return copy


def table_arn(stack: Stack, table_env: str) -> str:
    return f"arn:aws:dynamodb:eu-west-1:123456789012:table/{stack.env[table_env]}"


def test_without_update_item_on_subscribers_the_sender_is_refused_and_sends_nothing(
    stack: Stack,
    test_clock,
    campaign,
    tmp_path: Path,
) -> None:
    # Given SenderFunction's policy without the write a reminder's claim makes on the subscriber
    # (the transaction that checks they are still reached and counts the message for the cap)
    mutated = changed_template(
        tmp_path,
        "Action: [dynamodb:BatchGetItem, dynamodb:GetItem, dynamodb:UpdateItem, dynamodb:ConditionCheckItem]",
        "Action: [dynamodb:BatchGetItem, dynamodb:GetItem, dynamodb:ConditionCheckItem]",
    )
    active("lena@example.org", "DE", "de")
    with iam.enforcer().policies_of(mutated):
        at(stack, test_clock, "2025-10-27T08:00:00Z")  # "one week left" is due
    # Then the claim is refused as AWS refuses it, naming what is missing, and nobody is sent
    refused = iam.enforcer().take_denials()
    assert (
        iam.Denial(
            "SenderFunction",
            "dynamodb:UpdateItem",
            table_arn(stack, "SUBSCRIBERS_TABLE"),
            explicit=False,
        )
        in refused
    )
    assert "SenderFunction may not dynamodb:UpdateItem on arn:aws:dynamodb:" in str(refused[0])
    assert stack.outbox() == []


def test_a_table_arn_narrowed_to_another_table_refuses_the_notifier(
    stack: Stack, tmp_path: Path
) -> None:
    # Given NotifierFunction's subscribers statement naming the deliveries table instead
    mutated = changed_template(
        tmp_path,
        "Action: [dynamodb:GetItem, dynamodb:UpdateItem, dynamodb:BatchGetItem]\n"
        "              Resource: !GetAtt SubscribersTable.Arn\n            - Effect: Allow\n"
        "              Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem,"
        " dynamodb:DeleteItem]",
        "Action: [dynamodb:GetItem, dynamodb:UpdateItem, dynamodb:BatchGetItem]\n"
        "              Resource: !GetAtt DeliveriesTable.Arn\n            - Effect: Allow\n"
        "              Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem,"
        " dynamodb:DeleteItem]",
    )
    assert stack.call("subscribe-json").status == 202
    with iam.enforcer().policies_of(mutated):
        result = stack.drain_notices()
    # Then recording the request is refused and the job stays on the queue for a retry
    refused = iam.enforcer().take_denials()
    assert refused and {(d.function, d.action) for d in refused} == {
        ("NotifierFunction", "dynamodb:UpdateItem")
    }
    assert refused[0].resource == table_arn(stack, "SUBSCRIBERS_TABLE")
    assert len(result["batchItemFailures"]) == 1
    assert stack.items("SUBSCRIBERS_TABLE") == []
    # And with the template's real policy the retry goes through
    stack.drain_notices()
    assert [item["status"] for item in stack.items("SUBSCRIBERS_TABLE")] == ["pending"]


def test_the_refusal_is_the_error_aws_answers(stack: Stack) -> None:
    arn = table_arn(stack, "SUBSCRIBERS_TABLE")
    # ApiDescriptionFunction has no policy at all
    with iam.enforcer().acting_as("ApiDescriptionFunction"), pytest.raises(ClientError) as refused:
        boto3.client("dynamodb").get_item(
            TableName=stack.env["SUBSCRIBERS_TABLE"], Key={"subscriber_id": {"S": "s1"}}
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/optout-test-ApiDescriptionFunctionRole/"
        f"ApiDescriptionFunction is not authorized to perform: dynamodb:GetItem on resource: {arn}"
        " because no identity-based policy allows the dynamodb:GetItem action"
    )
    iam.enforcer().take_denials()


def test_a_client_with_other_credentials_is_refused_by_moto(stack: Stack) -> None:
    stranger = boto3.Session(
        aws_access_key_id="AKIAEXAMPLESTRANGER1",
        aws_secret_access_key="not-a-key-moto-issued",
        region_name="eu-west-1",
    ).client("sqs")
    with pytest.raises(ClientError) as refused:
        stranger.get_queue_url(QueueName="optout-test-NoticeQueue")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "InvalidClientTokenId" in str(refused.value.response)


CUSTOMER_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def deployment_with(**parameters: str) -> template.Deployment:
    values = {"SmsHttpTokenSecretArn": "", "EncryptionKeyArn": "", **parameters}
    return template.Deployment("optout-test", "eu-west-1", "123456789012", values, {}, {})


@pytest.mark.parametrize("key", ["", CUSTOMER_KEY], ids=["aws-managed", "customer-key"])
def test_every_function_keeps_least_privilege(key: str) -> None:
    deployment = deployment_with(EncryptionKeyArn=key)
    # The actions AWS authorises on no resource narrower than "*".
    resourceless = {"ses:GetSendQuota", "ses:GetIdentityVerificationAttributes"}
    for role in iam.roles(deployment).values():
        for statement in role.statements:
            assert statement.effect == "Allow" and not statement.not_action
            assert all("*" not in action for action in statement.actions), role.function
            if "*" in statement.resources and not statement.not_resource:
                assert set(statement.actions) <= resourceless, (role.function, statement)


def test_under_the_customer_key_every_function_that_touches_a_queue_or_secret_may_use_it() -> None:
    # Given the customer key: SQS, Secrets Manager and Lambda's destinations use it with the
    # calling function's own permissions, so a function without them fails on AWS alone.
    roles = iam.roles(deployment_with(EncryptionKeyArn=CUSTOMER_KEY))
    needs_the_key = {
        name
        for name, role in roles.items()
        if any(
            action.startswith(("sqs:", "secretsmanager:"))
            for statement in role.statements
            for action in statement.actions
        )
    } | set(template.queue_consumers().values())
    assert "ApiDescriptionFunction" not in needs_the_key and len(needs_the_key) == 12
    for name in needs_the_key:
        for action in ("kms:Decrypt", "kms:GenerateDataKey"):
            assert roles[name].decide(action, CUSTOMER_KEY) == "allowed", (name, action)
            # narrowed to the key: no other key of the account
            assert roles[name].decide(action, CUSTOMER_KEY[:-4] + "ffff") == "not allowed"
    # And without it no function has any KMS permission
    for role in iam.roles(deployment_with()).values():
        assert not any(a.startswith("kms:") for s in role.statements for a in s.actions)
