"""A reminder on its way to everyone: the fan-out over the audience (`fanout`), the sender of
each batch (`sender`), the one path every message to a person takes (`send_once`: claim,
send, then record or release), and late joiners sent the latest reminder at once (`catch_up`)."""
