"""Administration: medical units and staff accounts (no self-registration for staff)."""
