"""Incident reports (families, offline-first) and the case desk (online only)."""
