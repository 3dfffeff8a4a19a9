"""The coalition's organisations (`optout.domain.organisations`), kept in the campaigns table:
one partition (``pk = ORGANISATIONS``, ``sk = ORG#<id>``), read whole by the few requests that
list them. The default organisation is not kept: the deployment's parameters make it."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from optout.core import aws
from optout.core.settings import Settings
from optout.domain.organisations import DEFAULT, Organisation
from optout.store import layout
from optout.store.dynamo import conditional_failed, every_item


class OrganisationStore:
    def __init__(self, settings: Settings) -> None:
        self._table = aws.table(settings.campaigns_table)
        self._settings = settings

    def name_of(self, organisation_id: str) -> str:
        """The name people know an organisation by (the default one's: the deployment's
        ORGANISATION_NAME); its id if it is gone."""
        if organisation_id == DEFAULT:
            return self._settings.organisation_name
        found = self.get(organisation_id)
        return found.name if found else organisation_id

    def organisations(self) -> list[Organisation]:
        """Every organisation added, by id."""
        items = every_item(
            self._table.query,
            KeyConditionExpression=Key("pk").eq(layout.ORGANISATIONS)
            & Key("sk").begins_with(layout.ORGANISATION),
        )
        return sorted((_organisation_from(item) for item in items), key=_by_id)

    def get(self, organisation_id: str) -> Organisation | None:
        item = self._table.get_item(Key=layout.organisation_key(organisation_id)).get("Item")
        return _organisation_from(item) if item else None

    def create(self, organisation: Organisation) -> bool:
        """Keep a new organisation; False if one has its id."""
        try:
            self._table.put_item(
                Item={
                    **layout.organisation_key(organisation.organisation_id),
                    **_item(organisation),
                },
                ConditionExpression=Attr("pk").not_exists(),
            )
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True

    def save(self, organisation: Organisation) -> bool:
        """Replace an organisation's fields (not its id, nor when it was added); False if there
        is no such organisation."""
        current = self.get(organisation.organisation_id)
        if current is None:
            return False
        kept = replace(organisation, created_at=current.created_at)
        try:
            self._table.put_item(
                Item={**layout.organisation_key(kept.organisation_id), **_item(kept)},
                ConditionExpression=Attr("pk").exists(),
            )
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True


def _by_id(organisation: Organisation) -> str:
    return organisation.organisation_id


def _item(organisation: Organisation) -> dict[str, Any]:
    return {key: value for key, value in asdict(organisation).items() if value != ""}


def _organisation_from(item: dict[str, Any]) -> Organisation:
    fields = {name: str(item.get(name, "")) for name in Organisation.__dataclass_fields__}
    return Organisation(**fields)
