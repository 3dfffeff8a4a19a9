"""Sender: each send-queue message is a packed batch of subscriber ids for one reminder; each
becomes at most one email or text message."""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout.core import clock, jobs, settings
from optout.core.observability import logger, metrics, tracer
from optout.sending import sender

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_pacers: dict[str, sender.Pacer] = {}


def pacers() -> dict[str, sender.Pacer]:
    """One pacer a channel per execution environment, so that rates hold across invocations."""
    if not _pacers:
        _pacers.update(sender.pacers(settings.get()))
    return _pacers


@tracer.capture_method
def handle(record: SQSRecord, lambda_context: LambdaContext) -> None:
    try:
        job = jobs.read(jobs.SendJob, record.body)
    except jobs.MalformedJob as error:
        logger.error(
            "malformed send batch: SQS will retry it, then keep it", extra={"error": str(error)}
        )
        raise
    named = {"campaign_id": job.campaign_id, "reminder": job.reminder}
    try:
        counts = sender.send_batch(
            settings.get(), job, clock.now(), pacers(), lambda_context.get_remaining_time_in_millis
        )
    except Exception:
        logger.exception("send batch failed; SQS will retry it", extra=named)
        raise
    logger.info("send batch done", extra={**named, **counts})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )
