"""Pharmacy mode without a UI: the offline verdicts with real signed tokens, the trust bundle, dispensing once.

Tokens are real EdDSA compact JWS signed by the fake API's key (or by a key it
never published); the trust bundle goes through the encrypted offline store.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carnet.core.i18n import CATALOG, Translator
from carnet.pharmacy.checks import LOOKS, Check, CheckKind, TrustCache, age_text, check_offline, describe, is_stale
from carnet.shell.session import AppSession
from carnet.core.navigation import Phase, Screen
from carnet.data.store import DB_NAME, open_store
from carnet_contract import models as contract

from tests.support.secret_stores import DictSecretStore
from .fake_api import BASE, ISSUER, FakeApi

pytestmark = pytest.mark.anyio
TR = Translator("es-MX")
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # for ages and staleness


def now() -> datetime:
    """The real time: the fake API signs tokens with it."""
    return datetime.now(UTC)


def bundle_of(fake_api: FakeApi, *, revoked: list[str] | None = None) -> contract.TrustBundle:
    return contract.TrustBundle(issuer=ISSUER, keys=list(fake_api.jwks()["keys"]), revoked=revoked or [],
                                generated_at=NOW, max_age=3600)


def tamper_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    i = len(signature) // 2
    return ".".join([head, payload, signature[:i] + ("B" if signature[i] != "B" else "C") + signature[i + 1:]])


def jti_of(token: str) -> str:
    import base64
    import json

    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["jti"]


# ---- the offline verdicts (pure logic) -----------------------------------------------------------


def test_genuine_token_and_full_url_are_genuine_offline() -> None:
    fake = FakeApi()
    token = fake.sign("p-mateo")
    for scanned in (token, f"{BASE}/v/{token}", f"  {BASE}/v/{token}\n"):
        check = check_offline(scanned, bundle_of(fake), now=now())
        assert check.kind is CheckKind.GENUINE and check.valid and not check.online
        assert check.expires_at is not None and check.expires_at > now()
    assert describe(check_offline(token, bundle_of(fake), now=now()), TR) == "Auténtico y vigente"


def test_tampered_signature_or_payload_is_tampered() -> None:
    fake = FakeApi()
    token = fake.sign("p-mateo")
    assert check_offline(tamper_signature(token), bundle_of(fake), now=now()).kind is CheckKind.TAMPERED
    # Another patient's claims under this token's signature.
    head, _, signature = token.split(".")
    other_payload = fake.sign("p-santiago").split(".")[1]
    forged = ".".join([head, other_payload, signature])
    check = check_offline(forged, bundle_of(fake), now=now())
    assert check.kind is CheckKind.TAMPERED and describe(check, TR) == "Alterado: la firma no corresponde"


def test_expired_token_says_when() -> None:
    fake = FakeApi()
    token = fake.sign("p-mateo", issued_ago=86400 * 8, expires_in=86400 * 7)
    check = check_offline(token, bundle_of(fake), now=now())
    assert check.kind is CheckKind.EXPIRED and check.expires_at is not None and check.expires_at < now()
    assert describe(check, TR) == f"Vencido el {TR.datetime(check.expires_at)}"


def test_unknown_key_and_other_issuer() -> None:
    fake = FakeApi()
    foreign = fake.sign("p-mateo", key=Ed25519PrivateKey.generate(), kid="k-someone-else")
    check = check_offline(foreign, bundle_of(fake), now=now())
    assert check.kind is CheckKind.UNKNOWN_KEY and describe(check, TR) == "Clave desconocida: actualice las claves"
    # The right key id but another key: a forgery, not an unknown key.
    assert check_offline(fake.sign("p-mateo", key=Ed25519PrivateKey.generate()), bundle_of(fake),
                         now=now()).kind is CheckKind.TAMPERED


def test_revoked_token_is_refused_once_the_bundle_lists_it() -> None:
    fake = FakeApi()
    token = fake.sign("p-mateo")
    assert check_offline(token, bundle_of(fake), now=now()).kind is CheckKind.GENUINE
    check = check_offline(token, bundle_of(fake, revoked=[jti_of(token)]), now=now())
    assert check.kind is CheckKind.REVOKED and describe(check, TR) == "Revocado: el carnet fue reemplazado"


@pytest.mark.parametrize("scanned", ["hola", "https://example.com/otra/cosa", "a.b", "x" * 5000,
                                     f"{BASE}/v/abc.def.ghi"])
def test_anything_else_is_not_a_carnet_code(scanned: str) -> None:
    fake = FakeApi()
    check = check_offline(scanned, bundle_of(fake), now=now())
    assert check.kind is CheckKind.MALFORMED and describe(check, TR) == "No es un código de carnet"


def test_without_a_bundle_a_real_token_cannot_be_checked_but_junk_is_still_junk() -> None:
    fake = FakeApi()
    assert check_offline(fake.sign("p-mateo"), None, now=now()).kind is CheckKind.NO_KEYS
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


def test_bundle_age_and_staleness() -> None:
    fake = FakeApi()
    bundle = bundle_of(fake)
    assert is_stale(None, None, NOW) and is_stale(bundle, None, NOW)
    assert not is_stale(bundle, NOW - timedelta(minutes=59), NOW)
    assert is_stale(bundle, NOW - timedelta(minutes=60), NOW)
    assert age_text(TR, NOW - timedelta(seconds=20), NOW) == "Claves actualizadas hace menos de 1 min"
    assert age_text(TR, NOW - timedelta(minutes=3, seconds=5), NOW) == "Claves actualizadas hace 3 min"
    assert age_text(TR, NOW - timedelta(hours=5), NOW) == "Claves actualizadas hace 5 h"
    assert age_text(TR, NOW - timedelta(days=2), NOW) == "Claves actualizadas hace 2 días"
    assert age_text(TR, None, NOW).startswith("No hay claves guardadas")
    assert age_text(Translator("en"), NOW - timedelta(minutes=3), NOW) == "Keys updated 3 min ago"


async def test_bundle_is_kept_encrypted_in_the_store(tmp_path: Path) -> None:
    fake = FakeApi()
    secrets = DictSecretStore()
    store = (await open_store(secrets, tmp_path)).store
    cache = TrustCache(store)
    assert cache.load() is None
    cache.save(bundle_of(fake, revoked=["j-revoked-1"]), fetched_at=NOW)
    loaded = cache.load()
    assert loaded is not None and loaded[0].revoked == ["j-revoked-1"] and loaded[1] == NOW
    store.close()
    raw = (tmp_path / DB_NAME).read_bytes()
    assert b"j-revoked-1" not in raw and b"api.test" not in raw  # sealed, not plain
    reopened = (await open_store(secrets, tmp_path)).store
    assert TrustCache(reopened).load() is not None  # survives a restart
    reopened.close()


# ---- the counter's use cases against the fake API --------------------------------------------------


async def _counter(make_session, username: str = "farmacia.demo", **kwargs: object) -> AppSession:
    session = make_session(DictSecretStore(), **kwargs)
    await session.start()
    await session.login(username, "carnet-demo")
    return session


async def test_login_opens_the_counter_and_fetches_the_keys(make_session, fake_api: FakeApi) -> None:
    session = await _counter(make_session)
    state, ui = session.state, session.state.pharmacy
    assert state.phase is Phase.READY and state.screen is Screen.PHARMACY and state.pharmacy_mode
    assert fake_api.pharmacy.trust_fetches == 1 and ui.trust is not None and ui.trust.issuer == ISSUER
    assert ui.trust_fetched_at is not None and ui.check is None
    await session.close()


async def test_admin_gets_the_counter_too(make_session, fake_api: FakeApi) -> None:
    session = await _counter(make_session, "admin.demo")
    assert session.state.screen is Screen.PHARMACY and session.state.pharmacy.trust is not None
    await session.close()


async def test_scan_verify_dispense_once_then_the_cycle_shows_dispensed(make_session, fake_api: FakeApi) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    url = fake_api.carnet("p-mateo").qr.url
    await ph.scan(url)
    assert ui.check is not None and ui.check.kind is CheckKind.GENUINE and ui.check.online
    assert ui.verified is not None and ui.verified.patient is not None
    assert ui.verified.patient.display_name == "Mateo Hernández"
    assert [c.id for c in ph.cycles()] == ["c2"] and ui.cycle_id == "c2"
    assert ui.items == {"Vincristina", "Metotrexato"}
    # Nothing is sent without the confirm step.
    await ph.dispense()
    assert fake_api.pharmacy.created == 0
    ph.toggle_item("Metotrexato", False)
    ph.toggle_item("Not a drug of this cycle", True)
    assert ui.items == {"Vincristina"}
    ph.ask_confirm()
    assert ui.confirming
    await ph.dispense()
    assert fake_api.pharmacy.created == 1 and ui.error is None
    [done] = fake_api.pharmacy.dispensed.values()
    assert [d.name for d in done.items] == ["Vincristina"]
    assert ui.message == f"Surtido registrado: ciclo 2, el {TR.datetime(done.dispensed_at)}."
    assert ph.dispensed("c2") is not None and not ph.open_cycles() and not ph.can_dispense()

    # Scanned again: the server says who and when; nothing can be sent for that cycle.
    await ph.scan(url)
    first = ph.dispensed("c2")
    assert first is not None and first.dispensed_by == "Farmacia UMAE" and ui.cycle_id is None
    ph.ask_confirm()
    await ph.dispense()
    assert fake_api.pharmacy.created == 1 and not ui.confirming
    await session.close()


async def test_second_counter_gets_409_with_who_and_when(make_session, fake_api: FakeApi) -> None:
    one, two = await _counter(make_session), await _counter(make_session, "admin.demo")
    url = fake_api.carnet("p-valentina").qr.url
    await one.pharmacy.scan(url)
    await two.pharmacy.scan(url)  # both counters see cycle 2 open
    one.pharmacy.ask_confirm()
    await one.pharmacy.dispense()
    two.pharmacy.ask_confirm()
    await two.pharmacy.dispense()
    [first] = fake_api.pharmacy.dispensed.values()
    ui = two.state.pharmacy
    assert fake_api.pharmacy.created == 1 and ui.message is None
    assert ui.error == (f"Este ciclo ya se surtió el {TR.datetime(first.dispensed_at)} por Farmacia UMAE. "
                        "No se registró nada.")
    assert two.pharmacy.dispensed("c2") == first and not two.pharmacy.can_dispense()
    await one.close()
    await two.close()


async def test_other_refusals_show_the_servers_words_and_record_nothing(make_session, fake_api: FakeApi) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    await ph.scan(fake_api.carnet("p-mateo").qr.url)

    def refuse(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/api/v1/pharmacy/dispensations":
            return FakeApi.error(409, "cycle_not_dispensable", "El ciclo fue cancelado: no se puede surtir.")
        return None

    fake_api.override = refuse
    ph.ask_confirm()
    await ph.dispense()
    assert ui.error == "El ciclo fue cancelado: no se puede surtir." and fake_api.pharmacy.created == 0
    assert ui.unsent is None and ui.message is None
    await session.close()


async def test_offline_the_verdict_stands_and_dispensing_is_not_offered(make_session, fake_api: FakeApi) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    token = fake_api.sign("p-mateo")
    fake_api.offline = True
    await ph.scan(f"{BASE}/v/{token}")
    assert ui.check is not None and ui.check.kind is CheckKind.GENUINE and not ui.check.online
    assert ui.offline and ui.verified is None and not ph.can_dispense()
    await ph.scan(tamper_signature(token))
    assert ui.check.kind is CheckKind.TAMPERED and ui.verified is None
    # Back online: the same scan gets the server's data.
    fake_api.offline = False
    await ph.scan(token)
    assert not ui.offline and ui.verified is not None and ph.can_dispense()
    await session.close()


async def test_no_keys_and_offline_says_so(make_session, fake_api: FakeApi) -> None:
    token = fake_api.sign("p-mateo")

    def no_trust(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.startswith("/api/v1/pharmacy/"):
            raise httpx.ConnectError("down", request=request)
        return None

    fake_api.override = no_trust
    session = await _counter(make_session)
    ui = session.state.pharmacy
    assert ui.trust is None and ui.trust_error == TR.t("ph_keys_offline")
    await session.pharmacy.scan(token)
    assert ui.check is not None and ui.check.kind is CheckKind.NO_KEYS and ui.offline
    assert describe(ui.check, TR) == "No se puede comprobar: no hay claves en este equipo"
    await session.close()


async def test_revocation_fails_at_once_online_and_offline_after_the_next_refresh(make_session,
                                                                                  fake_api: FakeApi) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    token = fake_api.sign("p-mateo")
    fake_api.pharmacy.revoke_patient("p-mateo", token)
    # Online: at once (the server knows), though the cached bundle predates the revocation.
    await ph.scan(token)
    assert ui.check is not None and ui.check.kind is CheckKind.REVOKED and ui.check.online
    assert ui.verified is not None and not ph.cycles() and not ph.can_dispense()
    # Offline with the old bundle: still looks genuine…
    fake_api.offline = True
    await ph.scan(token)
    assert ui.check.kind is CheckKind.GENUINE and not ui.check.online
    # …until the next key refresh.
    fake_api.offline = False
    assert await ph.refresh_keys()
    fake_api.offline = True
    await ph.scan(token)
    assert ui.check.kind is CheckKind.REVOKED and not ui.check.online
    await session.close()


async def test_refused_tokens_offline_and_online(make_session, fake_api: FakeApi) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    good = fake_api.sign("p-mateo")
    cases = {
        CheckKind.TAMPERED: tamper_signature(good),
        CheckKind.EXPIRED: fake_api.sign("p-mateo", issued_ago=86400 * 8, expires_in=86400 * 7),
        CheckKind.UNKNOWN_KEY: fake_api.sign("p-mateo", key=Ed25519PrivateKey.generate(), kid="k-other"),
    }
    for kind, token in cases.items():
        fake_api.offline = True
        await ph.scan(token)
        assert ui.check is not None and ui.check.kind is kind and not ui.check.online, kind
        fake_api.offline = False
        await ph.scan(token)
        assert ui.check.kind is kind and ui.check.online and not ph.can_dispense(), kind
        assert ui.verified is not None and ui.verified.patient is None
    before = fake_api.pharmacy.verifies
    await ph.scan("no es un carnet")
    assert ui.check.kind is CheckKind.MALFORMED and fake_api.pharmacy.verifies == before  # never sent
    await ph.scan("   ")
    assert ui.check.kind is CheckKind.MALFORMED  # an empty scan changes nothing
    await session.close()


async def test_a_stale_bundle_is_refreshed_on_the_next_scan_and_by_the_periodic_sync(make_session,
                                                                                    fake_api: FakeApi) -> None:
    clock = [datetime.now(UTC)]
    session = await _counter(make_session, clock=lambda: clock[0])
    ph = session.pharmacy
    assert fake_api.pharmacy.trust_fetches == 1
    await ph.scan(fake_api.sign("p-mateo"))
    await session.refresh()
    assert fake_api.pharmacy.trust_fetches == 1  # fresh: not fetched again
    clock[0] += timedelta(seconds=fake_api.pharmacy.MAX_AGE + 1)
    await ph.scan(fake_api.sign("p-mateo"))
    assert fake_api.pharmacy.trust_fetches == 2
    clock[0] += timedelta(seconds=fake_api.pharmacy.MAX_AGE + 1)
    await session.refresh()  # what run_periodic_sync calls
    assert fake_api.pharmacy.trust_fetches == 3
    await session.close()


async def test_the_cached_bundle_serves_the_next_login_when_the_network_is_down(make_session, secrets,
                                                                                fake_api: FakeApi) -> None:
    first = make_session(secrets)
    await first.start()
    await first.login("farmacia.demo", "carnet-demo")
    await first.logout()
    await first.close()

    def trust_down(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/api/v1/pharmacy/trust":
            raise httpx.ConnectError("down", request=request)
        return None

    fake_api.override = trust_down
    second = make_session(secrets)
    await second.start()
    await second.login("farmacia.demo", "carnet-demo")
    ui = second.state.pharmacy
    fetched_at = ui.trust_fetched_at
    assert ui.trust is not None and fetched_at is not None and ui.trust_error == TR.t("ph_keys_offline")
    fake_api.offline = True
    await second.pharmacy.scan(fake_api.sign("p-mateo"))
    assert ui.check is not None and ui.check.kind is CheckKind.GENUINE
    await second.close()


async def test_a_lost_answer_is_sent_again_with_the_same_key_and_recorded_once(make_session,
                                                                               fake_api: FakeApi) -> None:
    session = await _counter(make_session)
    ph, ui = session.pharmacy, session.state.pharmacy
    await ph.scan(fake_api.carnet("p-santiago").qr.url)
    keys: list[str | None] = []

    def lose_first_answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/api/v1/pharmacy/dispensations":
            keys.append(request.headers.get("Idempotency-Key"))
            if len(keys) == 1:
                fake_api.pharmacy.handle(request, "pharmacy", "Farmacia UMAE")  # recorded…
                raise httpx.ReadError("connection reset", request=request)  # …but the answer is lost
        return None

    fake_api.override = lose_first_answer
    ph.ask_confirm()
    await ph.dispense()
    assert ui.error == TR.t("ph_dispense_unsent") and ui.unsent is not None
    ph.ask_confirm()
    await ph.dispense()
    assert keys[0] == keys[1] and fake_api.pharmacy.created == 1
    assert ui.error is None and ui.message is not None and ui.message.startswith("Surtido registrado")
    await session.close()


async def test_logout_forgets_the_patient_and_the_store_holds_only_the_public_bundle(
        make_session, data_dir: Path, fake_api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    session = await _counter(make_session)
    ph = session.pharmacy
    token = fake_api.sign("p-mateo")
    await ph.scan(token)
    ph.ask_confirm()
    await ph.dispense()
    assert session.state.pharmacy.verified is not None
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


async def test_session_end_on_the_counter_goes_back_to_login(make_session, fake_api: FakeApi) -> None:
    session = await _counter(make_session)
    await session.pharmacy.scan(fake_api.sign("p-mateo"))
    fake_api.revoke_all()
    await session.pharmacy.scan(fake_api.sign("p-mateo"))
    assert session.state.phase is Phase.LOGIN
    assert session.state.login_error == "Tu sesión terminó. Inicia sesión de nuevo."
    assert session.state.pharmacy.token is None
    await session.close()
