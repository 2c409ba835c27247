"""The registry's weekly figures: JSON, CSV and the Spanish summary, by unit and level, scoped to the caller."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from starlette.testclient import TestClient

from carnet_contract import enrolment as wire
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.enrolment.figures import summary, to_markdown
from tests.server.conftest import assert_error
from tests.server.enrolment_support import child, curp, units

FIGURES = "/api/v1/registry/figures"


def _monday(ctx: Context) -> str:
    today = ctx.today(utcnow())
    return (today - timedelta(days=today.weekday())).isoformat()


def test_the_week_in_figures_for_admin_and_for_a_unit(client: TestClient, ctx: Context, auth: Any) -> None:
    onco, admin = auth("oncologia.demo"), auth("admin.demo")
    sxxi = units(client, onco)["sxxi"]
    week = _monday(ctx)
    before = client.get(FIGURES, params={"week": week}, headers=admin).json()
    assert before["total"] == 5 and before["new_this_week"] == 0
    assert client.post("/api/v1/patients", headers=onco, json=child(sxxi)).status_code == 201
    other = child(sxxi, given_names="Ana", birth_date="2020-01-01", curp=curp("RAOA200101MDFMRNA"),
                  agregado="3F2020OR")
    assert client.post("/api/v1/patients", headers=onco, json=other).status_code == 201

    figures = client.get(FIGURES, params={"week": week}, headers=admin).json()
    assert (figures["total"], figures["new_this_week"], figures["previous_total"]) == (7, 2, 5)
    assert figures["units_by_level"] == {"umae": 3, "segundo_nivel": 1}
    assert {u["name"]: (u["total"], u["new_this_week"]) for u in figures["by_unit"]}[
        "UMAE Hospital de Pediatría CMN Siglo XXI"] == (4, 2)
    mine = client.get(FIGURES, params={"week": week}, headers=onco).json()
    assert (mine["total"], mine["new_this_week"], len(mine["by_unit"])) == (4, 2, 1)
    assert mine["units_by_level"] == {"umae": 1, "segundo_nivel": 0}
    assert client.get(FIGURES, params={"week": week}, headers=auth("casos.demo")).json()["total"] == 5  # sxxi+raza

    markdown = client.get(f"{FIGURES}.md", params={"week": week}, headers=admin)
    assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
    assert ("7 pacientes registrados, 2 más que la semana anterior, en 4 unidades: 3 UMAE y 1 de segundo nivel."
            in markdown.text)
    table = list(csv.reader(io.StringIO(client.get(f"{FIGURES}.csv", params={"week": week}, headers=admin).text)))
    assert table[0] == ["indicador", "unidad", "nivel", "entidad", "valor"]
    assert ["pacientes_registrados", "", "", "", "7"] in table and ["pacientes_nuevos", "", "", "", "2"] in table
    assert ["unidades_con_pacientes", "", "segundo_nivel", "", "1"] in table

    # a week before anyone was registered; the week after still counts them, none new
    empty = client.get(FIGURES, params={"week": "2020-01-06"}, headers=admin).json()
    assert empty["total"] == 0 and empty["units_by_level"] == {"umae": 0, "segundo_nivel": 0}


def test_bad_weeks_and_roles(client: TestClient, ctx: Context, auth: Any) -> None:
    admin = auth("admin.demo")
    for week in ("2026-12-15", "yesterday", "2026-02-30"):
        next_day = date.fromisoformat(week) if week[0].isdigit() and week != "2026-02-30" else None
        assert next_day is None or next_day.weekday() != 0
        assert_error(client.get(FIGURES, params={"week": week}, headers=admin), 422, "invalid_week")
    for user in ("farmacia.demo", "banco.demo", "madre.demo"):
        assert_error(client.get(FIGURES, params={"week": _monday(ctx)}, headers=auth(user)), 403, "forbidden")


def test_the_summary_reads_like_the_working_groups_minutes() -> None:
    figures = wire.RegistryFigures(week_start=date(2026, 11, 30), week_end=date(2026, 12, 6), total=2881,
                                   new_this_week=157, previous_total=2724, by_unit=[],
                                   units_by_level=wire.UnitsByLevel(umae=14, segundo_nivel=18))
    assert summary(figures) == ("2,881 pacientes registrados, 157 más que la semana anterior, en 32 unidades: "
                                "14 UMAE y 18 de segundo nivel")
    assert to_markdown(figures).startswith("# Registro de pacientes — semana del 30 de noviembre de 2026 al "
                                           "6 de diciembre de 2026")
    one = figures.model_copy(update={"total": 1, "new_this_week": 1,
                                     "units_by_level": wire.UnitsByLevel(umae=1, segundo_nivel=0)})
    assert summary(one).startswith("1 paciente registrado, 1 más que la semana anterior, en 1 unidad: ")
