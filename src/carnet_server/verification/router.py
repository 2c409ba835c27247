"""Routes that check carnet QR codes, and the public keys that make it possible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from carnet_contract import models as contract
from carnet_server import audit
from carnet_server.auth.deps import AdminOrPharmacy, ClientAddress, ContextDep, LangDep, SessionDep
from carnet_server.routes import api_router
from carnet_server.verification import service
from carnet_server.verification.page import page_context

router = api_router(tags=["verification"])

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


@router.get("/.well-known/jwks.json", response_model=None)
def jwks(ctx: ContextDep) -> JSONResponse:
    """The public keys that sign carnet QR codes (old ones stay after a rotation)."""
    return JSONResponse(ctx.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.get("/v/{token}", response_class=HTMLResponse, include_in_schema=False)
def verify_page(token: str, request: Request, session: SessionDep, ctx: ContextDep, lang: LangDep) -> HTMLResponse:
    """The page any phone camera opens from the QR: genuine or not, and what is due."""
    result = service.verify(session, ctx=ctx, token_or_url=token)
    html = _templates.get_template("verify.html").render(**page_context(result, lang, ctx.tz))
    return HTMLResponse(
        html,
        headers={
            "Cache-Control": "no-store",
            "Content-Language": "en" if lang == "en" else "es-MX",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": contract.ErrorBody} for code in (401, 403, 422)}


@router.post("/api/v1/pharmacy/verify", response_model=contract.VerifyResponse, responses=_ERRORS, tags=["pharmacy"])
def pharmacy_verify(
    body: contract.VerifyRequest,
    user: AdminOrPharmacy,
    session: SessionDep,
    ctx: ContextDep,
    lang: LangDep,
    address: ClientAddress,
) -> contract.VerifyResponse:
    """Verify a scanned carnet QR (the token or the whole URL); any unit's pharmacy may (dispensing: own units)."""
    result = service.verify(session, ctx=ctx, token_or_url=body.token)
    audit.record(
        session,
        action="pharmacy.verify",
        actor_id=user.id,
        actor_role=user.role,
        ip=address,
        object_type="patient" if result.patient else None,
        object_id=result.patient.id if result.patient else None,
        detail={"valid": result.valid, "reason": result.reason.value if result.reason else None, "jti": result.jti},
    )
    session.commit()
    return service.to_response(result, lang)
