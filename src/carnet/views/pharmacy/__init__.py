"""The pharmacy screens."""
