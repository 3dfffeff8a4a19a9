"""People coming and going: double opt-in (`subscriptions`), the confirmation message
(`confirmations`), subscribers in and out as CSV (`imports`), and the links of SES's mailbox
simulator for the smoke test (`test_recipients`)."""
