"""The WhatsApp Cloud API's wire formats, as far as Carnet uses them (see docs/whatsapp-simulator.md).

- :func:`signature`: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``.
- :func:`message_webhook` / :func:`status_webhook`: the webhook bodies Meta POSTs (one message or
  status per body).
- :func:`check_message`: the shape of an outbound ``POST /{phone_number_id}/messages`` body (text,
  interactive button or list, template, image) with the Cloud API's limits; raises :class:`Invalid`
  (answered as 400 code 100, or 132000/132001 for templates). Only the templates in
  :data:`TEMPLATES` (the approved ones, es_MX) are accepted, each with its number of parameters.
- :func:`render`: a readable rendering of an accepted message (what the phone would show, with the
  options numbered and their ids), for ``/_sim/messages`` and ``carnet-whatsapp-sim write``.
- :func:`error`: the Cloud API's error body.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

__all__ = [
    "SIGNATURE_HEADER",
    "TEMPLATES",
    "Invalid",
    "check_message",
    "error",
    "message_webhook",
    "new_wamid",
    "render",
    "signature",
    "status_webhook",
]

SIGNATURE_HEADER = "X-Hub-Signature-256"
WABA_ID = "100000000000001"

#: The approved templates (name → number of body parameters), language es_MX (wa-spec.md, "Templates").
TEMPLATES: dict[str, int] = {
    "carnet_respuesta_reporte": 2,  # folio, answer
    "carnet_cita_manana": 4,  # child's first name, kind, time, place
    "carnet_mezcla_lista": 2,  # child's first name, cycle
    "carnet_reporte_respondido": 1,  # folio
    "carnet_donacion_manana": 3,  # donor's first name, bank, time
    "carnet_menu": 0,
}
TEMPLATE_LANGUAGE = "es_MX"

TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
HEADER_FOOTER_MAX = 60
BUTTON_TITLE_MAX = 20
BUTTONS_MAX = 3
LIST_BUTTON_MAX = 20
ROWS_MAX = 10
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
SECTION_TITLE_MAX = 24
ID_MAX = 256
CAPTION_MAX = 1024


class Invalid(ValueError):
    """An outbound body the Cloud API would refuse: ``code`` and a ``details`` sentence."""

    def __init__(self, details: str, code: int = 100) -> None:
        super().__init__(details)
        self.details = details
        self.code = code


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value of ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def new_wamid() -> str:
    return "wamid." + secrets.token_urlsafe(30)


def error(code: int, message: str, details: str) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": secrets.token_urlsafe(12),
        }
    }


# ---- webhooks --------------------------------------------------------------------------------


def _webhook(phone_number_id: str, display_number: str, value: dict[str, Any]) -> dict[str, Any]:
    metadata = {"display_phone_number": display_number, "phone_number_id": phone_number_id}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": metadata, **value}}
                ],
            }
        ],
    }


def message_webhook(
    *, phone_number_id: str, display_number: str, sender: str, name: str, message: dict[str, Any]
) -> dict[str, Any]:
    """The webhook body of one inbound ``message`` (which carries its ``from``, ``id``, ``type``...)."""
    contacts = [{"profile": {"name": name}, "wa_id": sender}]
    return _webhook(phone_number_id, display_number, {"contacts": contacts, "messages": [message]})


def status_webhook(
    *, phone_number_id: str, display_number: str, message_id: str, status: str, recipient: str
) -> dict[str, Any]:
    entry = {"id": message_id, "status": status, "timestamp": str(int(time.time())), "recipient_id": recipient}
    return _webhook(phone_number_id, display_number, {"statuses": [entry]})


# ---- outbound messages -----------------------------------------------------------------------


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be an object")
    return value


def _str(value: Any, where: str, limit: int, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise Invalid(f"{where} is required (a non-empty string)")
    if len(value) > limit:
        raise Invalid(f"{where} is longer than {limit} characters")
    return value


def recipient(body: Any) -> str:
    """The digits of ``to`` (a leading ``+`` is allowed), or :class:`Invalid`."""
    to = _obj(body, "the body").get("to")
    digits = to[1:] if isinstance(to, str) and to.startswith("+") else to
    if not isinstance(digits, str) or not digits.isascii() or not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise Invalid("to must be a phone number in international format, digits only")
    return digits


def _check_interactive(interactive: dict[str, Any]) -> None:
    kind = interactive.get("type")
    _str(_obj(interactive.get("body"), "interactive.body").get("text"), "interactive.body.text", INTERACTIVE_BODY_MAX)
    for part in ("header", "footer"):
        if part in interactive:
            _str(
                _obj(interactive[part], f"interactive.{part}").get("text"),
                f"interactive.{part}.text",
                HEADER_FOOTER_MAX,
            )
    action = _obj(interactive.get("action"), "interactive.action")
    ids: list[str] = []
    if kind == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS_MAX:
            raise Invalid(f"interactive.action.buttons must hold 1 to {BUTTONS_MAX} buttons")
        for n, button in enumerate(buttons):
            if _obj(button, f"buttons[{n}]").get("type") != "reply":
                raise Invalid(f"buttons[{n}].type must be 'reply'")
            reply = _obj(button.get("reply"), f"buttons[{n}].reply")
            ids.append(_str(reply.get("id"), f"buttons[{n}].reply.id", ID_MAX))
            _str(reply.get("title"), f"buttons[{n}].reply.title", BUTTON_TITLE_MAX)
    elif kind == "list":
        _str(action.get("button"), "interactive.action.button", LIST_BUTTON_MAX)
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= ROWS_MAX:
            raise Invalid("interactive.action.sections must hold 1 to 10 sections")
        for s, section in enumerate(sections):
            _str(
                _obj(section, f"sections[{s}]").get("title"),
                f"sections[{s}].title",
                SECTION_TITLE_MAX,
                required=len(sections) > 1,
            )
            rows = section.get("rows")
            if not isinstance(rows, list) or not rows:
                raise Invalid(f"sections[{s}].rows must hold at least one row")
            for r, row in enumerate(rows):
                where = f"sections[{s}].rows[{r}]"
                ids.append(_str(_obj(row, where).get("id"), f"{where}.id", ID_MAX))
                _str(row.get("title"), f"{where}.title", ROW_TITLE_MAX)
                _str(row.get("description"), f"{where}.description", ROW_DESCRIPTION_MAX, required=False)
        if len(ids) > ROWS_MAX:
            raise Invalid(f"a list holds at most {ROWS_MAX} rows in all")
    else:
        raise Invalid("interactive.type must be 'button' or 'list'")
    if len(set(ids)) != len(ids):
        raise Invalid("option ids must be unique within a message")


def _template_params(template: dict[str, Any]) -> list[str]:
    params: list[str] = []
    components = template.get("components", [])
    if not isinstance(components, list):
        raise Invalid("template.components must be a list")
    for c, component in enumerate(components):
        if _obj(component, f"components[{c}]").get("type") not in ("header", "body", "button"):
            raise Invalid(f"components[{c}].type must be header, body or button")
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise Invalid(f"components[{c}].parameters must be a list")
        for p, parameter in enumerate(parameters):
            if _obj(parameter, f"components[{c}].parameters[{p}]").get("type") != "text":
                raise Invalid(f"components[{c}].parameters[{p}].type must be 'text'")
            params.append(_str(parameter.get("text"), f"components[{c}].parameters[{p}].text", TEXT_MAX))
    return params


def _check_template(template: dict[str, Any]) -> None:
    name = _str(template.get("name"), "template.name", 512)
    language = _obj(template.get("language"), "template.language").get("code")
    if name not in TEMPLATES or language != TEMPLATE_LANGUAGE:
        raise Invalid(
            f"template {name!r} does not exist in {language!r} (approved, es_MX: {sorted(TEMPLATES)})", 132001
        )
    count = len(_template_params(template))
    if count != TEMPLATES[name]:
        raise Invalid(f"template {name!r} takes {TEMPLATES[name]} parameters, got {count}", 132000)


def check_message(body: Any) -> str:
    """The recipient's digits of a well-formed outbound message body; :class:`Invalid` otherwise."""
    body = _obj(body, "the body")
    if body.get("messaging_product") != "whatsapp":
        raise Invalid("messaging_product must be 'whatsapp'")
    if body.get("recipient_type", "individual") != "individual":
        raise Invalid("recipient_type must be 'individual'")
    to = recipient(body)
    kind = body.get("type", "text")
    if kind not in ("text", "interactive", "template", "image"):
        raise Invalid("type must be text, interactive, template or image")
    content = _obj(body.get(kind), kind)
    if kind == "text":
        _str(content.get("body"), "text.body", TEXT_MAX)
        if not isinstance(content.get("preview_url", False), bool):
            raise Invalid("text.preview_url must be true or false")
    elif kind == "interactive":
        _check_interactive(content)
    elif kind == "template":
        _check_template(content)
    else:
        if not isinstance(content.get("id"), str) and not isinstance(content.get("link"), str):
            raise Invalid("image needs an id or a link")
        _str(content.get("caption"), "image.caption", CAPTION_MAX, required=False)
    return to


