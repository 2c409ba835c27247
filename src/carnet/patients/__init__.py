"""The children list and their carnet with its QR (the server's `carnet_server.patients`)."""
