"""What the networks report back: texts to our number (STOP, HELP, START) and SES's
bounces and complaints (`inbound`), and SNS messages over HTTPS with their signatures checked
(`sns_http`)."""
