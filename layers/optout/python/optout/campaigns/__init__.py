"""Campaigns and what makes them move: policy changes applied (`policy_changes`),
organisers' own changes (`manage`), the scheduler's tick (`schedule`) and one-off sends to a
segment (`ad_hoc_sends`)."""