# ---- reading ---------------------------------------------------------------------------------


def options(body: dict[str, Any]) -> list[dict[str, str]]:
    """The choices of an interactive message, in order: ``{"id", "title", "description"?}``."""
    interactive = body.get("interactive") or {}
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        return [dict(b["reply"]) for b in action.get("buttons", [])]
    if interactive.get("type") == "list":
        return [dict(row) for section in action.get("sections", []) for row in section.get("rows", [])]
    return []


def render(body: dict[str, Any]) -> str:
    """What the phone shows: the text, or the interactive body and its numbered options, or the template."""
    kind = body.get("type", "text")
    if kind == "text":
        return str(body["text"]["body"])
    if kind == "template":
        template = body["template"]
        params = _template_params(template)
        return f"[plantilla {template['name']}]" + (": " + " | ".join(params) if params else "")
    if kind == "image":
        image = body["image"]
        return "[imagen]" + (f" {image['caption']}" if image.get("caption") else "")
    interactive = body["interactive"]
    lines = [interactive[p]["text"] for p in ("header",) if p in interactive]
    lines.append(interactive["body"]["text"])
    lines += [interactive[p]["text"] for p in ("footer",) if p in interactive]
    if interactive["type"] == "list":
        lines.append(f"<{interactive['action']['button']}>")
    n = 0
    for section in interactive["action"].get("sections", [None]):
        if section and section.get("title"):
            lines.append(f"{section['title']}:")
        rows = section["rows"] if section else [b["reply"] for b in interactive["action"]["buttons"]]
        for row in rows:
            n += 1
            described = f" — {row['description']}" if row.get("description") else ""
            lines.append(f"[{n}] {row['title']}{described} (id: {row['id']})")
    return "\n".join(lines)
