"""Pharmacy mode without a UI: the offline verdicts with real signed tokens, the trust bundle, dispensing once.

Tokens are real EdDSA compact JWS signed by the real server's key (or by a key it
never published); the trust bundle is the server's and goes through the encrypted offline store.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import OKPKey
from sqlalchemy import select

from carnet.core.i18n import CATALOG, Translator
from carnet.core.navigation import Phase, Screen
from carnet.data.store import DB_NAME, open_store
from carnet.pharmacy.checks import LOOKS, Check, CheckKind, TrustCache, age_text, check_offline, describe, is_stale
from carnet.shell.session import AppSession
from carnet_contract import models as contract
from carnet_server.i18n import t as server_text
from carnet_server.patients.service import touch_cycle
from carnet_server.patients.tables import Cycle
from carnet_server.pharmacy.tables import Dispensation
from tests.support.inprocess_server import BASE, FaultTransport, InProcessServer
from tests.support.qr_variants import decode, flip_spare_bits, padded, server_key, with_crit
from tests.support.secret_stores import DictSecretStore

pytestmark = pytest.mark.anyio
TR = Translator("es-MX")
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # for ages and staleness
ISSUER = BASE  # the server's public URL: the QR's issuer
TRUST, VERIFY, DISPENSE = "/api/v1/pharmacy/trust", "/api/v1/pharmacy/verify", "/api/v1/pharmacy/dispensations"


def now() -> datetime:
    """The real time: the server signs tokens with it."""
    return datetime.now(UTC)


def other_key() -> OKPKey:
    """A key the server never had."""
    return OKPKey.generate_key("Ed25519")


def bundle_of(server: InProcessServer, *, revoked: list[str] | None = None) -> contract.TrustBundle:
    """The server's trust bundle (its issuer and keys) with the given revocations, made at NOW for an hour."""
    bundle = contract.TrustBundle.model_validate(server.ok("farmacia.demo", "GET", TRUST))
    assert bundle.issuer == ISSUER
    return bundle.model_copy(update={"revoked": revoked or [], "generated_at": NOW, "max_age": 3600})


def mateo_token(server: InProcessServer, **claims: object) -> str:
    return server.qr_token(server.patient_id("Mateo Hernández"), **claims)  # type: ignore[arg-type]


def dispensations(server: InProcessServer) -> list[Dispensation]:
    with server.db() as db:
        return list(db.scalars(select(Dispensation).order_by(Dispensation.dispensed_at)))


def tamper_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    i = len(signature) // 2
    return ".".join([head, payload, signature[:i] + ("B" if signature[i] != "B" else "C") + signature[i + 1:]])


def jti_of(token: str) -> str:
    import base64
    import json

    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["jti"]


# ---- the offline verdicts (pure logic) -----------------------------------------------------------


def test_genuine_token_and_full_url_are_genuine_offline(server: InProcessServer) -> None:
    token = mateo_token(server)
    for scanned in (token, f"{BASE}/v/{token}", f"  {BASE}/v/{token}\n"):
        check = check_offline(scanned, bundle_of(server), now=now())
        assert check.kind is CheckKind.GENUINE and check.valid and not check.online
        assert check.expires_at is not None and check.expires_at > now()
    assert describe(check_offline(token, bundle_of(server), now=now()), TR) == "Auténtico y vigente"


def test_tampered_signature_or_payload_is_tampered(server: InProcessServer) -> None:
    token = mateo_token(server)
    assert check_offline(tamper_signature(token), bundle_of(server), now=now()).kind is CheckKind.TAMPERED
    # Another patient's claims under this token's signature.
    head, _, signature = token.split(".")
    other_payload = server.qr_token(server.patient_id("Santiago Ramírez")).split(".")[1]
    forged = ".".join([head, other_payload, signature])
    check = check_offline(forged, bundle_of(server), now=now())
    assert check.kind is CheckKind.TAMPERED and describe(check, TR) == "Alterado: la firma no corresponde"


def test_expired_token_says_when(server: InProcessServer) -> None:
    token = mateo_token(server, issued_ago=86400 * 8, expires_in=86400 * 7)
    check = check_offline(token, bundle_of(server), now=now())
    assert check.kind is CheckKind.EXPIRED and check.expires_at is not None and check.expires_at < now()
    assert describe(check, TR) == f"Vencido el {TR.datetime(check.expires_at)}"


