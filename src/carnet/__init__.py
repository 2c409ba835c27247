"""Carnet: the guardian's offline-first chemotherapy carnet (Flet client).

Services (``config``, ``api``, ``secret_store``, ``store``, ``qr``, ``i18n``,
``state``, ``session``) import no Flet; ``app`` and ``views`` draw the UI.
"""

__version__ = "0.1.0"
