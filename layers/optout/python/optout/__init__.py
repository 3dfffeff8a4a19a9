"""optout-bot's shared code, deployed to Lambda as the `SharedLayer` and installed locally by
`pip install -e .`.

Modules by responsibility: `settings` (environment, read once), `clock`, `observability`,
`aws` (boto3 clients), `regions`, `contacts`, `tokens`, `store` (the only DynamoDB speaker),
`channels` (SES email, SNS SMS), `render` (Jinja2 sandbox) and `subscriptions` (double opt-in).
"""
