"""Jobs onto SQS queues (queue URLs from the settings, which come from template.yaml)."""

from __future__ import annotations

from collections.abc import Sequence

from optout.core import aws
from optout.core.jobs import Job, body


def enqueue(queue_url: str, job: Job, *, delay_seconds: int = 0) -> None:
    """Put one job on a queue, to be seen after `delay_seconds` (at most SQS's 900)."""
    aws.client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=body(job), DelaySeconds=delay_seconds
    )


def enqueue_many(queue_url: str, jobs: Sequence[Job]) -> None:
    """Put jobs on a queue, ten to a request; raises if SQS refused any of them."""
    sqs = aws.client("sqs")
    for start in range(0, len(jobs), 10):
        entries = [
            {"Id": str(index), "MessageBody": body(job)}
            for index, job in enumerate(jobs[start : start + 10])
        ]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        if failed:
            raise RuntimeError(f"SQS refused {len(failed)} jobs: {failed[0].get('Message', '')}")


def enqueue_each(queue_url: str, jobs: Sequence[Job]) -> list[int]:
    """Put jobs on a queue, ten to a request; the positions of those SQS did not take
    (none of a request that failed as a whole), so that the caller can undo their part."""
    sqs = aws.client("sqs")
    refused: list[int] = []
    for start in range(0, len(jobs), 10):
        entries = [
            {"Id": str(start + offset), "MessageBody": body(job)}
            for offset, job in enumerate(jobs[start : start + 10])
        ]
        try:
            failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        except Exception:
            refused.extend(int(entry["Id"]) for entry in entries)
            continue
        refused.extend(int(entry["Id"]) for entry in failed)
    return refused
