"""One module per screen; they draw the state and hand events back. Nothing else."""

from carnet.views import carnet, children, common, login, settings

__all__ = ["carnet", "children", "common", "login", "settings"]
