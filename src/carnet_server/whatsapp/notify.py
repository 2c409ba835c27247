"""What the case desk's answer sends back to a WhatsApp report's chat (called by the incidents route in the
reply's transaction, so the message is queued exactly when the answer commits)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from carnet_contract.models import IncidentChannel
from carnet_server.db import utcnow
from carnet_server.incidents.tables import Incident
from carnet_server.whatsapp import outbox
from carnet_server.whatsapp.conversation import Out
from carnet_server.whatsapp.links import linked_phone
from carnet_server.whatsapp.tables import Conversation
from carnet_server.whatsapp.templates import Template

__all__ = ["incident_answered"]


def incident_answered(session: Session, row: Incident, *, message: str, resolves: bool) -> bool:
    """Queue the desk's answer to the reporter's linked number when the report came by WhatsApp; True if queued.
    Outside the 24-hour window it goes as the approved template with the folio and the answer."""
    if row.channel != IncidentChannel.WHATSAPP.value or row.reporter_id is None:
        return False
    phone = linked_phone(session, row.reporter_id)
    if phone is None:
        return False
    heading = "Respuesta del módulo de atención a casos" + (" (reporte atendido)" if resolves else "")
    text = f"{heading} a tu reporte {row.folio}:\n\n{message.strip()}"
    buttons = [(f"reply:{row.id}", "Responder"), ("menu", "Menú")]
    if resolves:
        buttons = [(f"reopen:{row.id}", "No se resolvió"), ("menu", "Menú")]
    now = utcnow()
    outbox.enqueue(
        session,
        phone=phone,
        purpose="answer",
        body=Out(text, buttons=buttons).body(),
        template=Template("carnet_respuesta_reporte", [row.folio, message]),
        user_id=row.reporter_id,
        now=now,
    )
    # The family's next free text joins this report, unless they are in the middle of something else.
    chat = session.get(Conversation, phone)
    if chat is not None and not (chat.state or {}).get("step"):
        chat.state = {"step": "followup", "incident": row.id}
        chat.updated_at = now
    return True
