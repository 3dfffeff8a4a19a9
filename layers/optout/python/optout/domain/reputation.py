"""The sender's reputation, in numbers: when a campaign's bounces or complaints pause it.

SES reviews an account whose bounces pass 5% or complaints 0.1% of what it sent; a campaign
pauses before that, at `BOUNCE_RATE_LIMIT` and `COMPLAINT_RATE_LIMIT` (feedback.inbound), and
the dashboard shows each campaign's rates against them.
"""

from __future__ import annotations

BOUNCE_RATE_LIMIT = 0.04
COMPLAINT_RATE_LIMIT = 0.0008
MIN_SENT_FOR_RATES = 100  # below this, one bounce is noise, not a rate
