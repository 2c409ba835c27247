"""The privacy screens."""
