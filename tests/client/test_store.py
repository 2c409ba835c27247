"""The offline store: AES-GCM at rest, key only in the secret store, unreadable cache wiped."""

from __future__ import annotations

import base64
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carnet.data.secret_store import MemorySecretStore
from carnet.data.store import (
    DB_NAME,
    KEY_SECRET,
    OfflineStore,
    UnreadableStore,
    default_data_dir,
    destroy_store,
    open_store,
)
from tests.support.inprocess_server import InProcessServer
from tests.support.secret_stores import DictSecretStore

pytestmark = pytest.mark.anyio

WHEN = datetime(2026, 11, 22, 16, 15, tzinfo=UTC)


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


async def test_roundtrip_and_nothing_readable_on_disk(tmp_path: Path, server: InProcessServer) -> None:
    secrets = DictSecretStore()
    opened = await open_store(secrets, tmp_path)
    assert not opened.wiped
    carnet = server.ok("madre.demo", "GET", f"/api/v1/patients/{server.patient_id('Mateo Hernández')}/carnet")
    opened.store.put("u1", "carnet", "p-mateo", carnet, fetched_at=WHEN)
    record = opened.store.get("u1", "carnet", "p-mateo")
    assert record is not None and record.value == carnet and record.fetched_at == WHEN
    assert opened.store.get("u1", "carnet", "other") is None
    opened.store.close()

    raw = _all_bytes(tmp_path)
    patient = carnet["patient"]
    for secret in (patient["nss"], "Mateo", patient["curp"], "Leucemia", "Vincristina"):
        assert secret in str(carnet)
    for secret in (patient["nss"], "Mateo", patient["curp"], "Leucemia", "Vincristina"):
        assert secret.encode() not in raw
        assert secret.encode("utf-16-le") not in raw
    key = base64.b64decode(secrets.data[KEY_SECRET])
    assert len(key) == 32 and key not in raw


async def test_reopen_with_the_same_key_keeps_data(tmp_path: Path) -> None:
    secrets = DictSecretStore()
    first = await open_store(secrets, tmp_path)
    first.store.put("u1", "me", "", {"x": 1})
    first.store.close()
    second = await open_store(secrets, tmp_path)
    assert not second.wiped
    assert second.store.get("u1", "me").value == {"x": 1}  # type: ignore[union-attr]
    second.store.close()


@pytest.mark.parametrize("lose_key", ["missing", "wrong"])
async def test_unreadable_cache_is_wiped_and_reported(tmp_path: Path, lose_key: str) -> None:
    secrets = DictSecretStore()
    first = await open_store(secrets, tmp_path)
    first.store.put("u1", "me", "", {"name": "Mateo"})
    first.store.close()
    if lose_key == "missing":
        secrets.data.clear()
    else:
        secrets.data[KEY_SECRET] = base64.b64encode(b"\x01" * 32).decode()
    second = await open_store(secrets, tmp_path)
    assert second.wiped
    assert second.store.get("u1", "me") is None
    second.store.close()


async def test_memory_secret_store_after_restart_wipes(tmp_path: Path) -> None:
    first = await open_store(MemorySecretStore(), tmp_path)
    first.store.put("u1", "me", "", {"a": 1})
    first.store.close()
    second = await open_store(MemorySecretStore(), tmp_path)  # the app restarted: key gone
    assert second.wiped
    second.store.close()


async def test_empty_cache_without_key_is_not_reported(tmp_path: Path) -> None:
    first = await open_store(MemorySecretStore(), tmp_path)
    first.store.close()
    second = await open_store(MemorySecretStore(), tmp_path)
    assert not second.wiped
    second.store.close()


def test_records_cannot_be_moved_to_another_slot(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path / DB_NAME, b"k" * 32)
    store.put("u1", "carnet", "a", {"who": "a"})
    store.put("u1", "carnet", "b", {"who": "b"})
    db = sqlite3.connect(tmp_path / DB_NAME)
    nonce, sealed = db.execute("SELECT nonce, sealed FROM records WHERE key='a'").fetchone()
    db.execute("UPDATE records SET nonce=?, sealed=? WHERE key='b'", (nonce, sealed))
    db.commit()
    db.close()
    with pytest.raises(UnreadableStore):
        store.get("u1", "carnet", "b")
    store.close()


async def test_destroy_clears_records_and_forgets_key(tmp_path: Path) -> None:
    secrets = DictSecretStore()
    opened = await open_store(secrets, tmp_path)
    opened.store.put("u1", "me", "", {"name": "Mateo"})
    await destroy_store(opened.store, secrets)
    assert opened.store.get("u1", "me") is None
    assert KEY_SECRET not in secrets.data
    opened.store.close()


def test_delete_kind_keeps_listed_keys(tmp_path: Path) -> None:
    store = OfflineStore(tmp_path / DB_NAME, b"k" * 32)
    for key in ("a", "b", "c"):
        store.put("u1", "carnet", key, {})
    store.delete_kind("u1", "carnet", keep={"b"})
    assert [k for k in "abc" if store.get("u1", "carnet", k)] == ["b"]
    store.close()


def test_data_dir_precedence(tmp_path: Path) -> None:
    assert default_data_dir({"FLET_APP_STORAGE_DATA": "/a", "CARNET_APP_DATA": "/b"}) == Path("/a")
    assert default_data_dir({"CARNET_APP_DATA": "/b"}) == Path("/b")
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "carnet"
