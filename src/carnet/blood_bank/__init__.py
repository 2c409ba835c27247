"""Blood-bank bookings (families, offline-first) and the staff's day list (online only)."""
