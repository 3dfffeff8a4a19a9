"""optout-bot's shared code, deployed to Lambda as the `SharedLayer` and installed locally by
`pip install -e .`.

A folder a feature, each named for what it does (the README's Layout says the same):
- `core/`: plumbing every feature uses (settings, clock, errors, aws, observability, keys,
  tokens, queues and their jobs, json_body, signatures);
- `domain/`: what the bot knows without AWS (models, regions, locales, contacts, policy, plan,
  quiet_hours);
- `store/`: the only DynamoDB speaker, and the one place its keys are built and read;
- `channels/`: email by SES, texts by SNS or an HTTP provider;
- `messages/`: what people read (render, reminders), with `templates/` and `locales/`;
- `subscribers/`: double opt-in, confirmations, imports and exports, SES's test recipients;
- `campaigns/`: policy changes applied, organisers' own changes, the scheduler, ad-hoc sends;
- `sending/`: the fan-out, the sender, and the one send-once path of every message;
- `links/`: what people do with their links (clicks, unsubscribe, privacy; tokens verified);
- `feedback/`: texts to our number, bounces and complaints, SNS over HTTPS;
- `organisers/`: access, dashboard, stats, charts, preview, launch check, the `optout` command;
- `web/`: HTTP answers for the public and admin routes, and the OpenAPI description.
"""
