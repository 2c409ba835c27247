"""Ajustes → WhatsApp."""
