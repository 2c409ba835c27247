"""Checking a carnet QR: the public /v/{token} page and the pharmacy's verify endpoint."""
