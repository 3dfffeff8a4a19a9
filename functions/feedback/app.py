"""Feedback from the networks, through SNS: texts people send to our number (STOP, HELP,
START), and SES's bounce and complaint notifications."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.core import clock, settings
from optout.core.observability import logger, metrics, tracer
from optout.feedback import inbound


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    outcomes = [
        inbound.handle(settings.get(), record.sns.message, clock.now()) for record in event.records
    ]
    logger.info("feedback handled", extra={"outcomes": outcomes})
    return {"outcomes": outcomes}
