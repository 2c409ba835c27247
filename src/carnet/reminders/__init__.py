"""Reminders on the phone: the kinds the family chose (Ajustes → Recordatorios; sent by WhatsApp to a linked
number too), and the local notifications scheduled from synced data."""