def test_unknown_key_and_other_issuer(server: InProcessServer) -> None:
    foreign = mateo_token(server, key=other_key(), kid="k-someone-else")
    check = check_offline(foreign, bundle_of(server), now=now())
    assert check.kind is CheckKind.UNKNOWN_KEY and describe(check, TR) == "Clave desconocida: actualice las claves"
    # The right key id but another key: a forgery, not an unknown key.
    assert check_offline(mateo_token(server, key=other_key()), bundle_of(server),
                         now=now()).kind is CheckKind.TAMPERED


def test_only_the_canonical_token_of_the_bundles_issuer_is_genuine(server: InProcessServer) -> None:
    """Genuinely signed, yet refused offline: non-canonical base64url, an unknown crit, another issuer."""
    token = mateo_token(server)
    assert check_offline(token, bundle_of(server), now=now()).kind is CheckKind.GENUINE
    key, kid = server_key(server.ctx.keys)
    claims = json.loads(decode(token.split(".")[1]))
    foreign, _ = server.ctx.keys.sign({**claims, "iss": "https://otro.example.mx"})
    for scanned, kind in ((flip_spare_bits(token), CheckKind.MALFORMED), (padded(token), CheckKind.MALFORMED),
                          (f"{BASE}/v/{padded(token)}", CheckKind.MALFORMED),
                          (with_crit(key, kid, claims), CheckKind.MALFORMED), (foreign, CheckKind.UNKNOWN_KEY)):
        check = check_offline(scanned, bundle_of(server), now=now())
        assert check.kind is kind and not check.valid, scanned


def test_revoked_token_is_refused_once_the_bundle_lists_it(server: InProcessServer) -> None:
    token = mateo_token(server)
    assert check_offline(token, bundle_of(server), now=now()).kind is CheckKind.GENUINE
    check = check_offline(token, bundle_of(server, revoked=[jti_of(token)]), now=now())
    assert check.kind is CheckKind.REVOKED and describe(check, TR) == "Revocado: el carnet fue reemplazado"


def test_a_revoked_emergency_card_is_refused_offline_from_the_servers_bundle(server: InProcessServer) -> None:
    """The family revokes the child's codes (phone lost): the emergency card's token is in the real trust bundle,
    and the counter's offline check refuses it (a new card read gives a new, genuine one)."""
    pid = server.patient_id("Mateo Hernández")
    card_path = f"/api/v1/patients/{pid}/emergency-card"
    card = contract.EmergencyCard.model_validate(server.ok("madre.demo", "GET", card_path))
    fresh = contract.TrustBundle.model_validate(server.ok("farmacia.demo", "GET", TRUST))
    assert check_offline(card.qr.url, fresh, now=now()).kind is CheckKind.EMERGENCY
    assert server.ok("madre.demo", "POST", f"/api/v1/patients/{pid}/qr/revoke")["revoked"] >= 1
    bundle = contract.TrustBundle.model_validate(server.ok("farmacia.demo", "GET", TRUST))
    assert jti_of(card.qr.token) in bundle.revoked
    check = check_offline(card.qr.url, bundle, now=now())
    assert check.kind is CheckKind.REVOKED and check.emergency and not check.valid
    assert describe(check, TR) == "Tarjeta de urgencias revocada: pide a la familia abrir la tarjeta actual"
    assert describe(check, Translator("en")) == "Emergency card revoked: ask the family to open the current card"
    again = contract.EmergencyCard.model_validate(server.ok("madre.demo", "GET", card_path))
    assert again.qr.token != card.qr.token
    assert check_offline(again.qr.url, bundle, now=now()).kind is CheckKind.EMERGENCY


@pytest.mark.parametrize("scanned", ["hola", "https://example.com/otra/cosa", "a.b", "x" * 5000,
                                     f"{BASE}/v/abc.def.ghi"])
def test_anything_else_is_not_a_carnet_code(server: InProcessServer, scanned: str) -> None:
    check = check_offline(scanned, bundle_of(server), now=now())
    assert check.kind is CheckKind.MALFORMED and describe(check, TR) == "No es un código de carnet"


