"""The incidents screens."""
