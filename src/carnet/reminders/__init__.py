"""Reminders on the phone: the kinds the family chose, and the local notifications scheduled from synced data."""
