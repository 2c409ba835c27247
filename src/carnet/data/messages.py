"""One sentence for a person from an API error, in the app's language (no Flet, no session)."""

from __future__ import annotations

import re

from carnet.core.i18n import Translator
from carnet.data.api import (
    ApiError,
    AuthError,
    HttpError,
    NetworkError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    minutes_to_wait,
)

__all__ = ["OWN_WORDS", "describe_rejection", "message_for", "min_length_in"]

#: Server error codes the app says in its own words (catalogue keys); the rest keep the server's message.
OWN_WORDS = {
    "wrong_current_password": "acct_err_wrong_current",
    "password_is_username": "acct_err_is_username",
    "password_unchanged": "acct_err_unchanged",
    "privacy_notice_required": "privacy_required",
    "privacy_version_outdated": "privacy_outdated",
    "closure_request_not_found": "acct_closure_not_found",
}


def min_length_in(message: str) -> int | None:
    """The number in a 422 ``password_too_short`` message ("…al menos 10 caracteres")."""
    found = re.search(r"\d+", message)
    return int(found.group()) if found else None


def message_for(tr: Translator, exc: ApiError, *, login: bool = False) -> str:
    """What went wrong talking to the server, said plainly."""
    t = tr.t
    if isinstance(exc, RateLimited):
        minutes = minutes_to_wait(exc.retry_after)
        return t("err_rate_limited_one") if minutes == 1 else t("err_rate_limited", minutes=minutes)
    if isinstance(exc, AuthError):
        return t("err_credentials") if login else t("err_session_ended")
    if isinstance(exc, NetworkError):
        return t("err_network")
    if isinstance(exc, ServerError):
        return t("err_server")
    if isinstance(exc, ProtocolError):
        return t("err_bad_answer")
    if isinstance(exc, HttpError) and exc.code in OWN_WORDS:
        return t(OWN_WORDS[exc.code])
    if isinstance(exc, HttpError) and exc.code == "password_too_short":
        return t("acct_err_short", min=min_length_in(exc.message) or 10)
    if isinstance(exc, HttpError) and exc.message:
        return exc.message  # already localized by the server (Accept-Language)
    return t("err_unexpected")


def describe_rejection(tr: Translator, exc: ApiError) -> str:
    """Why the server refused a write from the outbox (shown beside the item, never dropped silently)."""
    if isinstance(exc, HttpError) and exc.reasons:
        # Every reason, one per line (e.g. each eligibility rule a donor fails); a message that
        # already lists them keeps only its lead.
        lead = exc.message
        if ":" in lead and all(r.message in lead for r in exc.reasons):
            lead = lead.split(":", 1)[0] + ":"
        return "\n".join([lead, *(f"• {r.message}" for r in exc.reasons)])
    if isinstance(exc, HttpError) and exc.message:
        return exc.message  # the server's reason, in the app's language
    if isinstance(exc, NotFound):
        return tr.t("err_record_gone")
    return message_for(tr, exc)
