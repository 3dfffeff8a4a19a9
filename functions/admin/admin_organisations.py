"""The admin API's organisation routes, the coalition owner's only: list, add, show and edit the
coalition's organisations, and give their organisers tokens, list and revoke them. JSON for the
API; pages and forms for the dashboard."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from optout.core import clock, settings
from optout.organisers import access, organisations
from optout.web import admin, public

# Its current_event is API Gateway's REST event; Powertools leaves its __init__ unannotated.
router = APIGatewayRouter()  # type: ignore[no-untyped-call]


def _owner_only() -> None:
    access.owner_only(admin.organiser(router.context), organisations.ONLY_THE_OWNER)


@router.get("/admin/organisations")
def listed() -> Response[str]:
    _owner_only()
    found = organisations.list_organisations(settings.get())
    if admin.for_api(router.current_event):
        return public.json_response(200, {"organisations": found})
    return _page(200, "organisations", {"organisations": found, "created": None})


@router.post("/admin/organisations")
def create() -> Response[str]:
    _owner_only()
    event = router.current_event
    fields = public.read_fields(event)
    if admin.for_api(event):
        return public.json_response(201, organisations.create(settings.get(), fields, clock.now()))
    created = organisations.create(settings.get(), organisations.from_form(fields), clock.now())
    found = organisations.list_organisations(settings.get())
    return _page(201, "organisations", {"organisations": found, "created": created})


@router.get("/admin/organisations/<organisation_id>")
def show(organisation_id: str) -> Response[str]:
    _owner_only()
    shown = organisations.show(settings.get(), organisation_id)
    if admin.for_api(router.current_event):
        return public.json_response(200, shown)
    return _page(200, "organisation", {"organisation": shown, "added": None})


@router.post("/admin/organisations/<organisation_id>/edit")
def edit(organisation_id: str) -> Response[str]:
    _owner_only()
    event = router.current_event
    fields = public.read_fields(event)
    if not admin.for_api(event):
        fields = organisations.from_form(fields)
    edited = organisations.edit(settings.get(), organisation_id, fields)
    return admin.done_or_back(event, edited, f"organisations/{organisation_id}")


@router.get("/admin/organisations/<organisation_id>/tokens")
def tokens(organisation_id: str) -> Response[str]:
    _owner_only()
    listed_tokens = organisations.tokens(settings.get(), organisation_id)
    return public.json_response(200, {"organisation": organisation_id, "tokens": listed_tokens})


@router.post("/admin/organisations/<organisation_id>/tokens")
def add_token(organisation_id: str) -> Response[str]:
    _owner_only()
    event = router.current_event
    fields = public.read_fields(event)
    added = organisations.add_token(settings.get(), organisation_id, fields, clock.now())
    if admin.for_api(event):
        return public.json_response(201, added)
    # The organisation's page, with the new token shown this once.
    shown = organisations.show(settings.get(), organisation_id)
    return _page(201, "organisation", {"organisation": shown, "added": added})


@router.delete("/admin/organisations/<organisation_id>/tokens/<token_id>")
def revoke(organisation_id: str, token_id: str) -> Response[str]:
    _owner_only()
    revoked = organisations.revoke(settings.get(), organisation_id, token_id)
    return admin.done_or_back(router.current_event, revoked, f"organisations/{organisation_id}")


@router.post("/admin/organisations/<organisation_id>/tokens/<token_id>/delete")
def revoke_by_form(organisation_id: str, token_id: str) -> Response[str]:
    """The same as DELETE, for the dashboard's form (a form cannot send DELETE)."""
    _owner_only()
    revoked = organisations.revoke(settings.get(), organisation_id, token_id)
    return admin.done_or_back(router.current_event, revoked, f"organisations/{organisation_id}")


def _page(status: int, name: str, context: dict[str, object]) -> Response[str]:
    return admin.page(status, name, context, router.current_event, router.context)
