"""The admin API's "check it again" routes: after a watched settings page changed, the ended
campaigns of its platform that may be followed up, and the follow-up itself, an ad-hoc send to
the people who said they switched it off in one of them."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from optout.core import clock, settings
from optout.watching import follow_up
from optout.web import admin, public

# Its current_event is API Gateway's REST event; Powertools leaves its __init__ unannotated.
router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.get("/admin/changes/<change_id>/follow-ups")
def follow_ups(change_id: str) -> Response[str]:
    """The campaigns this change may follow up, each with its converts (for the button)."""
    return public.json_response(200, follow_up.offers_of(settings.get(), change_id))


@router.post("/admin/changes/<change_id>/check-again")
def check_again(change_id: str) -> Response[str]:
    event = router.current_event
    planned = follow_up.check_again(
        settings.get(),
        change_id,
        public.read_fields(event).get("campaign_id"),
        now=clock.now(),
        base_url=public.base_url(settings.get(), event),
    )
    if admin.for_api(event):
        return public.json_response(201, planned)
    return admin.done_or_back(event, planned, f"changes/{change_id}")
