"""Scheduler: on every EventBridge tick, queue the fan-out of each reminder that is due."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.campaigns import schedule
from optout.core import clock, settings
from optout.core.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return schedule.tick(settings.get(), clock.now())
