"""Fan-out worker: turns each fan-out job (one audience shard of one reminder) into packed
batches of subscriber ids on the send queue."""

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
from optout.sending import fanout

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def handle(record: SQSRecord, lambda_context: LambdaContext) -> None:
    try:
        job = jobs.read(jobs.FanoutJob, record.body)
    except jobs.MalformedJob as error:
        logger.error(
            "malformed fan-out job: SQS will retry it, then keep it", extra={"error": str(error)}
        )
        raise
    try:
        result = fanout.run(
            settings.get(), job, lambda_context.get_remaining_time_in_millis, clock.now()
        )
    except Exception:
        logger.exception("fan-out job failed; SQS will retry it", extra={"job": jobs.body(job)})
        raise
    logger.info("fan-out job handled", extra=result)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )
