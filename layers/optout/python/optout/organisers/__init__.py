"""What organisers use: who may (`access`), the dashboard, its numbers and charts
(`dashboard`, `stats`, `charts`), a reminder previewed or sent to themselves (`preview`), the
launch check (`launch_check`), and the `optout` command (`cli`, `smoke`)."""
