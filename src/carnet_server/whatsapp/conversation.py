"""The bot's side of a chat: one inbound message in, the answers to queue out (Spanish, short, numbered).

:func:`handle` runs inside the inbound worker's transaction, so what a message does (a report, a photo, a
link) and what the bot answers commit together or not at all. Where the number is in the menus lives in
``whatsapp_conversations.state``:

    {}                                        the menu
    {"step": "report.child"}                  which child (only when the account has several)
    {"step": "report.category", patient}      the category
    {"step": "report.item", patient, category}       the medicine or supply that is missing
    {"step": "report.description", patient, category, item}
    {"step": "report.photos", incident, count}       up to three photos for the report just made
    {"step": "human.child"}                   which child a request for a person is about
    {"step": "reopen", incident}              why the answer did not solve it
    {"step": "followup", incident}            free text joins that report (set when its answer arrives)
    {"photos_for": incident}                  the menu, just after a report's last photo (one more is refused
                                              as over the limit, not taken as a photo without a report)

Who is talking decides everything: a number linked to a guardian acts as that guardian through the same
services as the app (a child not linked to the account is not found); any other number gets general help and
how to link, and nothing about any child. A message holding a link code links the number (links.py).
"MENÚ", "hola" or "0" go back to the menu from anywhere; "persona" or "humano" ask for a person, which opens a
report for the case desk. What the bot does not understand gets the menu again. What it cannot read (a document
that is not an image, audio, video, a sticker, a location) gets a clear message and changes nothing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import IncidentCategory, IncidentChannel, IncidentStatus, Role
from carnet_server.agenda.tables import Appointment
from carnet_server.auth.service import Principal
from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.domain_errors import DomainError
from carnet_server.incidents import service as incidents
from carnet_server.patients.tables import GuardianPatient, Patient
from carnet_server.privacy.notices import current_version
from carnet_server.whatsapp import links

__all__ = ["Inbound", "Out", "handle", "parse_message"]

MAX_PHOTOS_HINT = 3
CATEGORY_TITLES: dict[str, str] = {
    IncidentCategory.MEDICAMENTO: "Falta un medicamento",
    IncidentCategory.INSUMO: "Falta un insumo",
    IncidentCategory.ATENCION_MEDICA: "Atención médica",
    IncidentCategory.LICENCIA_140_BIS: "Licencia 140-Bis",
    IncidentCategory.CARNET_DIGITAL: "Carnet digital",
    IncidentCategory.BANCO_DE_SANGRE: "Banco de Sangre",
    IncidentCategory.OTRO: "Otro problema",
}
STATUS_TITLES: dict[str, str] = {
    IncidentStatus.RECIBIDA: "recibido",
    IncidentStatus.EN_ATENCION: "en atención",
    IncidentStatus.ATENDIDA: "atendido",
    IncidentStatus.REABIERTA: "reabierto",
}
KIND_TITLES: dict[str, str] = {
    "quimioterapia": "Quimioterapia",
    "consulta": "Consulta",
    "laboratorio": "Laboratorio",
    "estudio": "Estudio",
    "banco_de_sangre": "Banco de Sangre",
    "otro": "Cita",
}
MENU_ROWS = [
    ("menu:report", "Reportar un problema", "Medicamento, insumo, atención, 140-Bis, carnet, Banco de Sangre"),
    ("menu:reports", "Mis reportes", "Estado, fecha límite y última respuesta"),
    ("menu:appointments", "Próximas citas", "Las siguientes citas de cada hija o hijo"),
    ("menu:human", "Hablar con una persona", "El módulo de atención a casos te escribe aquí"),
]
_MENU_WORDS = {"menu", "hola", "inicio", "0", "cancelar", "opciones", "buenas", "buenos dias", "buenas tardes"}
_HUMAN_WORDS = {"persona", "humano", "agente", "asesor", "asesora", "hablar con una persona", "ayuda humana"}
_DONE_WORDS = {"listo", "ya", "no", "terminar", "fin"}
WEEKDAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


@dataclass(frozen=True)
class Inbound:
    """A message as the bot reads it: plain text, a choice (button or list id), or an image's media id;
    ``unsupported`` names a kind of message the bot cannot read (``document``, ``audio``, …)."""

    text: str = ""
    choice: str | None = None
    media_id: str | None = None
    media_type: str | None = None
    unsupported: str | None = None


@dataclass
class Out:
    """One answer: text, with up to three buttons or a list of up to ten rows (``(id, title, description)``)."""

    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    list_button: str = "Ver opciones"

    def body(self) -> dict[str, Any]:
        """The Cloud API message body (without ``to``)."""
        if self.buttons:
            return {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": self.text[:1024]},
                    "action": {
                        "buttons": [
                            {"type": "reply", "reply": {"id": bid, "title": title[:20]}}
                            for bid, title in self.buttons[:3]
                        ]
                    },
                },
            }
        if self.rows:
            return {
                "type": "interactive",
                "interactive": {
                    "type": "list",
                    "body": {"text": self.text[:4096]},
                    "action": {
                        "button": self.list_button[:20],
                        "sections": [
                            {
                                "title": "Opciones",
                                "rows": [
                                    {"id": rid, "title": title[:24], "description": desc[:72]}
                                    for rid, title, desc in self.rows[:10]
                                ],
                            }
                        ],
                    },
                },
            }
        return {"type": "text", "text": {"body": self.text[:4096], "preview_url": False}}


def parse_message(message: dict[str, Any]) -> Inbound:
    """The parts of a Cloud API message object the bot reads; anything else is an empty text."""
    kind = message.get("type")
    if kind == "text":
        body = (message.get("text") or {}).get("body")
        return Inbound(text=body if isinstance(body, str) else "")
    if kind == "interactive":
        inter = message.get("interactive") or {}
        reply = inter.get("button_reply") or inter.get("list_reply") or {}
        choice = reply.get("id")
        return Inbound(choice=choice if isinstance(choice, str) else None, text=str(reply.get("title") or ""))
    if kind == "button":  # a template's quick-reply button
        payload = (message.get("button") or {}).get("payload")
        return Inbound(choice=payload if isinstance(payload, str) else None)
    if kind == "image" or (kind == "document" and _is_image_document(message.get("document"))):
        image = message.get(kind) or {}
        media = image.get("id")
        caption = image.get("caption")
        return Inbound(
            media_id=media if isinstance(media, str) else None,
            media_type=str(image.get("mime_type") or ""),
            text=caption if isinstance(caption, str) else "",
        )
    if isinstance(kind, str) and kind in _UNSUPPORTED:
        return Inbound(unsupported=kind)
    return Inbound()


#: Message kinds the bot cannot read; each gets "only text and photos" and changes nothing.
_UNSUPPORTED = frozenset({"document", "audio", "video", "sticker", "location", "contacts", "voice", "unsupported"})


def _is_image_document(document: Any) -> bool:
    """A photo sent "as a document" (JPEG or PNG) is read as a photo; the photo pipeline checks the bytes."""
    return isinstance(document, dict) and document.get("mime_type") in ("image/jpeg", "image/png")


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.strip().lower())
    return " ".join("".join(ch for ch in folded if not unicodedata.combining(ch)).replace("¿", " ").split()).strip(
        " .!?¡"
    )


def _local(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{WEEKDAYS[local.weekday()]} {local.day:02d}/{local.month:02d} a las {local:%H:%M}"


def _first_name(patient: Patient) -> str:
    return (patient.display_name or patient.full_name).split()[0]


class Bot:
    """One message's handling. State changes go through ``self.state`` (written back by the worker)."""

    def __init__(
        self,
        session: Session,
        ctx: Context,
        *,
        phone: str,
        state: dict[str, Any],
        now: datetime,
        media: bytes | None,
    ) -> None:
        self.session = session
        self.ctx = ctx
        self.phone = phone
        self.state = dict(state)
        self.now = now
        self.media = media
        self.out: list[Out] = []
        self.user: User | None = None
        self.principal: Principal | None = None

    # ---- who ------------------------------------------------------------------------------------

    def _identify(self) -> None:
        user_id = links.user_for_phone(self.session, self.phone)
        user = self.session.get(User, user_id) if user_id else None
        if user is None or not user.active or user.role != Role.GUARDIAN:
            return
        self.user = user
        self.principal = Principal(
            id=user.id,
            role=user.role,
            display_name=user.display_name,
            session_id="whatsapp",
            privacy_version=user.privacy_version,
        )

    def _children(self) -> list[Patient]:
        assert self.principal is not None
        return list(
            self.session.scalars(
                select(Patient)
                .join(GuardianPatient, GuardianPatient.patient_id == Patient.id)
                .where(GuardianPatient.user_id == self.principal.id)
                .order_by(Patient.display_name)
            )
        )

    # ---- answers --------------------------------------------------------------------------------

    def say(self, text: str, **kw: Any) -> None:
        self.out.append(Out(text, **kw))

    def menu(self, intro: str = "") -> None:
        self.state = {}
        text = (intro + "\n\n" if intro else "") + "¿Qué quieres hacer? Elige una opción o escribe su número:\n"
        text += "\n".join(f"{i}. {title}" for i, (_, title, _) in enumerate(MENU_ROWS, start=1))
        self.say(text, rows=MENU_ROWS, list_button="Ver opciones")

    def general_help(self) -> None:
        number = self.ctx.settings.whatsapp_bot_number
        self.state = {}
        self.say(
            "Hola, soy Mi Chat ONCOIMSS. Para consultar y reportar lo de tu hija o hijo por aquí, vincula este "
            "número desde la app Carnet: Ajustes → WhatsApp → Vincular WhatsApp, y envía aquí el código que te "
            "muestra" + (f" (a este número, {number})" if number else "") + ".\n\n"
            "Si no tienes la app, acude al módulo de atención a casos de tu hospital; ahí te ayudan a "
            "vincularlo. Por seguridad, a un número sin vincular no le damos información de ningún paciente."
        )

    # ---- entry ---------------------------------------------------------------------------------

    def handle(self, message: Inbound) -> list[Out]:
        code = links.find_code(message.text)
        if code is not None:
            self._link(code)
            return self.out
        self._identify()
        if self.principal is None:
            self.general_help()
            return self.out
        if self.principal.privacy_version != current_version(self.ctx.settings):
            self.state = {}
            self.say(
                "Antes de seguir, abre la app Carnet y acepta el aviso de privacidad vigente. Después escribe MENÚ."
            )
            return self.out
        if message.unsupported is not None:
            if self.state.get("step") == "report.photos":
                self.say(
                    "Ese archivo no es una foto. Envía una foto tomada con la cámara o de tu galería, o toca Listo.",
                    buttons=[("photos:done", "Listo"), ("menu", "Menú")],
                )
            else:
                self.say(
                    "Por ahora solo podemos leer mensajes de texto y fotos. Escribe tu mensaje, o MENÚ para ver "
                    "tus opciones."
                )
            return self.out
        plain = _plain(message.text)
        choice = message.choice
        if choice is None and plain in _MENU_WORDS:
            self.menu()
            return self.out
        if choice == "menu" or choice == "menu:menu":
            self.menu()
            return self.out
        if choice == "menu:human" or (choice is None and plain in _HUMAN_WORDS):
            self._human_start()
            return self.out
        step = self.state.get("step")
        handler = {
            "report.child": self._report_child,
            "report.category": self._report_category,
            "report.item": self._report_item,
            "report.description": self._report_description,
            "report.photos": self._report_photos,
            "human.child": self._human_child,
            "reopen": self._reopen_reason,
            "followup": self._followup,
        }.get(step or "")
        if handler is not None:
            handler(message, plain)
            return self.out
        self._menu_choice(message, plain)
        return self.out

    def _locked_out(self) -> None:
        self.state = {}
        self.say(
            "Recibimos demasiados códigos incorrectos desde este número. Por seguridad, espera "
            f"{self.ctx.settings.whatsapp_link_lockout_minutes} minutos y envía un código nuevo de la app "
            "(Ajustes → WhatsApp)."
        )

    def _link(self, raw: str) -> None:
        if links.code_locked(self.session, phone=self.phone, now=self.now):
            self._locked_out()
            return
        try:
            links.link_by_code(self.session, ctx=self.ctx, phone=self.phone, raw=raw, now=self.now)
        except DomainError as exc:
            if exc.code == "whatsapp_number_taken":
                self.say(
                    "Este número ya está vinculado a otra cuenta. Para cambiarlo, desvincúlalo desde esa cuenta "
                    "en la app o pide ayuda en el módulo de atención a casos."
                )
            elif links.note_wrong_code(self.session, ctx=self.ctx, phone=self.phone, now=self.now):
                self._locked_out()
            else:
                self.say("Ese código no es válido o ya venció. Pide uno nuevo en la app: Ajustes → WhatsApp.")
            return
        self._identify()
        names = ", ".join(_first_name(p) for p in self._children()) if self.principal else ""
        self.menu(
            "Listo: este número quedó vinculado a tu cuenta"
            + (f" ({names})" if names else "")
            + ". Puedes desvincularlo cuando quieras desde la app."
        )

    def _menu_choice(self, message: Inbound, plain: str) -> None:
        choice = message.choice
        if choice is None and plain.isdigit() and 1 <= int(plain) <= len(MENU_ROWS):
            choice = MENU_ROWS[int(plain) - 1][0]
        if choice == "menu:report":
            self._report_start()
        elif choice == "menu:reports":
            self._my_reports()
        elif choice == "menu:appointments":
            self._appointments()
        elif choice and choice.startswith("reopen:"):
            self._reopen_start(choice.split(":", 1)[1])
        elif choice and choice.startswith("reply:"):
            self._followup_start(choice.split(":", 1)[1])
        elif choice == "photos:done":
            self.menu("Gracias. Te avisaremos aquí cuando haya respuesta.")
        elif message.media_id and self.state.get("photos_for"):
            self.state = {"step": "report.photos", "incident": self.state["photos_for"]}
            self._report_photos(message, plain)
        elif message.media_id:
            self.menu("Para enviar una foto, primero haz un reporte (opción 1); después podrás enviar hasta tres.")
        else:
            self.menu("No entendí tu mensaje.")

    # ---- report ----------------------------------------------------------------------------------

    def _choose_child(self, step: str, question: str) -> bool:
        """Ask which child when there are several; True when it is already settled in the state."""
        children = self._children()
        if not children:
            self.menu("Tu cuenta no tiene pacientes vinculados. Acude al módulo de atención a casos.")
            return False
        if len(children) == 1:
            self.state["patient"] = children[0].id
            return True
        self.state = {"step": step}
        rows = [(f"child:{p.id}", p.display_name[:24], "") for p in children[:10]]
        self.say(
            question + "\n" + "\n".join(f"{i}. {p.display_name}" for i, p in enumerate(children, 1)),
            rows=rows,
            list_button="Elegir",
        )
        return False

    def _picked_child(self, message: Inbound, plain: str) -> str | None:
        children = self._children()
        if message.choice and message.choice.startswith("child:"):
            wanted = message.choice.split(":", 1)[1]
            return wanted if any(p.id == wanted for p in children) else None
        if plain.isdigit() and 1 <= int(plain) <= len(children):
            return children[int(plain) - 1].id
        return None

    def _report_start(self) -> None:
        self.state = {}
        if self._choose_child("report.child", "¿De quién es el reporte?"):
            self._ask_category()

    def _report_child(self, message: Inbound, plain: str) -> None:
        patient = self._picked_child(message, plain)
        if patient is None:
            self.state = {}
            self._choose_child("report.child", "No encontré esa opción. ¿De quién es el reporte?")
            return
        self.state = {"patient": patient}
        self._ask_category()

    def _ask_category(self) -> None:
        self.state = {"step": "report.category", "patient": self.state["patient"]}
        cats = list(CATEGORY_TITLES.items())
        self.say(
            "¿Qué problema quieres reportar?\n" + "\n".join(f"{i}. {t}" for i, (_, t) in enumerate(cats, 1)),
            rows=[(f"cat:{c}", t, "") for c, t in cats],
            list_button="Elegir",
        )

    def _report_category(self, message: Inbound, plain: str) -> None:
        cats = list(CATEGORY_TITLES)
        category: str | None = None
        if message.choice and message.choice.startswith("cat:"):
            category = message.choice.split(":", 1)[1]
        elif plain.isdigit() and 1 <= int(plain) <= len(cats):
            category = cats[int(plain) - 1]
        if category not in cats:
            self._ask_category()
            return
        self.state = {"step": "report.item", "patient": self.state["patient"], "category": category}
        if category in incidents.NEEDS_ITEM:
            what = "medicamento" if category == IncidentCategory.MEDICAMENTO else "insumo"
            self.say(f"¿Qué {what} falta? Escribe su nombre (por ejemplo, como dice la receta).")
            return
        self.state["step"] = "report.description"
        self.say("Cuéntanos qué pasó, en un mensaje.")

    def _report_item(self, message: Inbound, plain: str) -> None:
        item = " ".join(message.text.split())
        if not item or message.media_id:
            self.say("Escribe el nombre, por favor (o MENÚ para salir).")
            return
        self.state.update(step="report.description", item=item[:120])
        self.say("Gracias. Ahora cuéntanos qué pasó, en un mensaje.")

    def _report_description(self, message: Inbound, plain: str) -> None:
        text = message.text.strip()
        if len(text) < 5:
            self.say("Escribe un poco más (al menos 5 letras), o MENÚ para salir.")
            return
        assert self.principal is not None
        data = contract.IncidentCreate(
            patient_id=self.state["patient"],
            category=IncidentCategory(self.state["category"]),
            description=text[:2000],
            item_name=self.state.get("item"),
        )
        self._create(data, photos=True)

    def _create(self, data: contract.IncidentCreate, *, photos: bool) -> None:
        assert self.principal is not None
        try:
            with self.session.begin_nested():  # a refusal leaves nothing behind (the folio counter included)
                row = incidents.create(
                    self.session,
                    principal=self.principal,
                    data=data,
                    tz=self.ctx.tz,
                    deadline_hours=self.ctx.settings.incident_deadline_hours,
                    ip=None,
                    now=self.now,
                    channel=IncidentChannel.WHATSAPP,
                )
        except DomainError:
            self.menu("No pudimos registrar el reporte. Intenta de nuevo.")
            return
        due = _local(row.first_response_due_at, self.ctx.tz)
        text = f"Tu reporte quedó registrado con el folio {row.folio}. Te responderemos a más tardar el {due}."
        if photos and self.ctx.settings.incident_max_photos > 0:
            self.state = {"step": "report.photos", "incident": row.id, "count": 0}
            self.say(
                text + f"\n\nSi quieres, envía ahora hasta {self.ctx.settings.incident_max_photos} fotos "
                "(la receta, el medicamento). Cuando termines, toca Listo.",
                buttons=[("photos:done", "Listo"), ("menu", "Menú")],
            )
        else:
            self.state = {}
            self.say(text + " Escribe MENÚ para ver tus opciones.")

    def _report_photos(self, message: Inbound, plain: str) -> None:
        incident_id = self.state.get("incident", "")
        if message.media_id is None:
            if message.choice == "photos:done" or plain in _DONE_WORDS:
                self.menu("Gracias. Te avisaremos aquí cuando haya respuesta.")
            else:
                self._followup_text(incident_id, message.text)
            return
        assert self.principal is not None
        if self.media is None:
            self.say("No pudimos recibir esa foto. Inténtalo otra vez.")
            return
        try:
            with self.session.begin_nested():
                row = incidents.add_photo(
                    self.session,
                    principal=self.principal,
                    incident_id=incident_id,
                    data=self.media,
                    data_dir=self.ctx.settings.data_dir,
                    max_bytes=self.ctx.settings.incident_photo_max_bytes,
                    max_photos=self.ctx.settings.incident_max_photos,
                    ip=None,
                    now=self.now,
                )
        except DomainError as exc:
            if exc.code == "too_many_photos":
                self.menu(
                    f"Ese reporte ya tiene {self.ctx.settings.incident_max_photos} fotos, el máximo; no agregamos "
                    "esta. Si hace falta, cuéntalo en un mensaje al reporte."
                )
            elif exc.code in ("photo_too_large", "photo_too_large_decoded"):
                self.say("Esa foto es demasiado grande. Envía otra más pequeña.")
            elif exc.code == "unsupported_media_type":
                self.say(
                    "No pudimos abrir esa foto. Envía otra tomada con la cámara o de tu galería, o toca Listo.",
                    buttons=[("photos:done", "Listo"), ("menu", "Menú")],
                )
            else:
                self.menu("No pudimos agregar la foto a ese reporte.")
            return
        count = len(row.photos)
        left = self.ctx.settings.incident_max_photos - count
        self.state["count"] = count
        if left <= 0:
            self.menu(f"Recibimos {count} fotos para el reporte {row.folio}. Te avisaremos aquí cuando haya respuesta.")
            self.state = {"photos_for": row.id}
        else:
            self.say(
                f"Foto {count} recibida para el reporte {row.folio}. Puedes enviar {left} más, o tocar Listo.",
                buttons=[("photos:done", "Listo")],
            )

    # ---- a person ----------------------------------------------------------------------------------

    def _human_start(self) -> None:
        self.state = {}
        if self._choose_child("human.child", "¿Sobre cuál de tus hijas o hijos quieres hablar?"):
            self._human_open()

    def _human_child(self, message: Inbound, plain: str) -> None:
        patient = self._picked_child(message, plain)
        if patient is None:
            self._human_start()
            return
        self.state = {"patient": patient}
        self._human_open()

    def _human_open(self) -> None:
        data = contract.IncidentCreate(
            patient_id=self.state["patient"],
            category=IncidentCategory.OTRO,
            description="La familia pidió por WhatsApp hablar con una persona del módulo de atención a casos.",
        )
        self._create(data, photos=False)
        if self.out and "folio" in self.out[-1].text:
            self.out[-1].text += " Una persona del módulo de atención a casos te escribirá por aquí."

    # ---- my reports ------------------------------------------------------------------------------

    def _my_reports(self) -> None:
        assert self.principal is not None
        rows = incidents.list_incidents(self.session, principal=self.principal)
        recent = self.now - timedelta(days=30)
        shown = [
            r for r in rows if r.status != IncidentStatus.ATENDIDA.value or (r.resolved_at and r.resolved_at >= recent)
        ][:8]
        if not shown:
            self.menu("No tienes reportes abiertos.")
            return
        names = {p.id: _first_name(p) for p in self._children()}
        lines: list[str] = []
        options: list[tuple[str, str, str]] = []
        for r in shown:
            line = f"• {r.folio} ({names.get(r.patient_id, '')}): {CATEGORY_TITLES.get(r.category, r.category)}, "
            line += STATUS_TITLES.get(r.status, r.status)
            if r.first_response_at is None:
                due = _local(r.first_response_due_at, self.ctx.tz)
                if r.first_response_due_at < self.now:
                    line += f"; el plazo de respuesta venció el {due}: el módulo ya lo tiene en prioridad"
                else:
                    line += f"; respuesta a más tardar el {due}"
            staff = [x for x in r.replies if x.author_role != Role.GUARDIAN]
            if staff:
                line += f"\n  Última respuesta: {staff[-1].message[:300]}"
            lines.append(line)
            if r.status == IncidentStatus.ATENDIDA.value:
                options.append((f"reopen:{r.id}", f"Reabrir {r.folio}", "La respuesta no lo resolvió"))
            else:
                options.append((f"reply:{r.id}", f"Escribir {r.folio}", "Agregar un mensaje al reporte"))
        options.append(("menu", "Menú", "Volver al menú"))
        self.state = {}
        self.say("Tus reportes:\n" + "\n".join(lines), rows=options[:10], list_button="Opciones")

    def _reopen_start(self, incident_id: str) -> None:
        self.state = {"step": "reopen", "incident": incident_id}
        self.say("¿Por qué la respuesta no resolvió el problema? Escríbelo en un mensaje (o MENÚ para salir).")

    def _reopen_reason(self, message: Inbound, plain: str) -> None:
        assert self.principal is not None
        reason = message.text.strip()
        if len(reason) < 5:
            self.say("Escribe un poco más (al menos 5 letras), o MENÚ para salir.")
            return
        try:
            with self.session.begin_nested():
                row = incidents.reopen(
                    self.session,
                    principal=self.principal,
                    incident_id=self.state.get("incident", ""),
                    data=contract.ReopenRequest(reason=reason[:1000]),
                    ip=None,
                    now=self.now,
                )
        except DomainError:
            self.menu("Ese reporte no se puede reabrir (no está atendido o no es tuyo).")
            return
        self.menu(f"Reabrimos tu reporte {row.folio}. El módulo de atención a casos lo verá de nuevo.")

    def _followup_start(self, incident_id: str) -> None:
        self.state = {"step": "followup", "incident": incident_id}
        self.say("Escribe tu mensaje para el módulo de atención a casos (o MENÚ para salir).")

    def _followup(self, message: Inbound, plain: str) -> None:
        if message.choice and message.choice.startswith("reopen:"):
            self._reopen_start(message.choice.split(":", 1)[1])
            return
        if message.choice or (plain.isdigit() and not message.media_id):
            self.state = {}
            self._menu_choice(message, plain)
            return
        self._followup_text(self.state.get("incident", ""), message.text)

    def _followup_text(self, incident_id: str, text: str) -> None:
        assert self.principal is not None
        if not text.strip():
            self.menu()
            return
        try:
            with self.session.begin_nested():
                row = incidents.comment(
                    self.session, principal=self.principal, incident_id=incident_id, message=text, ip=None, now=self.now
                )
        except DomainError as exc:
            if exc.code == "already_resolved":
                self.state = {}
                self.say(
                    "Ese reporte ya está atendido. Si la respuesta no lo resolvió, puedes reabrirlo.",
                    buttons=[(f"reopen:{incident_id}", "Reabrir"), ("menu", "Menú")],
                )
            else:
                self.menu("No entendí tu mensaje.")
            return
        self.state = {"step": "followup", "incident": row.id}
        self.say(f"Agregamos tu mensaje al reporte {row.folio}.", buttons=[("menu", "Menú")])

    # ---- appointments -------------------------------------------------------------------------------

    def _appointments(self) -> None:
        children = self._children()
        lines: list[str] = []
        for child in children:
            rows = list(
                self.session.scalars(
                    select(Appointment)
                    .where(
                        Appointment.patient_id == child.id,
                        Appointment.starts_at >= self.now,
                        Appointment.status.not_in(("cancelada", "realizada")),
                    )
                    .order_by(Appointment.starts_at)
                    .limit(3)
                )
            )
            lines.append(f"{child.display_name}:")
            if not rows:
                lines.append("  Sin citas próximas.")
            for a in rows:
                place = a.unit.name if a.unit is not None else a.place
                lines.append(
                    f"  • {KIND_TITLES.get(a.kind, 'Cita')}: {_local(a.starts_at, self.ctx.tz)}"
                    + (f", {place}" if place else "")
                )
        self.menu("Próximas citas\n" + "\n".join(lines) if lines else "No hay citas próximas.")


def handle(
    session: Session,
    ctx: Context,
    *,
    phone: str,
    state: dict[str, Any],
    message: Inbound,
    now: datetime,
    media: bytes | None = None,
) -> tuple[list[Out], dict[str, Any], str | None]:
    """Answers, the new state, and the user id when the number speaks for a guardian (for the outbox)."""
    bot = Bot(session, ctx, phone=phone, state=state, now=now, media=media)
    out = bot.handle(message)
    return out, bot.state, bot.principal.id if bot.principal else None
