"""The change sequence behind ``GET /api/v1/sync`` (see ``service``)."""
