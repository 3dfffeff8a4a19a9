"""What people read: the Jinja2 sandbox and translations (`render`), and a reminder as one
subscriber reads it, with their own links (`reminders`); the organisers' email about a change a
watch found (`changes`)."""
