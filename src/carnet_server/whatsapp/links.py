"""Which WhatsApp number speaks for which guardian account.

A number gets a child's information only while it is linked to a guardian of that child. A guardian links
it from the app: ``POST /me/whatsapp/link-code`` gives a short code (``CARNET-XXXXX``, 15 minutes, once),
and a message to the bot containing it, sent from the family's phone, proves the phone is theirs
(WhatsApp vouches for the sender's number). The code is kept as an HMAC only. Linking again moves the
account to the new number; a number linked to another account is refused (the other guardian must unlink
first, or staff do it). Unlinking — from the app, or by the case desk when a phone is lost — deletes the link:
every later message and every queued one that carries the account's information stops at once.
Every link and unlink is audited (ids only; never the number).

Guessing codes is bounded per number: after ``whatsapp_link_max_failures`` (5) wrong codes within
``whatsapp_link_lockout_minutes`` (15), every code from that number — even a right one — is refused for
``whatsapp_link_lockout_minutes``. Only a count is kept (``whatsapp_conversations``), never the codes tried;
the lockout itself is audited without the number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carnet_contract import models as contract
from carnet_contract.models import Role
from carnet_server import audit
from carnet_server.auth.service import Principal
from carnet_server.context import Context
from carnet_server.db import rowcount, utcnow
from carnet_server.domain_errors import Conflict, Invalid, NotAllowed, NotFound
from carnet_server.enrolment.codes import ALPHABET, _draw
from carnet_server.whatsapp.tables import Conversation, LinkCode, WhatsAppLink

__all__ = [
    "CODE_PREFIX",
    "NumberNotLinked",
    "code_locked",
    "find_code",
    "issue_code",
    "link_by_code",
    "link_status",
    "link_verified_at_enrolment",
    "linked_phone",
    "mask",
    "normalize_wa_id",
    "note_wrong_code",
    "unlink_number",
    "unlink_user",
    "user_for_phone",
]

CODE_PREFIX = "CARNET"
CODE_CHARS = 5
#: A code as it may appear inside a message: ``CARNET-7K3QH``, ``carnet 7k3qh``, ``CARNET7K3QH``.
_CODE_RE = re.compile(rf"\b{CODE_PREFIX}[\s\-_]?([{ALPHABET}]{{{CODE_CHARS}}})\b", re.IGNORECASE)


class NumberNotLinked(NotFound):
    code = "whatsapp_number_not_linked"


def _audit(
    session: Session,
    action: str,
    *,
    user_id: str,
    actor_id: str,
    actor_role: str,
    ip: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    """Ids and codes only: never the number."""
    audit.record(
        session,
        action=action,
        actor_id=actor_id,
        actor_role=actor_role,
        object_type="user",
        object_id=user_id,
        ip=ip,
        detail=detail,
    )


def _key(ctx: Context) -> bytes:
    return hmac.new(ctx.access_key.raw_value, b"carnet/whatsapp-link-code/v1", hashlib.sha256).digest()


def _hash(ctx: Context, raw: str) -> str:
    return hmac.new(_key(ctx), raw.upper().encode("ascii"), hashlib.sha256).hexdigest()


def normalize_wa_id(text: str) -> str | None:
    """A WhatsApp id (country code and number, digits only) from what a person types: 10 digits are a Mexican
    number (``52`` added); 12–15 digits are taken as they are. Else None."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 10:
        return "52" + digits
    return digits if 11 <= len(digits) <= 15 else None


def mask(phone: str) -> str:
    return f"•••• {phone[-4:]}"


def linked_phone(session: Session, user_id: str) -> str | None:
    return session.scalar(select(WhatsAppLink.phone).where(WhatsAppLink.user_id == user_id))


def user_for_phone(session: Session, phone: str) -> str | None:
    return session.scalar(select(WhatsAppLink.user_id).where(WhatsAppLink.phone == phone))


def link_status(session: Session, *, principal: Principal, bot_number: str) -> contract.WhatsAppLink:
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    row = session.get(WhatsAppLink, principal.id)
    if row is None:
        return contract.WhatsAppLink(linked=False, bot_number=bot_number)
    return contract.WhatsAppLink(linked=True, number=mask(row.phone), linked_at=row.linked_at, bot_number=bot_number)


def issue_code(
    session: Session, *, ctx: Context, principal: Principal, ip: str | None, now: datetime | None = None
) -> contract.WhatsAppLinkCode:
    """A fresh code for the guardian (earlier unused ones stop working). Commits."""
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    now = now or utcnow()
    session.execute(delete(LinkCode).where(LinkCode.user_id == principal.id, LinkCode.used_at.is_(None)))
    raw = _draw(CODE_CHARS)
    expires = now + timedelta(minutes=ctx.settings.whatsapp_link_code_minutes)
    session.add(LinkCode(code_hash=_hash(ctx, raw), user_id=principal.id, created_at=now, expires_at=expires))
    _audit(
        session,
        "whatsapp.link_code.issue",
        user_id=principal.id,
        actor_id=principal.id,
        actor_role=principal.role,
        ip=ip,
    )
    session.commit()
    return contract.WhatsAppLinkCode(
        code=f"{CODE_PREFIX}-{raw}", expires_at=expires, bot_number=ctx.settings.whatsapp_bot_number
    )


def find_code(text: str) -> str | None:
    """The code's five characters when ``text`` holds one."""
    match = _CODE_RE.search(text or "")
    return match.group(1).upper() if match else None


