"""Mixing orders: a confirmed cycle's mixture requested from the central mixing provider, and its progress."""
