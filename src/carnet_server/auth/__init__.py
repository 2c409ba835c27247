"""Accounts, sessions, tokens and login throttling."""
