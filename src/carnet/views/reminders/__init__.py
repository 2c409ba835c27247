"""Ajustes → Recordatorios."""
