"""What the bot knows without AWS: regions, languages, contacts, the records it keeps,
policy changes, the plan of reminders before a deadline, and quiet hours. Nothing here imports
boto3 or `optout.store` (tests/unit/test_layers.py keeps it so)."""
