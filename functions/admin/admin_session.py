"""The admin API's session routes: the dashboard's sign-in and sign-out (a session cookie)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from optout import admin, admin_http, clock, settings, web

# Its current_event is API Gateway's REST event; Powertools leaves its __init__ unannotated.
router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.post("/admin/sign-in")
def sign_in() -> Response[str]:
    token = str(web.read_fields(router.current_event).get("token", ""))
    address = router.current_event.request_context.identity.source_ip or ""
    session = admin.sign_in(settings.get(), token, clock.now(), address)
    return admin_http.signed_in(settings.get(), router.current_event, session)


@router.post("/admin/sign-out")
def sign_out() -> Response[str]:
    event = router.current_event
    admin.sign_out(settings.get(), {k.lower(): v for k, v in event.headers.items()}, clock.now())
    return admin_http.signed_in(settings.get(), event, "")
