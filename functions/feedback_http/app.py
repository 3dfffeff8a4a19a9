"""Feedback that SNS delivers over HTTP(S) (`POST /feedback/sns`): SES bounces and complaints or
texts to our number, from a topic that cannot invoke the feedback function directly (another
account's, a provider's). Only messages signed by SNS for an accepted topic are acted on; their
Message then takes the same path as the feedback function's."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.core import clock, settings
from optout.core.errors import OptoutError
from optout.core.observability import logger, metrics, tracer
from optout.feedback import sns_http
from optout.web import problems, public

app = APIGatewayRestResolver()


@app.post("/feedback/sns")
def sns_delivery() -> Response[str]:
    outcome = sns_http.receive(
        settings.get(),
        public.raw_body(app.current_event),
        received_at=datetime.now(UTC),  # SNS's clock, not the local stack's
        now=clock.now(),
    )
    logger.info("SNS message handled", extra={"outcome": outcome})
    return public.json_response(200, {"outcome": outcome})


# Powertools' exception_handler is not annotated: mypy cannot see through it.
@app.exception_handler(OptoutError)  # type: ignore[untyped-decorator]
def refused(error: OptoutError) -> Response[str]:
    # The reason, never the message itself: it may hold an address or a phone number.
    logger.warning(
        "SNS message refused", extra={"error": type(error).__name__, "reason": error.message}
    )
    return problems.as_json(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
