"""The admin API's session routes: the dashboard's sign-in and sign-out (a session cookie)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from optout.core import clock, settings
from optout.organisers import access
from optout.web import admin, public

# Its current_event is API Gateway's REST event; Powertools leaves its __init__ unannotated.
router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.post("/admin/sign-in")
def sign_in() -> Response[str]:
    token = str(public.read_fields(router.current_event).get("token", ""))
    address = router.current_event.request_context.identity.source_ip or ""
    session = access.sign_in(settings.get(), token, clock.now(), address)
    return admin.signed_in(settings.get(), router.current_event, session)


@router.post("/admin/sign-out")
def sign_out() -> Response[str]:
    event = router.current_event
    access.sign_out(settings.get(), {k.lower(): v for k, v in event.headers.items()}, clock.now())
    return admin.signed_in(settings.get(), event, "")
