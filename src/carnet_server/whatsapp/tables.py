"""Tables of the WhatsApp channel ("Mi Chat ONCOIMSS").

``whatsapp_links``        a guardian's verified number (one per account, one account per number); deleting the
                          row ends the link at once.
``whatsapp_link_codes``   short-lived one-use codes the app shows (stored as SHA-256, never in clear).
``whatsapp_inbound``      the durable inbound queue: one row per provider message id (Meta's retries insert
                          nothing), processed by a worker with a lease; the message body is cleared once processed.
``whatsapp_outbound``     the durable outbound queue: each message as the session text to send and, when the 24-hour
                          window may have closed by then, the approved template to send instead; both are cleared
                          once the row is done.
``whatsapp_conversations`` per number: when it last wrote (the 24-hour window), where it is in the menus, and how
                          many wrong link codes it sent lately (never the codes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carnet_server.db import Base, UTCDateTime, new_id, utcnow

__all__ = ["Conversation", "InboundMessage", "LinkCode", "OutboundMessage", "WhatsAppLink"]


class WhatsAppLink(Base):
    __tablename__ = "whatsapp_links"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: The WhatsApp id (``wa_id``): country code and number, digits only, e.g. ``5215512345678``.
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    #: ``code`` (the family sent the app's code) or ``staff``.
    method: Mapped[str] = mapped_column(String(16))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkCode(Base):
    __tablename__ = "whatsapp_link_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class InboundMessage(Base):
    __tablename__ = "whatsapp_inbound"
    __table_args__ = (
        Index("ix_whatsapp_inbound_queue", "processed_at", "next_attempt_at"),
        Index("ix_whatsapp_inbound_phone_received", "phone", "received_at"),
    )

    #: The provider's message id (``wamid…``): a redelivered webhook finds it and adds nothing.
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The message object as the webhook gave it; set to None once processed.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class OutboundMessage(Base):
    __tablename__ = "whatsapp_outbound"
    __table_args__ = (Index("ix_whatsapp_outbound_queue", "done_at", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    phone: Mapped[str] = mapped_column(String(20))
    #: When set, the message carries this account's information: it goes only while ``phone`` is still linked to
    #: it (an unlink stops what is queued too).
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: The Cloud API message body without ``to`` (text, interactive), for inside the 24-hour window; None when only
    #: a template is meant.
    session_body: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: ``{"name": …, "params": [...]}``: the approved template sent when the window is closed.
    template: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: What it is about, for the desk and the figures (``reply``, ``answer``, ``reminder``, …); never the text.
    purpose: Mapped[str] = mapped_column(String(32))
    #: A key that makes an enqueue happen once (a reminder's kind and object), else None.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Sent, or given up (``outcome`` says which).
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: ``sent`` (session message), ``template`` (sent as the template), ``dropped`` (window closed, no template;
    #: or the number was unlinked before it went out).
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    provider_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Conversation(Base):
    __tablename__ = "whatsapp_conversations"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    #: The last message from this number: free-form answers only within 24 hours of it.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Where the number is in the menus (step and what it chose so far); ``{}`` at the menu.
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The per-number limit: when a "too many messages" notice was last sent (once per window).
    throttled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Wrong link codes from this number since ``link_failures_since`` (a count only: the codes are not kept) …
    link_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    link_failures_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: … and, after too many, until when every code from it is refused (links.py).
    link_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
