"""The policy watch: a platform's policy or settings page watched, its changes found."""
