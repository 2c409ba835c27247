"""Carnet's wire contract, shared by the phone app (``carnet``) and the API server (``carnet_server``).

- ``models``: the pydantic models of every request and response, so the JSON the
  server writes is exactly the JSON the app parses.
- ``qrtoken``: offline verification of the carnet QR token (the phone and the
  server run the same check).
- ``ics``: the iCalendar (.ics) export of appointments.

Rules: this package ships in the phone bundle *and* in the server install, so
it imports no Flet, no server code and no app code (``carnet``,
``carnet_server``, ``carnet_mixing_sim``): only the standard library,
pydantic, cryptography, icalendar and tzdata, all pure Python or built for
Android and iOS (../shared/FLET.md). tests/unit/test_package_boundaries.py
enforces it. Import the modules themselves (``from carnet_contract import
models as contract``); nothing is re-exported here.
"""
