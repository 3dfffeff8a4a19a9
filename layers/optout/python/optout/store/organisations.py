"""The coalition's organisations (`optout.domain.organisations`), kept in the campaigns table:
one partition (``pk = ORGANISATIONS``, ``sk = ORG#<id>``), read whole by the few requests that
list them. The default organisation is not kept: the deployment's parameters make it.

Their organisers' tokens are in the same partition, each under the keyed hash of the token
(``sk = ORGANISER#<hash>``): a request's token is found by one read, and the table never holds
a token that would sign in."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from optout.core import aws
from optout.core.settings import Settings
from optout.domain.organisations import DEFAULT, Organisation, OrganiserToken
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

    # -- organisers' tokens ------------------------------------------------------------------

    def add_token(self, token_hash: str, token: OrganiserToken) -> bool:
        """Keep a new token by its hash; False if that hash is kept already (never in practice)."""
        try:
            self._table.put_item(
                Item={**layout.organiser_key(token_hash), **asdict(token)},
                ConditionExpression=Attr("pk").not_exists(),
            )
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True

    def token(self, token_hash: str) -> OrganiserToken | None:
        """The token whose keyed hash is `token_hash`, if it is kept (not revoked)."""
        item = self._table.get_item(Key=layout.organiser_key(token_hash), ConsistentRead=True).get(
            "Item"
        )
        return _token_from(item) if item else None

    def tokens(self, organisation_id: str | None = None) -> list[OrganiserToken]:
        """The tokens of one organisation (None: of every one), oldest first."""
        found = [_token_from(item) for item in self._token_items()]
        return sorted(
            (t for t in found if organisation_id is None or t.organisation == organisation_id),
            key=lambda t: (t.created_at, t.token_id),
        )

    def token_kept(self, token_id: str) -> bool:
        """Whether the token `token_id` is still kept: a session made with it lasts as long."""
        return any(str(item.get("token_id")) == token_id for item in self._token_items())

    def revoke(self, organisation_id: str, token_id: str) -> bool:
        """Forget one of an organisation's tokens; False if it has none of that id."""
        for item in self._token_items():
            if item.get("token_id") == token_id and item.get("organisation") == organisation_id:
                self._table.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
                return True
        return False

    def _token_items(self) -> list[dict[str, Any]]:
        return every_item(
            self._table.query,
            KeyConditionExpression=Key("pk").eq(layout.ORGANISATIONS)
            & Key("sk").begins_with(layout.ORGANISER),
            ConsistentRead=True,
        )


def _token_from(item: dict[str, Any]) -> OrganiserToken:
    fields = {name: str(item.get(name, "")) for name in OrganiserToken.__dataclass_fields__}
    return OrganiserToken(**fields)


def _by_id(organisation: Organisation) -> str:
    return organisation.organisation_id


def _item(organisation: Organisation) -> dict[str, Any]:
    return {key: value for key, value in asdict(organisation).items() if value != ""}


def _organisation_from(item: dict[str, Any]) -> Organisation:
    fields = {name: str(item.get(name, "")) for name in Organisation.__dataclass_fields__}
    return Organisation(**fields)