def test_without_a_bundle_a_real_token_cannot_be_checked_but_junk_is_still_junk(server: InProcessServer) -> None:
    assert check_offline(mateo_token(server), None, now=now()).kind is CheckKind.NO_KEYS
    assert check_offline("hola", None, now=now()).kind is CheckKind.MALFORMED


def test_every_verdict_has_a_look_and_words_in_both_languages() -> None:
    en = Translator("en")
    for kind in CheckKind:
        look = LOOKS[kind]
        assert look.colour.startswith("#") and look.background.startswith("#") and look.icon
        assert f"ph_kind.{kind.value}" in CATALOG["es-MX"] and f"ph_kind.{kind.value}" in CATALOG["en"]
        assert describe(Check(kind), TR) != describe(Check(kind), en)
    assert LOOKS[CheckKind.GENUINE].colour != LOOKS[CheckKind.TAMPERED].colour
    assert LOOKS[CheckKind.EXPIRED].colour != LOOKS[CheckKind.TAMPERED].colour  # orange, not red


def test_bundle_age_and_staleness(server: InProcessServer) -> None:
    bundle = bundle_of(server)
    assert is_stale(None, None, NOW) and is_stale(bundle, None, NOW)
    assert not is_stale(bundle, NOW - timedelta(minutes=59), NOW)
    assert is_stale(bundle, NOW - timedelta(minutes=60), NOW)
    assert age_text(TR, NOW - timedelta(seconds=20), NOW) == "Claves actualizadas hace menos de 1 min"
    assert age_text(TR, NOW - timedelta(minutes=3, seconds=5), NOW) == "Claves actualizadas hace 3 min"
    assert age_text(TR, NOW - timedelta(hours=5), NOW) == "Claves actualizadas hace 5 h"
    assert age_text(TR, NOW - timedelta(days=2), NOW) == "Claves actualizadas hace 2 días"
    assert age_text(TR, None, NOW).startswith("No hay claves guardadas")
    assert age_text(Translator("en"), NOW - timedelta(minutes=3), NOW) == "Keys updated 3 min ago"


async def test_bundle_is_kept_encrypted_in_the_store(server: InProcessServer, tmp_path: Path) -> None:
    secrets = DictSecretStore()
    store = (await open_store(secrets, tmp_path)).store
    cache = TrustCache(store)
    assert cache.load() is None
    cache.save(bundle_of(server, revoked=["j-revoked-1"]), fetched_at=NOW)
    loaded = cache.load()
    assert loaded is not None and loaded[0].revoked == ["j-revoked-1"] and loaded[1] == NOW
    store.close()
    raw = (tmp_path / DB_NAME).read_bytes()
    assert b"j-revoked-1" not in raw and b"api.test" not in raw  # sealed, not plain
    reopened = (await open_store(secrets, tmp_path)).store
    assert TrustCache(reopened).load() is not None  # survives a restart
    reopened.close()


# ---- the counter's use cases against the server -----------------------------------------------------


async def _counter(make_session, username: str = "farmacia.demo", **kwargs: object) -> AppSession:
    session = make_session(DictSecretStore(), **kwargs)
    await session.start()
    await session.login(username, "carnet-demo")
    return session


async def test_login_opens_the_counter_and_fetches_the_keys(make_session, server: InProcessServer,
                                                            net: FaultTransport) -> None:
    session = await _counter(make_session)
    state, ui = session.state, session.state.pharmacy
    assert state.phase is Phase.READY and state.screen is Screen.PHARMACY and state.pharmacy_mode
    assert net.count(TRUST) == 1 and ui.trust is not None and ui.trust.issuer == ISSUER
    assert [k["kid"] for k in ui.trust.keys] == [k["kid"] for k in server.ctx.keys.jwks()["keys"]]
    assert ui.trust_fetched_at is not None and ui.check is None
    await session.close()


async def test_admin_gets_the_counter_too(make_session) -> None:
    session = await _counter(make_session, "admin.demo")
    assert session.state.screen is Screen.PHARMACY and session.state.pharmacy.trust is not None
    await session.close()


def choose_first_open(ph) -> None:  # type: ignore[no-untyped-def]
    """The pharmacist picks the first open cycle (the demo's next cycles are days away: none is chosen by itself)."""
    assert ph.selected_cycle() is None
    ph.pick_cycle(ph.open_cycles()[0].id)


