"""Administration (role ``admin``): medical units and staff accounts, online only. No Flet."""
