"""Policy-change webhooks: a policy monitor tells the bot that a platform changed a policy.

Deliveries are signed with Standard Webhooks and checked on the raw body against real time
(never the local stack's clock: a sender's true clock must be accepted).
"""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.campaigns import policy_changes
from optout.core import clock, keys, settings, signatures
from optout.core.errors import OptoutError
from optout.core.observability import logger, metrics, tracer
from optout.web import problems, public

app = APIGatewayRestResolver()


@app.post("/webhooks/policy-change")
def policy_change() -> Response[str]:
    event = app.current_event
    body = public.raw_body(event)
    webhook_id = signatures.verify(
        event.headers, body, keys.webhook_keys(settings.get()), datetime.now(UTC)
    )
    result = policy_changes.receive(
        settings.get(),
        webhook_id,
        body,
        base_url=public.base_url(settings.get(), event),
        now=clock.now(),
    )
    return public.json_response(200, result)


# Powertools' exception_handler is not annotated: mypy cannot see through it.
@app.exception_handler(OptoutError)  # type: ignore[untyped-decorator]
def refused(error: OptoutError) -> Response[str]:
    logger.info("webhook refused", extra={"error": type(error).__name__, "reason": error.message})
    return problems.as_json(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
