"""optout-bot's shared code, deployed to Lambda as the `SharedLayer` and installed locally by
`pip install -e .`.

Modules by responsibility:
- plumbing: `settings` (environment, read once), `clock`, `observability`, `aws` (boto3 clients),
  `keys` (the secrets), `store` (the only DynamoDB speaker), `queues`, `channels` (SES email;
  SMS by SNS or an HTTP provider), `render` (Jinja2 sandbox, translations), `web` (HTTP answers);
- the domain: `regions`, `locales`, `contacts`, `tokens`, `models`, `subscriptions` (double
  opt-in), `notices` (confirmations), `webhooks` and `policy` (policy-change deliveries),
  `plan` (deadlines to reminders), `campaigns`, `schedule`, `fanout`, `reminders` (one person's
  message), `sender`, `tracking` (links people follow), `feedback` (STOP texts, bounces), `sns_http`
  (SNS messages over HTTP: their signatures, then `feedback`).
"""
