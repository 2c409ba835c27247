"""The composition root: the session (start, login, refresh, logout), the roles' screens, the Flet app."""
