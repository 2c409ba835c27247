"""The agenda screens."""
