"""Plumbing every feature uses, and no feature of its own: settings (read once), the clock,
domain errors, boto3 clients, logs and metrics, secrets and link tokens, queues and their jobs,
JSON bodies read strictly, and Standard Webhooks signatures."""
