"""Medical units, patients and their carnet (diagnosis, protocol, cycles, QR)."""
