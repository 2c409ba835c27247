"""The administration screen."""
