"""``Idempotency-Key`` for creating POSTs: a retry gets the stored response (see ``deps``)."""
