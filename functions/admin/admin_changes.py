"""The admin API's routes for the changes the policy watch found: list them, show one, and
draft a campaign from one."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from optout.core import clock, settings
from optout.watching import changes
from optout.web import admin, public

# Its current_event is API Gateway's REST event; Powertools leaves its __init__ unannotated.
router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.get("/admin/changes")
def list_changes() -> Response[str]:
    if admin.for_api(router.current_event):
        return public.json_response(200, {"changes": changes.list_changes(settings.get())})
    page = changes.changes_page(settings.get(), clock.now())
    return admin.page(200, "changes", page, router.current_event)


@router.get("/admin/changes/<change_id>")
def show_change(change_id: str) -> Response[str]:
    if admin.for_api(router.current_event):
        return public.json_response(200, changes.show_change(settings.get(), change_id))
    page = changes.change_page(settings.get(), change_id, clock.now())
    return admin.page(200, "change", page, router.current_event)


@router.post("/admin/changes/<change_id>/draft")
def draft(change_id: str) -> Response[str]:
    """201 with the new draft's id; 200 with the same id when the change was drafted before.
    The dashboard goes to the draft's page, where the organiser completes it."""
    event = router.current_event
    drafted, created = changes.draft(
        settings.get(), change_id, base_url=public.base_url(settings.get(), event), now=clock.now()
    )
    if admin.for_api(event):
        return public.json_response(201 if created else 200, drafted)
    return admin.done_or_back(event, drafted, f"campaigns/{drafted['campaign_id']}")
