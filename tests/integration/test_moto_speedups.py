"""The local stack's TransactWriteItems (local.moto_speedups) is moto's, all or nothing, with a
backup of the items a transaction names instead of whole tables."""

import importlib.metadata
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

from local import moto_speedups

REGION = "eu-west-1"


def create_table(client: Any, name: str) -> None:
    """A table keyed by pk and sk, both strings."""
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws(), moto_speedups.installed():
        client = boto3.client("dynamodb", region_name=REGION)
        for name in ("people", "claims"):
            create_table(client, name)
        client.put_item(
            TableName="people",
            Item={"pk": {"S": "ada"}, "sk": {"S": "-"}, "status": {"S": "active"}},
        )
        yield client


def claim_and_update(status_required: str) -> list[dict[str, Any]]:
    """A put of a new claim, an update of Ada, then a condition on Ada's status as it was."""
    return [
        {
            "Put": {
                "TableName": "claims",
                "Item": {"pk": {"S": "c1"}, "sk": {"S": "ada"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": "people",
                "Key": {"pk": {"S": "ada"}, "sk": {"S": "-"}},
                "UpdateExpression": "SET sent = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {
            "ConditionCheck": {
                "TableName": "people",
                "Key": {"pk": {"S": "bob"}, "sk": {"S": "-"}},
                "ConditionExpression": "attribute_not_exists(pk) OR #s = :status",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":status": {"S": status_required}},
            }
        },
    ]


def items(client: Any, table: str) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=table)["Items"], key=lambda item: item["pk"]["S"])


def test_a_transaction_that_passes_writes_every_item(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=claim_and_update("active"))

    assert items(dynamodb, "claims") == [{"pk": {"S": "c1"}, "sk": {"S": "ada"}}]
    assert items(dynamodb, "people")[0]["sent"] == {"N": "1"}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    dynamodb.put_item(
        TableName="people",
        Item={"pk": {"S": "bob"}, "sk": {"S": "-"}, "status": {"S": "unsubscribed"}},
    )
    people_before = items(dynamodb, "people")
    table = dynamodb_backends["123456789012"][REGION].tables["people"]

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=claim_and_update("active"))

    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "ConditionalCheckFailed" in refused.value.response["Error"]["Message"]
    assert items(dynamodb, "claims") == []  # the put that had gone through, taken back
    assert items(dynamodb, "people") == people_before  # the update too
    # The items were put back into the table itself, not a copy of the whole table.
    assert dynamodb_backends["123456789012"][REGION].tables["people"] is table


def test_the_same_item_twice_is_refused_and_nothing_is_written(dynamodb: Any) -> None:
    twice = claim_and_update("active")
    twice.append(
        {"Delete": {"TableName": "claims", "Key": {"pk": {"S": "c1"}, "sk": {"S": "ada"}}}}
    )

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=twice)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert items(dynamodb, "claims") == []
    assert "sent" not in items(dynamodb, "people")[0]


def test_moto_comes_back_as_it_was() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    before = DynamoDBBackend.transact_write_items
    with moto_speedups.installed():
        assert DynamoDBBackend.transact_write_items is not before
    assert DynamoDBBackend.transact_write_items is before


EVERY_KIND = {
    "pk": {"S": "ada"},
    "sk": {"S": "-"},
    "n": {"N": "12.5"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "platforms": {"SS": ["linkedin", "meta"]},
    "counts": {"NS": ["1", "2"]},
    "plan": {"L": [{"S": "two weeks"}, {"M": {"at": {"S": "2025-10-20T08:00:00Z"}}}]},
    "consent": {"M": {"source": {"S": "form"}, "ip": {"NULL": True}}},
    "text": {"S": 'quotes " and \\ and \u202e and \u00e9'},
}


def reads(client: Any) -> list[Any]:
    """The same item through every read that carries items, as the client sees the answers."""
    key = {"pk": {"S": "ada"}, "sk": {"S": "-"}}
    answers = [
        client.get_item(TableName="people", Key=key),
        client.batch_get_item(RequestItems={"people": {"Keys": [key]}}),
        client.query(
            TableName="people",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "ada"}},
        ),
        client.scan(TableName="people"),
        client.update_item(
            TableName="people",
            Key=key,
            UpdateExpression="SET n = n + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        ),
        client.update_item(  # no ReturnValues: an answer with nothing in it
            TableName="people",
            Key=key,
            UpdateExpression="SET n = n - :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        ),
    ]
    for answer in answers:
        answer.pop("ResponseMetadata")
    return answers


def test_answers_read_the_same_with_the_speed_ups_as_without() -> None:
    def answers(speed_ups: bool) -> list[Any]:
        with mock_aws():
            client = boto3.client("dynamodb", region_name=REGION)
            create_table(client, "people")
            client.put_item(TableName="people", Item=EVERY_KIND)
            client.put_item(  # a binary attribute: moto's own serializer still writes it
                TableName="people",
                Item={"pk": {"S": "bob"}, "sk": {"S": "-"}, "blob": {"B": b"\x00\xff"}},
            )
            if not speed_ups:
                return reads(client)
            with moto_speedups.installed():
                return reads(client)

    as_moto_answers = answers(speed_ups=False)

    assert answers(speed_ups=True) == as_moto_answers
    assert as_moto_answers[0]["Item"] == EVERY_KIND
    scanned = as_moto_answers[3]["Items"]
    assert {"pk": {"S": "bob"}, "sk": {"S": "-"}, "blob": {"B": b"\x00\xff"}} in scanned


def test_the_installed_moto_is_the_one_the_speedups_were_written_for() -> None:
    installed = importlib.metadata.version("moto")
    assert installed == moto_speedups.MOTO_VERSION, (
        f"moto {installed} is installed, but local/moto_speedups.py patches the internals of "
        f"moto {moto_speedups.MOTO_VERSION}: check each patch against moto {installed} (its "
        "tests here and the local stack's), then move MOTO_VERSION and pyproject.toml's pins"
    )


def test_pyproject_pins_moto_to_the_speedups_version_in_every_group() -> None:
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    pins = [
        requirement
        for group in project["dependency-groups"].values()
        for requirement in group
        if isinstance(requirement, str) and re.match(r"moto\b", requirement)
    ]
    assert len(pins) == 2, f"moto is named in the local and dev groups, once each: {pins}"
    wanted = f"=={moto_speedups.MOTO_VERSION}"
    unpinned = [pin for pin in pins if not re.fullmatch(rf"moto(\[[a-z,]+\])?{wanted}", pin)]
    assert not unpinned, (
        f"pyproject.toml must pin moto to {moto_speedups.MOTO_VERSION}, the version "
        f"local/moto_speedups.py was written for: {unpinned}"
    )
