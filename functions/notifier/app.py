"""Notifier: the one-off messages on the notice queue. A subscribe request ("subscribe") is
recorded as a pending subscriber and confirmed; an import's "confirm" is confirmed; people who
just became active ("catch-up") are queued the latest reminder of each campaign under way; a
change the policy watch found is emailed to the organisers ("change-notice") and sent to an
ally ("change-forward").

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
from optout.sending import catch_up
from optout.subscribers import confirmations, subscriptions
from optout.watching import notices

# Report every failed record, even when all fail, rather than failing the invocation: Lambda
# then retries exactly those records, with the same outcome and clearer logs.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def handle(record: SQSRecord, lambda_context: LambdaContext) -> None:
    try:
        job = jobs.read_notice(record.body)
    except jobs.MalformedJob as error:
        logger.error(
            "malformed notice: SQS will retry it, then keep it", extra={"error": str(error)}
        )
        raise
    try:
        if isinstance(job, jobs.CatchUpJob):
            queued = catch_up.queue_reminders(settings.get(), job, clock.now())
            outcome = f"{queued} caught up"
        elif isinstance(job, jobs.ChangeNoticeJob):
            outcome = notices.email_organisers(settings.get(), job, clock.now())
        elif isinstance(job, jobs.ForwardJob):
            time_left = lambda_context.get_remaining_time_in_millis() / 1000
            outcome = notices.forward_change(settings.get(), job, clock.now(), time_left)
        else:
            if isinstance(job, jobs.SubscribeJob):
                job = subscriptions.record_request(settings.get(), job)
            outcome = confirmations.send_confirmation(settings.get(), job, clock.now())
    except Exception:
        # The batch processor reports the failure to SQS but does not say why; the log does.
        logger.exception("notice failed; SQS will retry it", extra={"kind": job.kind})
        raise
    logger.info("notice handled", extra={"outcome": outcome})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle, processor=processor, context=context
    )
