"""Events: the organisers' endpoints told what happened. An event ("event", queued by `emit`
where it happened) is kept for replay and fanned out as one delivery job per endpoint that takes
its type; a delivery job ("event-delivery") is sent, signed, and retried, dead-lettered or
waited for as `optout.events.delivery` says.

SQS with partial batch failures: a job that fails is retried alone, and lands in the
dead-letter queue after the attempts template.yaml allows.
"""

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
from optout.events import delivery

# Report every failed record, even when all fail, rather than failing the invocation.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def handle(record: SQSRecord, lambda_context: LambdaContext) -> None:
    try:
        job = jobs.read_events_job(record.body)
    except jobs.MalformedJob as error:
        logger.error(
            "malformed event job: SQS will retry it, then keep it", extra={"error": str(error)}
        )
        raise
    try:
        if isinstance(job, jobs.EventJob):
            outcome = delivery.fan_out(settings.get(), job, clock.now())
        else:
            time_left = lambda_context.get_remaining_time_in_millis() / 1000
            outcome = delivery.deliver(settings.get(), job, clock.now(), time_left)
    except Exception:
        # The batch processor reports the failure to SQS but does not say why; the log does.
        logger.exception("event job failed; SQS will retry it", extra={"kind": job.kind})
        raise
    logger.info("event job handled", extra={"kind": job.kind, "outcome": outcome})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )
