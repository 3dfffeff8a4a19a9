"""Watcher: every hour, read each policy watch's source and record the changes it finds."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.core import clock, settings
from optout.core.observability import logger, metrics, tracer
from optout.watching import check


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    # Stop starting reads while one more could not end before the function's timeout.
    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    return check.run(settings.get(), clock.now(), time_left=time_left)
