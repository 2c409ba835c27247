"""The families' appointments, offline-first."""
