"""The patients screens."""
