"""Imports every domain's tables, so ``Base.metadata`` is complete (Alembic, tests)."""

from carnet_server import audit as _audit  # noqa: F401
from carnet_server.agenda import tables as _agenda  # noqa: F401
from carnet_server.auth import tables as _auth  # noqa: F401
from carnet_server.blood_bank import tables as _blood_bank  # noqa: F401
from carnet_server.chemotherapy import tables as _chemotherapy  # noqa: F401
from carnet_server.db import Base
from carnet_server.enrolment import tables as _enrolment  # noqa: F401
from carnet_server.fever import tables as _fever  # noqa: F401
from carnet_server.idempotency import tables as _idempotency  # noqa: F401
from carnet_server.incidents import tables as _incidents  # noqa: F401
from carnet_server.mixing import tables as _mixing  # noqa: F401
from carnet_server.patients import tables as _patients  # noqa: F401
from carnet_server.pharmacy import tables as _pharmacy  # noqa: F401
from carnet_server.privacy import tables as _privacy  # noqa: F401
from carnet_server.reminders import tables as _reminders  # noqa: F401
from carnet_server.sync import tables as _sync  # noqa: F401
from carnet_server.whatsapp import tables as _whatsapp  # noqa: F401

metadata = Base.metadata

__all__ = ["metadata"]
