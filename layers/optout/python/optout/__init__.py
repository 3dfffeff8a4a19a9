"""optout-bot's shared code, deployed to Lambda as the `SharedLayer` and installed locally by
`pip install -e .`.

Modules by responsibility:
- plumbing: `settings` (environment, read once), `clock`, `observability`, `aws` (boto3 clients),
  `keys` (the secrets), `store` (the only DynamoDB speaker), `queues`, `channels` (SES email;
  SMS by SNS or an HTTP provider), `send_once` (claim, send, record or release: the one path
  of every message to a person), `render` (Jinja2 sandbox, translations), `errors` (domain
  errors and their HTTP statuses), `json_body` (JSON bodies read strictly), `web` (HTTP answers);
- the domain: `regions`, `locales`, `contacts`, `tokens`, `models`, `subscriptions` (double
  opt-in), `notices` (confirmations), `quiet_hours` (no text at night), `webhooks` and `policy`
  (policy-change deliveries), `plan` (deadlines to reminders), `campaigns`, `schedule`,
  `fanout`, `reminders` (one person's message), `sender`, `tracking` (links people follow),
  `feedback` (STOP texts, bounces), `sns_http` (SNS messages over HTTP: their signatures, then
  `feedback`);
- for organisers: `admin` (who may, campaigns by hand), `admin_http` (its pages and answers),
  `imports` (subscribers in and out as CSV), `stats`, `charts` (SVG), `dashboard`, `preview`,
  `launch` (can every reminder go out in time), `announcements` (ad-hoc sends),
  `test_recipients` (SES's mailbox simulator), `openapi` (the API's description), `cli` and
  `smoke` (the `optout` command).
"""
