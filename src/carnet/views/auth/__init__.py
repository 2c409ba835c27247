"""The auth screens."""
