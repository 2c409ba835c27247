""" "Mi cuenta": the password change, and the account's privacy actions reached from it."""
