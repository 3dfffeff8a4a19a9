"""The admin API's webhook routes: the organisers' endpoints for events out. Register, list, show
(with recent attempts and dead letters), edit, pause, resume, delete, rotate the secret, and
replay kept events to one endpoint. JSON for the API; pages and forms for the dashboard.

An endpoint is the organisation's of whoever registered it; an organiser sees and manages only
their organisation's (another's is a 404, as an unknown one), the coalition owner every one."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from optout.core import clock, settings
from optout.events import endpoints
from optout.organisers import dashboard
from optout.web import admin, public

# Its current_event is API Gateway's REST event; Powertools leaves its __init__ unannotated.
router = APIGatewayRouter()  # type: ignore[no-untyped-call]


def _theirs(endpoint_id: str) -> None:
    endpoints.theirs(settings.get(), admin.organiser(router.context), endpoint_id)


def _page(status: int, name: str, context: dict[str, Any]) -> Response[str]:
    return admin.page(status, name, context, router.current_event, router.context)


@router.get("/admin/webhooks")
def listed() -> Response[str]:
    seen_by = admin.organiser(router.context)
    if admin.for_api(router.current_event):
        found = endpoints.list_endpoints(settings.get(), seen_by)
        return public.json_response(200, {"endpoints": found})
    return _page(200, "webhooks", dashboard.webhooks_page(settings.get(), seen_by=seen_by))


@router.post("/admin/webhooks")
def create() -> Response[str]:
    event = router.current_event
    seen_by = admin.organiser(router.context)
    if admin.for_api(event):
        document = endpoints.read_document(public.raw_body(event))
        created = endpoints.create(settings.get(), document, clock.now(), seen_by.organisation)
        return public.json_response(201, created)
    # The dashboard's form: the list again, with the new endpoint's secret shown this once.
    fields = endpoints.from_form(public.read_fields(event, lists=("events",)))
    created = endpoints.create(settings.get(), fields, clock.now(), seen_by.organisation)
    page = dashboard.webhooks_page(settings.get(), created=created, seen_by=seen_by)
    return _page(201, "webhooks", page)


@router.get("/admin/webhooks/<endpoint_id>")
def show(endpoint_id: str) -> Response[str]:
    _theirs(endpoint_id)
    shown = endpoints.show(settings.get(), endpoint_id)
    if admin.for_api(router.current_event):
        return public.json_response(200, shown)
    return _page(200, "webhook", dashboard.webhook_page(settings.get(), shown))


@router.post("/admin/webhooks/<endpoint_id>/edit")
def edit(endpoint_id: str) -> Response[str]:
    _theirs(endpoint_id)
    event = router.current_event
    if admin.for_api(event):
        document = endpoints.read_document(public.raw_body(event))
        return public.json_response(200, endpoints.edit(settings.get(), endpoint_id, document))
    fields = endpoints.from_form(public.read_fields(event, lists=("events",)), editing=True)
    endpoints.edit(settings.get(), endpoint_id, fields)
    return admin.done_or_back(event, {}, f"webhooks/{endpoint_id}")


@router.post("/admin/webhooks/<endpoint_id>/pause")
def pause(endpoint_id: str) -> Response[str]:
    _theirs(endpoint_id)
    result = endpoints.pause(settings.get(), endpoint_id, clock.now())
    return admin.done_or_back(router.current_event, result, f"webhooks/{endpoint_id}")


@router.post("/admin/webhooks/<endpoint_id>/resume")
def resume(endpoint_id: str) -> Response[str]:
    _theirs(endpoint_id)
    result = endpoints.resume(settings.get(), endpoint_id)
    return admin.done_or_back(router.current_event, result, f"webhooks/{endpoint_id}")


@router.delete("/admin/webhooks/<endpoint_id>")
def delete(endpoint_id: str) -> Response[str]:
    _theirs(endpoint_id)
    return admin.done_or_back(
        router.current_event, endpoints.delete(settings.get(), endpoint_id), "webhooks"
    )


@router.post("/admin/webhooks/<endpoint_id>/delete")
def delete_by_form(endpoint_id: str) -> Response[str]:
    """The same as DELETE, for the dashboard's form (a form cannot send DELETE)."""
    _theirs(endpoint_id)
    return admin.done_or_back(
        router.current_event, endpoints.delete(settings.get(), endpoint_id), "webhooks"
    )


@router.post("/admin/webhooks/<endpoint_id>/rotate-secret")
def rotate_secret(endpoint_id: str) -> Response[str]:
    _theirs(endpoint_id)
    rotated = endpoints.rotate_secret(settings.get(), endpoint_id, clock.now())
    event = router.current_event
    if admin.for_api(event):
        return public.json_response(200, rotated)
    # The endpoint's page, with its new secret shown this once.
    shown = endpoints.show(settings.get(), endpoint_id)
    return _page(200, "webhook", dashboard.webhook_page(settings.get(), shown, rotated=rotated))


@router.post("/admin/webhooks/<endpoint_id>/replay")
def replay(endpoint_id: str) -> Response[str]:
    _theirs(endpoint_id)
    event = router.current_event
    if admin.for_api(event):
        document = endpoints.read_document(public.raw_body(event))
    else:
        document = endpoints.replay_from_form(public.read_fields(event))
    result = endpoints.replay(settings.get(), endpoint_id, document, clock.now())
    return admin.done_or_back(event, result, f"webhooks/{endpoint_id}")
