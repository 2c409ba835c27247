"""Reminders: the kinds a family chose (Ajustes → Recordatorios), sent by WhatsApp to a linked number and
shown as the phone's own notifications."""
