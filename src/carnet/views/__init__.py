"""The screens, one folder per feature (as :mod:`carnet`'s feature folders); they draw the state and hand
events back. Nothing else. ``common`` holds what every screen shares."""