def due_cycles_of(server: InProcessServer, display_name: str) -> list[Cycle]:
    """The cycles a child's QR names (the next ones due), as the server has them, drugs loaded."""
    from carnet_server.db import utcnow
    from carnet_server.patients.service import due_cycles

    with server.db() as db:
        cycles = due_cycles(db, patient_id=server.patient_id(display_name), today=server.ctx.today(utcnow()))
        for cycle in cycles:
            list(cycle.drugs)
        return cycles


async def test_scan_verify_dispense_once_then_the_cycle_shows_dispensed(make_session, server: InProcessServer) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    first_due = due_cycles_of(server, "Mateo Hernández")[0]
    drugs = {d.name for d in first_due.drugs}
    url = f"{BASE}/v/{mateo_token(server, cyc=[first_due.id])}"  # a QR naming the next cycle only
    await ph.scan(url)
    assert ui.check is not None and ui.check.kind is CheckKind.GENUINE and ui.check.online
    assert ui.verified is not None and ui.verified.patient is not None
    assert ui.verified.patient.display_name == "Mateo Hernández"
    # In three days, not today: shown, not chosen, nothing to send until the pharmacist picks it.
    assert first_due.scheduled_for > server.ctx.today(now())
    assert [c.id for c in ph.cycles()] == [first_due.id] and ui.cycle_id is None and not ph.can_dispense()
    ph.pick_cycle(first_due.id)
    assert ui.cycle_id == first_due.id
    assert ui.items == drugs and "Vincristina" in drugs and len(drugs) > 1
    # Nothing is sent without the confirm step.
    await ph.dispense()
    assert dispensations(server) == []
    for name in drugs - {"Vincristina"}:
        ph.toggle_item(name, False)
    ph.toggle_item("Not a drug of this cycle", True)
    assert ui.items == {"Vincristina"}
    ph.ask_confirm()
    assert ui.confirming
    await ph.dispense()
    assert ui.error is None
    [done] = dispensations(server)
    assert done.cycle_id == first_due.id and [d["name"] for d in done.items] == ["Vincristina"]
    assert ui.message == f"Surtido registrado: ciclo {first_due.number}, el {TR.datetime(done.dispensed_at)}."
    assert ph.dispensed(first_due.id) is not None and not ph.open_cycles() and not ph.can_dispense()

    # Scanned again: the server says who and when; nothing can be sent for that cycle.
    await ph.scan(url)
    first = ph.dispensed(first_due.id)
    assert first is not None and first.dispensed_by == done.dispensed_by_label == "Q.F.B. Laura Méndez"
    assert ui.cycle_id is None
    ph.ask_confirm()
    await ph.dispense()
    assert [d.cycle_id for d in dispensations(server)].count(first_due.id) == 1 and not ui.confirming
    await session.close()


async def test_second_counter_gets_409_with_who_and_when(make_session, server: InProcessServer) -> None:
    one, two = await _counter(make_session), await _counter(make_session, "admin.demo")
    url = server.carnet_qr(server.patient_id("Valentina Hernández"))["url"]
    await one.pharmacy.scan(url)
    await two.pharmacy.scan(url)  # both counters see the same next cycle open
    choose_first_open(one.pharmacy)
    choose_first_open(two.pharmacy)
    assert one.state.pharmacy.cycle_id == two.state.pharmacy.cycle_id is not None
    cycle_id = one.state.pharmacy.cycle_id
    one.pharmacy.ask_confirm()
    await one.pharmacy.dispense()
    two.pharmacy.ask_confirm()
    await two.pharmacy.dispense()
    [row] = dispensations(server)
    first = one.pharmacy.dispensed(cycle_id)
    ui = two.state.pharmacy
    assert ui.message is None and row.cycle_id == cycle_id and first is not None and first.id == row.id
    assert ui.error == (f"Este ciclo ya se surtió el {TR.datetime(row.dispensed_at)} por Q.F.B. Laura Méndez. "
                        "No se registró nada.")
    assert two.pharmacy.dispensed(cycle_id) == first and two.state.pharmacy.cycle_id != cycle_id
    await one.close()
    await two.close()


