"""Reminders: the kinds each family chose, and the pass that sends them through WhatsApp templates."""
