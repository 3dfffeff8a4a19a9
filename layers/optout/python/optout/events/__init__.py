"""Events out: the organisers' endpoints (`endpoints`, what the admin API does to them) and the
delivery of each event to them (`delivery`, the events function's part)."""