async def test_other_refusals_show_the_servers_words_and_record_nothing(make_session, server: InProcessServer) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    await ph.scan(server.carnet_qr(server.patient_id("Mateo Hernández"))["url"])
    choose_first_open(ph)
    with server.db() as db:  # meanwhile the oncology team postponed the cycle
        cycle = db.get_one(Cycle, ui.cycle_id)
        cycle.status = "diferido"
        touch_cycle(db, cycle)
        db.commit()
    ph.ask_confirm()
    await ph.dispense()
    assert ui.error == server_text("cycle_not_dispensable", "es") and dispensations(server) == []
    assert ui.unsent is None and ui.message is None
    await session.close()


async def test_offline_the_verdict_stands_and_dispensing_is_not_offered(make_session, server: InProcessServer,
                                                                        net: FaultTransport) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    token = mateo_token(server)
    net.offline = True
    await ph.scan(f"{BASE}/v/{token}")
    assert ui.check is not None and ui.check.kind is CheckKind.GENUINE and not ui.check.online
    assert ui.offline and ui.verified is None and not ph.can_dispense()
    await ph.scan(tamper_signature(token))
    assert ui.check.kind is CheckKind.TAMPERED and ui.verified is None
    # Back online: the same scan gets the server's data.
    net.offline = False
    await ph.scan(token)
    choose_first_open(ph)
    assert not ui.offline and ui.verified is not None and ph.can_dispense()
    await session.close()


