"""The admin API's watch routes: list, create, show, edit, pause, resume and delete policy watches, and
read a version of a watched source. JSON for the API; pages and forms for the dashboard."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from optout.core import clock, settings
from optout.organisers import dashboard
from optout.watching import watches
from optout.web import admin, public

# Its current_event is API Gateway's REST event; Powertools leaves its __init__ unannotated.
router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.get("/admin/watches")
def listed() -> Response[str]:
    if admin.for_api(router.current_event):
        return public.json_response(200, {"watches": watches.list_watches(settings.get())})
    page = dashboard.watches_page(settings.get(), clock.now())
    return admin.page(200, "watches", page, router.current_event)


@router.post("/admin/watches")
def create() -> Response[str]:
    event = router.current_event
    base_url = public.base_url(settings.get(), event)
    if admin.for_api(event):
        document = watches.read_document(public.raw_body(event))
        created = watches.create(settings.get(), document, clock.now(), base_url=base_url)
        return public.json_response(201, created)
    # The dashboard's form: the new watch's page, with its allies' secrets shown this once.
    fields = watches.from_form(public.read_fields(event))
    created = watches.create(settings.get(), fields, clock.now(), base_url=base_url)
    page = dashboard.watches_page(settings.get(), clock.now(), created=created)
    return admin.page(201, "watches", page, event)


@router.get("/admin/watches/<watch_id>")
def show(watch_id: str) -> Response[str]:
    event = router.current_event
    base_url = public.base_url(settings.get(), event)
    if admin.for_api(event):
        return public.json_response(200, watches.show(settings.get(), watch_id, base_url=base_url))
    return admin.page(200, "watch", dashboard.watch_page(settings.get(), watch_id, base_url), event)


@router.post("/admin/watches/<watch_id>/edit")
def edit(watch_id: str) -> Response[str]:
    event = router.current_event
    if admin.for_api(event):
        document = watches.read_document(public.raw_body(event))
        return public.json_response(200, watches.edit(settings.get(), watch_id, document))
    # The dashboard's form: the watch's page, with its new allies' secrets shown this once.
    fields = watches.from_edit_form(public.read_fields(event, lists=("remove_allies",)))
    edited = watches.edit(settings.get(), watch_id, fields)
    base_url = public.base_url(settings.get(), event)
    page = dashboard.watch_page(settings.get(), watch_id, base_url, edited=edited)
    return admin.page(200, "watch", page, event)


@router.post("/admin/watches/<watch_id>/pause")
def pause(watch_id: str) -> Response[str]:
    return _acted(watches.pause(settings.get(), watch_id))


@router.post("/admin/watches/<watch_id>/resume")
def resume(watch_id: str) -> Response[str]:
    return _acted(watches.resume(settings.get(), watch_id))


@router.delete("/admin/watches/<watch_id>")
def delete(watch_id: str) -> Response[str]:
    return _acted(watches.delete(settings.get(), watch_id))


@router.post("/admin/watches/<watch_id>/delete")
def delete_by_form(watch_id: str) -> Response[str]:
    """The same as DELETE, for the dashboard's form (a form cannot send DELETE)."""
    return _acted(watches.delete(settings.get(), watch_id))


@router.get("/admin/watches/<watch_id>/versions/<fetched_at>")
def version(watch_id: str, fetched_at: str) -> Response[str]:
    kept = watches.version(settings.get(), watch_id, fetched_at)
    if admin.for_api(router.current_event):
        return public.json_response(200, kept)
    return admin.page(200, "watch_version", {"version": kept}, router.current_event)


def _acted(result: dict[str, object]) -> Response[str]:
    """The API gets the result; the dashboard goes back to the list of watches."""
    return admin.done_or_back(router.current_event, result, "watches")
