"""Jobs onto SQS queues (queue URLs from the settings, which come from template.yaml)."""

from __future__ import annotations

import json
from typing import Any

from optout import aws


def enqueue(queue_url: str, job: dict[str, Any]) -> None:
    """Put one JSON job on a queue."""
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(job, sort_keys=True))


def enqueue_many(queue_url: str, jobs: list[dict[str, Any]]) -> None:
    """Put JSON jobs on a queue, ten to a request; raises if SQS refused any of them."""
    sqs = aws.client("sqs")
    for start in range(0, len(jobs), 10):
        entries = [
            {"Id": str(index), "MessageBody": json.dumps(job, sort_keys=True)}
            for index, job in enumerate(jobs[start : start + 10])
        ]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        if failed:
            raise RuntimeError(f"SQS refused {len(failed)} jobs: {failed[0].get('Message', '')}")


def enqueue_each(queue_url: str, jobs: list[dict[str, Any]]) -> list[int]:
    """Put JSON jobs on a queue, ten to a request; the positions of those SQS did not take
    (none of a request that failed as a whole), so that the caller can undo their part."""
    sqs = aws.client("sqs")
    refused: list[int] = []
    for start in range(0, len(jobs), 10):
        entries = [
            {"Id": str(start + offset), "MessageBody": json.dumps(job, sort_keys=True)}
            for offset, job in enumerate(jobs[start : start + 10])
        ]
        try:
            failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        except Exception:
            refused.extend(int(entry["Id"]) for entry in entries)
            continue
        refused.extend(int(entry["Id"]) for entry in failed)
    return refused
