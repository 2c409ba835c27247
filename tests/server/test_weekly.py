"""Weekly case-desk figures against a hand-computed fixture (the week of 24 October 2022, with the DST change).

The week runs from Monday 24 October 00:00 CDT to Monday 31 October 00:00 CST
(169 hours). The fixture, in Mexico City time (casos.demo works for Siglo XXI
and La Raza; Santiago is at León, only the admin sees him):

    patients registered: Mateo Mon 24 06:00 (in), Camila Sun 23 23:30 (before), Valentina Sun 30 23:59 (in),
                         Santiago Fri 28 (León, in for admin), Emiliano Mon 31 00:00 (after)
    A Mateo     medicamento "Vincristina"   Mon 24 10:00   reply +2 h, resolves +10 h            → atendida
    B Camila    medicamento " vincristina " Tue 25 09:00   resolves +4 h, family reopens +30 h   → reabierta
    C Valentina insumo "Bomba de infusión"  Wed 26 08:00   first reply Tue 1 Nov (after the week) → recibida, overdue
    D Mateo     carnet_digital              Sun 30 20:00   none; due Mon 31 20:00 (after the week) → recibida
    E Santiago  otro (León)                 Thu 27 10:00   none; due Sat 29 10:00                → overdue (admin)
    F Mateo     insumo "Catéter"            Fri 21 10:00 (previous week), none                   → overdue only
    G Valentina atencion_medica             Mon 31 01:00 (next week)                             → not counted
    H Camila    banco_de_sangre             Thu 27 10:00   reply +20 h (late)                    → en_atencion
    X Mateo     atencion_medica             Sat 29 22:00 CDT, resolves Sun 30 09:00 CST = 12 h real (11 on the wall)

casos.demo: new patients 2; new incidents 6 (A B C D H X); first answers 2, 4, 20, 12 h → median 8;
atendida 10, 4, 12 h → median 10; overdue C and F = 2; shortages Siglo XXI Vincristina 2, La Raza bomba 1.
admin: new patients 3; new incidents 7; overdue 3 (+E); ``otro`` 1; 3 ``recibida``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from carnet_server.audit import AuditEntry
from carnet_server.context import Context
from carnet_server.incidents.tables import Incident
from carnet_server.patients.tables import Patient
from tests.server.conftest import assert_error
from tests.server.incident_support import RAZA, SXXI, reopen_at, reply_at, report_at

Auth = Callable[[str], dict[str, str]]
MX = ZoneInfo("America/Mexico_City")
WEEKLY = "/api/v1/case-desk/weekly"
WEEK = "2022-10-24"


def mx(*args: int) -> datetime:
    return datetime(*args, tzinfo=MX)  # type: ignore[misc]


@pytest.fixture
def fixture(ctx: Context, patient_ids: dict[str, str]) -> None:
    registered = {"Mateo Hernández": mx(2022, 10, 24, 6, 0), "Camila Torres": mx(2022, 10, 23, 23, 30),
                  "Valentina Hernández": mx(2022, 10, 30, 23, 59), "Santiago Ramírez": mx(2022, 10, 28, 12, 0),
                  "Emiliano Valenzuela": mx(2022, 10, 31, 0, 0)}
    with ctx.sessions() as session:
        for name, at in registered.items():
            session.get_one(Patient, patient_ids[name]).created_at = at
        session.commit()
    mateo, camila = patient_ids["Mateo Hernández"], patient_ids["Camila Torres"]
    valentina, santiago = patient_ids["Valentina Hernández"], patient_ids["Santiago Ramírez"]
    h = timedelta(hours=1)
    a = report_at(ctx, "madre.demo", mateo, mx(2022, 10, 24, 10, 0))
    reply_at(ctx, a, mx(2022, 10, 24, 10, 0) + 2 * h)
    reply_at(ctx, a, mx(2022, 10, 24, 10, 0) + 10 * h, "Se surtió en la farmacia de la UMAE.", resolves=True)
    b = report_at(ctx, "luis.torres", camila, mx(2022, 10, 25, 9, 0), item_name=" vincristina ")
    reply_at(ctx, b, mx(2022, 10, 25, 9, 0) + 4 * h, "Se surtió en la farmacia de la UMAE.", resolves=True)
    reopen_at(ctx, b, mx(2022, 10, 25, 9, 0) + 30 * h, username="luis.torres")
    c = report_at(ctx, "madre.demo", valentina, mx(2022, 10, 26, 8, 0), category="insumo",
                  item_name="Bomba de infusión")
    reply_at(ctx, c, mx(2022, 11, 1, 9, 0))
    report_at(ctx, "madre.demo", mateo, mx(2022, 10, 30, 20, 0), category="carnet_digital", item_name=None)
    report_at(ctx, "padre.demo", santiago, mx(2022, 10, 27, 10, 0), category="otro", item_name=None)
    report_at(ctx, "madre.demo", mateo, mx(2022, 10, 21, 10, 0), category="insumo", item_name="Catéter")
    report_at(ctx, "madre.demo", valentina, mx(2022, 10, 31, 1, 0), category="atencion_medica", item_name=None)
    hh = report_at(ctx, "luis.torres", camila, mx(2022, 10, 27, 10, 0), category="banco_de_sangre", item_name=None)
    reply_at(ctx, hh, mx(2022, 10, 27, 10, 0) + 20 * h)
    x = report_at(ctx, "madre.demo", mateo, mx(2022, 10, 29, 22, 0), category="atencion_medica", item_name=None)
    reply_at(ctx, x, mx(2022, 10, 30, 9, 0), "Cita confirmada el lunes a las 8:00 en consulta externa.",
             resolves=True)


def expected(admin: bool) -> dict[str, Any]:
    return {
        "week_start": "2022-10-24", "week_end": "2022-10-30",
        "new_patients": 3 if admin else 2,
        "incidents_new": 7 if admin else 6,
        "by_category": {"medicamento": 2, "insumo": 1, "atencion_medica": 1, "licencia_140_bis": 0,
                        "carnet_digital": 1, "banco_de_sangre": 1, "otro": 1 if admin else 0},
        "by_status": {"recibida": 3 if admin else 2, "en_atencion": 1, "atendida": 2, "reabierta": 1},
        "by_channel": {"app": 7 if admin else 6, "whatsapp": 0},
        "median_hours_to_first_answer": 8.0,
        "median_hours_to_atendida": 10.0,
        "overdue": 3 if admin else 2,
        "shortages": [{"unit_name": SXXI, "item_name": "Vincristina", "count": 2},
                      {"unit_name": RAZA, "item_name": "Bomba de infusión", "count": 1}],
    }


def test_figures_match_the_hand_computed_fixture(client: TestClient, ctx: Context, auth: Auth,
                                                 fixture: None) -> None:
    casos = client.get(WEEKLY, params={"week": WEEK}, headers=auth("casos.demo"))
    assert casos.status_code == 200, casos.text
    assert casos.json() == expected(admin=False)
    assert client.get(WEEKLY, params={"week": WEEK}, headers=auth("admin.demo")).json() == expected(admin=True)
    with ctx.sessions() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "case_desk.weekly.read"))
        assert entry is not None and entry.actor_role == "case_desk"


def test_an_empty_week(client: TestClient, auth: Auth) -> None:
    got = client.get(WEEKLY, params={"week": "2021-01-04"}, headers=auth("casos.demo")).json()
    assert got["incidents_new"] == 0 and got["median_hours_to_first_answer"] is None and got["shortages"] == []
    assert set(got["by_status"]) == {"recibida", "en_atencion", "atendida", "reabierta"}


def test_csv(client: TestClient, auth: Auth, fixture: None) -> None:
    response = client.get(f"{WEEKLY}.csv", params={"week": WEEK}, headers=auth("casos.demo"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows[0] == ["indicador", "categoria", "unidad", "insumo", "valor"]
    assert all(len(r) == 5 for r in rows)
    assert ["pacientes_nuevos", "", "", "", "2"] in rows and ["incidencias_nuevas", "", "", "", "6"] in rows
    assert ["incidencias_por_categoria", "medicamento", "", "", "2"] in rows
    assert ["incidencias_por_estado", "reabierta", "", "", "1"] in rows
    assert ["mediana_horas_primera_respuesta", "", "", "", "8.00"] in rows
    assert ["mediana_horas_a_atendida", "", "", "", "10.00"] in rows
    assert ["vencidas_sin_respuesta", "", "", "", "2"] in rows
    assert ["desabasto", "", SXXI, "Vincristina", "2"] in rows and ["desabasto", "", RAZA, "Bomba de infusión", "1"] in rows


def test_markdown(client: TestClient, auth: Auth, fixture: None) -> None:
    response = client.get(f"{WEEKLY}.md", params={"week": WEEK}, headers=auth("casos.demo"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
    text = response.content.decode("utf-8")
    assert text.startswith("# Sesión de trabajo — semana del 24 de octubre de 2022 al 30 de octubre de 2022")
    for piece in ("Pacientes nuevos registrados: **2**", "Casos nuevos recibidos: **6**", "**8,0 h**", "**10,0 h**",
                  "plazo vencido al cierre de la semana: **2**", f"| {SXXI} | Vincristina | 2 |",
                  "| Reabierta | 1 |", "| Licencia 140-Bis | 0 |"):
        assert piece in text, piece


def test_by_channel(client: TestClient, ctx: Context, auth: Auth, fixture: None) -> None:
    """Two of the week's six reports came through WhatsApp: the JSON, the CSV and the summary say so."""
    with ctx.sessions() as session:
        week = session.scalars(select(Incident).where(Incident.category.in_(("carnet_digital", "banco_de_sangre"))))
        for row in week:
            row.channel = "whatsapp"
        session.commit()
    got = client.get(WEEKLY, params={"week": WEEK}, headers=auth("casos.demo")).json()
    assert got["by_channel"] == {"app": 4, "whatsapp": 2}
    assert got["incidents_new"] == 6
    rows = list(csv.reader(io.StringIO(client.get(f"{WEEKLY}.csv", params={"week": WEEK},
                                                  headers=auth("casos.demo")).content.decode("utf-8"))))
    assert ["incidencias_por_canal", "app", "", "", "4"] in rows
    assert ["incidencias_por_canal", "whatsapp", "", "", "2"] in rows
    text = client.get(f"{WEEKLY}.md", params={"week": WEEK}, headers=auth("casos.demo")).content.decode("utf-8")
    assert "### Por canal" in text and "| App | 4 |" in text and "| WhatsApp | 2 |" in text


@pytest.mark.parametrize("week", ["2022-10-25", "2022-13-01", "24/10/2022", "lunes", "", "2022-10-24T00:00"])
def test_bad_weeks_are_422(client: TestClient, auth: Auth, week: str) -> None:
    for suffix in ("", ".csv", ".md"):
        assert_error(client.get(f"{WEEKLY}{suffix}", params={"week": week}, headers=auth("casos.demo")),
                     422, "invalid_week")
    assert_error(client.get(WEEKLY, headers=auth("casos.demo")), 422, "validation_error")


def test_only_case_desk_and_admin(client: TestClient, auth: Auth) -> None:
    for user in ("madre.demo", "farmacia.demo", "banco.demo"):
        for suffix in ("", ".csv", ".md"):
            assert_error(client.get(f"{WEEKLY}{suffix}", params={"week": WEEK}, headers=auth(user)), 403, "forbidden")
    assert_error(client.get(WEEKLY, params={"week": WEEK}), 401)