def _chat(session: Session, phone: str, now: datetime) -> Conversation:
    row = session.get(Conversation, phone)
    if row is None:
        row = Conversation(phone=phone, state={}, updated_at=now, link_failures=0)
        session.add(row)
        session.flush()
    return row


def code_locked(session: Session, *, phone: str, now: datetime) -> bool:
    """Whether codes from ``phone`` are refused now (too many wrong ones lately)."""
    row = session.get(Conversation, phone)
    return row is not None and row.link_locked_until is not None and row.link_locked_until > now


def note_wrong_code(session: Session, *, ctx: Context, phone: str, now: datetime) -> bool:
    """Count a wrong code from ``phone`` (not the code); True when this one locks the number. Does not commit."""
    settings = ctx.settings
    window = timedelta(minutes=settings.whatsapp_link_lockout_minutes)
    row = _chat(session, phone, now)
    if row.link_failures_since is None or now - row.link_failures_since >= window:
        row.link_failures, row.link_failures_since = 0, now
    row.link_failures = (row.link_failures or 0) + 1
    if row.link_failures < settings.whatsapp_link_max_failures:
        return False
    row.link_failures, row.link_failures_since = 0, None
    row.link_locked_until = now + window
    audit.record(
        session,
        action="whatsapp.link_code.lockout",
        object_type="whatsapp_number",
        detail={"failures": settings.whatsapp_link_max_failures, "minutes": settings.whatsapp_link_lockout_minutes},
    )
    return True


def link_by_code(session: Session, *, ctx: Context, phone: str, raw: str, now: datetime | None = None) -> str:
    """Link ``phone`` to the account whose live code this is; returns the user id. Does not commit.

    Invalid("whatsapp_code_invalid") for an unknown, used or expired code; Conflict("whatsapp_number_taken")
    when the number speaks for another account.
    """
    now = now or utcnow()
    code = session.get(LinkCode, _hash(ctx, raw))
    if code is None or code.used_at is not None or code.expires_at <= now:
        raise Invalid("whatsapp_code_invalid")
    owner = user_for_phone(session, phone)
    if owner is not None and owner != code.user_id:
        raise Conflict("whatsapp_number_taken")
    code.used_at = now
    chat = session.get(Conversation, phone)
    if chat is not None:
        chat.link_failures, chat.link_failures_since = 0, None
    row = session.get(WhatsAppLink, code.user_id)
    if row is None:
        session.add(WhatsAppLink(user_id=code.user_id, phone=phone, method="code", linked_at=now))
    else:
        row.phone, row.method, row.linked_at = phone, "code", now
    _audit(
        session,
        "whatsapp.link",
        user_id=code.user_id,
        actor_id=code.user_id,
        actor_role=Role.GUARDIAN,
        detail={"method": "code"},
    )
    return code.user_id


def link_verified_at_enrolment(
    session: Session,
    *,
    user_id: str,
    phone_text: str,
    now: datetime,
    verified_by: str | None = None,
    invitation_id: str | None = None,
) -> bool:
    """Link the number staff verified in person at enrolment to the guardian's account, unless it already speaks
    for another account or the account has a number (then the family links from the app). Does not commit.
    The audit row names the staff user who verified it (``verified_by``) and the invitation."""
    phone = normalize_wa_id(phone_text)
    if phone is None or user_for_phone(session, phone) is not None or session.get(WhatsAppLink, user_id) is not None:
        return False
    session.add(WhatsAppLink(user_id=user_id, phone=phone, method="enrolment", linked_at=now))
    _audit(
        session,
        "whatsapp.link",
        user_id=user_id,
        actor_id=user_id,
        actor_role=Role.GUARDIAN,
        detail={"method": "enrolment", "verified_by": verified_by, "invitation_id": invitation_id},
    )
    return True


def unlink_user(session: Session, *, principal: Principal, ip: str | None) -> None:
    """The guardian ends their own link (nothing to end is fine). Commits."""
    if principal.role != Role.GUARDIAN:
        raise NotAllowed()
    removed = rowcount(session.execute(delete(WhatsAppLink).where(WhatsAppLink.user_id == principal.id)))
    _audit(
        session,
        "whatsapp.unlink",
        user_id=principal.id,
        actor_id=principal.id,
        actor_role=principal.role,
        ip=ip,
        detail={"by": "guardian", "was_linked": bool(removed)},
    )
    session.commit()


def unlink_number(session: Session, *, principal: Principal, phone_text: str, ip: str | None) -> None:
    """Case desk or admin end the link of a number (a lost phone, the family's call). Commits."""
    if principal.role not in (Role.CASE_DESK, Role.ADMIN):
        raise NotAllowed()
    phone = normalize_wa_id(phone_text)
    if phone is None:
        raise Invalid("whatsapp_number_invalid")
    user_id = user_for_phone(session, phone)
    if user_id is None and phone.startswith("52") and len(phone) == 12:
        # Mexican mobiles may still be known to WhatsApp with the old "1" after the country code.
        phone = "521" + phone[2:]
        user_id = user_for_phone(session, phone)
    if user_id is None:
        raise NumberNotLinked()
    session.execute(delete(WhatsAppLink).where(WhatsAppLink.user_id == user_id))
    _audit(
        session,
        "whatsapp.unlink",
        user_id=user_id,
        actor_id=principal.id,
        actor_role=principal.role,
        ip=ip,
        detail={"by": "staff"},
    )
    session.commit()