async def test_no_keys_and_offline_says_so(make_session, server: InProcessServer, net: FaultTransport) -> None:
    token = mateo_token(server)

    def no_trust(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.startswith("/api/v1/pharmacy/"):
            raise httpx.ConnectError("down", request=request)
        return None

    net.override = no_trust
    session = await _counter(make_session)
    ui = session.state.pharmacy
    assert ui.trust is None and ui.trust_error == TR.t("ph_keys_offline")
    await session.pharmacy.scan(token)
    assert ui.check is not None and ui.check.kind is CheckKind.NO_KEYS and ui.offline
    assert describe(ui.check, TR) == "No se puede comprobar: no hay claves en este equipo"
    await session.close()


async def test_revocation_fails_at_once_online_and_offline_after_the_next_refresh(make_session,
                                                                                  server: InProcessServer,
                                                                                  net: FaultTransport) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    mateo = server.patient_id("Mateo Hernández")
    token = server.carnet_qr(mateo)["token"]
    # The family replaced the carnet (a lost phone): its QR tokens are revoked on the server.
    assert server.ok("madre.demo", "POST", f"/api/v1/patients/{mateo}/qr/revoke")["revoked"] >= 1
    # Online: at once (the server knows), though the cached bundle predates the revocation.
    await ph.scan(token)
    assert ui.check is not None and ui.check.kind is CheckKind.REVOKED and ui.check.online
    assert ui.verified is not None and not ph.cycles() and not ph.can_dispense()
    # Offline with the old bundle: still looks genuine…
    net.offline = True
    await ph.scan(token)
    assert ui.check.kind is CheckKind.GENUINE and not ui.check.online
    # …until the next key refresh.
    net.offline = False
    assert await ph.refresh_keys()
    net.offline = True
    await ph.scan(token)
    assert ui.check.kind is CheckKind.REVOKED and not ui.check.online
    await session.close()


async def test_refused_tokens_offline_and_online(make_session, server: InProcessServer, net: FaultTransport) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    good = mateo_token(server)
    cases = {
        CheckKind.TAMPERED: tamper_signature(good),
        CheckKind.EXPIRED: mateo_token(server, issued_ago=86400 * 8, expires_in=86400 * 7),
        CheckKind.UNKNOWN_KEY: mateo_token(server, key=other_key(), kid="k-other"),
    }
    for kind, token in cases.items():
        net.offline = True
        await ph.scan(token)
        assert ui.check is not None and ui.check.kind is kind and not ui.check.online, kind
        net.offline = False
        await ph.scan(token)
        assert ui.check.kind is kind and ui.check.online and not ph.can_dispense(), kind
        assert ui.verified is not None and ui.verified.patient is None
    before = net.count(VERIFY)
    await ph.scan("no es un carnet")
    assert ui.check.kind is CheckKind.MALFORMED and net.count(VERIFY) == before  # never sent
    await ph.scan("   ")
    assert ui.check.kind is CheckKind.MALFORMED  # an empty scan changes nothing
    await session.close()


async def test_a_stale_bundle_is_refreshed_on_the_next_scan_and_by_the_periodic_sync(make_session,
                                                                                    server: InProcessServer,
                                                                                    net: FaultTransport) -> None:
    clock = [datetime.now(UTC)]
    max_age = server.ctx.settings.trust_max_age_seconds  # what the server's bundle says
    session = await _counter(make_session, clock=lambda: clock[0])
    ph = session.pharmacy
    assert net.count(TRUST) == 1 and session.state.pharmacy.trust.max_age == max_age  # type: ignore[union-attr]
    await ph.scan(mateo_token(server))
    await session.refresh()
    assert net.count(TRUST) == 1  # fresh: not fetched again
    clock[0] += timedelta(seconds=max_age + 1)
    await ph.scan(mateo_token(server))
    assert net.count(TRUST) == 2
    clock[0] += timedelta(seconds=max_age + 1)
    await session.refresh()  # what run_periodic_sync calls
    assert net.count(TRUST) == 3
    await session.close()


async def test_the_cached_bundle_serves_the_next_login_when_the_network_is_down(make_session, secrets,
                                                                                server: InProcessServer,
                                                                                net: FaultTransport) -> None:
    first = make_session(secrets)
    await first.start()
    await first.login("farmacia.demo", "carnet-demo")
    await first.logout()
    await first.close()

    def trust_down(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/api/v1/pharmacy/trust":
            raise httpx.ConnectError("down", request=request)
        return None

    net.override = trust_down
    second = make_session(secrets)
    await second.start()
    await second.login("farmacia.demo", "carnet-demo")
    ui = second.state.pharmacy
    fetched_at = ui.trust_fetched_at
    assert ui.trust is not None and fetched_at is not None and ui.trust_error == TR.t("ph_keys_offline")
    net.offline = True
    await second.pharmacy.scan(mateo_token(server))
    assert ui.check is not None and ui.check.kind is CheckKind.GENUINE
    await second.close()


async def test_a_lost_answer_is_sent_again_with_the_same_key_and_recorded_once(make_session,
                                                                               server: InProcessServer,
                                                                               net: FaultTransport) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    await ph.scan(server.carnet_qr(server.patient_id("Camila Torres"))["url"])  # a child of the counter's unit
    choose_first_open(ph)
    # Recorded by the server… but the answer is lost.
    net.lose_answer("POST", DISPENSE, outcome=httpx.ReadError("connection reset"))
    ph.ask_confirm()
    await ph.dispense()
    assert ui.error == TR.t("ph_dispense_unsent") and ui.unsent is not None
    assert len(dispensations(server)) == 1
    ph.ask_confirm()
    await ph.dispense()
    keys = [r.headers.get("Idempotency-Key") for r in net.requests if r.url.path == DISPENSE]
    assert len(keys) == 2 and keys[0] == keys[1] and len(dispensations(server)) == 1
    assert ui.error is None and ui.message is not None and ui.message.startswith("Surtido registrado")
    await session.close()


async def test_logout_forgets_the_patient_and_the_store_holds_only_the_public_bundle(
        make_session, data_dir: Path, server: InProcessServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    session = await _counter(make_session)
    ph = session.pharmacy
    token = mateo_token(server)
    await ph.scan(token)
    choose_first_open(ph)
    ph.ask_confirm()
    await ph.dispense()
    assert session.state.pharmacy.verified is not None and session.state.pharmacy.recorded
    await session.logout()
    ui = session.state.pharmacy
    assert session.state.phase is Phase.LOGIN
    assert ui.token is None and ui.verified is None and ui.check is None and not ui.recorded
    with sqlite3.connect(data_dir / DB_NAME) as db:
        rows = db.execute("SELECT user_id, kind FROM records").fetchall()
        assert rows == [("_device", "trust_bundle")]
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)
    assert all(token not in r.getMessage() and "Mateo" not in r.getMessage() for r in caplog.records)
    await session.close()


async def test_session_end_on_the_counter_goes_back_to_login(make_session, server: InProcessServer) -> None:
    session = await _counter(make_session)
    await session.pharmacy.scan(mateo_token(server))
    server.revoke_all("farmacia.demo")
    await session.pharmacy.scan(mateo_token(server))
    assert session.state.phase is Phase.LOGIN
    assert session.state.login_error == "Tu sesión terminó. Inicia sesión de nuevo."
    assert session.state.pharmacy.token is None
    await session.close()
