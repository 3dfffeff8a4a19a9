"""Feedback from the networks, through SNS: texts people send to our number (STOP, HELP,
START), and SES's bounce and complaint notifications."""

import json

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout import clock, feedback, settings
from optout.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def lambda_handler(event: SNSEvent, context: LambdaContext) -> dict:
    outcomes = []
    for record in event.records:
        try:
            message = json.loads(record.sns.message)
        except ValueError:
            logger.warning(
                "feedback that is not JSON ignored", extra={"topic": record.sns.topic_arn}
            )
            continue
        if not isinstance(message, dict):
            continue
        if "originationNumber" in message:
            outcomes.append(feedback.inbound_sms(settings.get(), message, clock.now()))
        else:
            outcomes.append(feedback.ses_notification(settings.get(), message, clock.now()))
    logger.info("feedback handled", extra={"outcomes": outcomes})
    return {"outcomes": outcomes}
