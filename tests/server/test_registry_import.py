"""Bulk CSV import: every row checked, every error in Spanish with its row, all or nothing, safe to run twice."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from carnet_server.context import Context
from carnet_server.demo import CHILDREN
from tests.server.conftest import assert_error
from tests.server.enrolment_support import SOFIA_CURP, SOFIA_NSS, counts, curp, nss

IMPORT = "/api/v1/registry/import"
HEADER = ("nombres,primer_apellido,segundo_apellido,fecha_nacimiento,sexo,curp,nss,agregado,unidad,"
          "diagnostico_cie10,fecha_diagnostico,oncologo_tratante,grupo_sanguineo,alergias,cateter_venoso_central,"
          "tutor_nombre,tutor_parentesco,tutor_celular")
SXXI = "UMAE Hospital de Pediatría CMN Siglo XXI"
SOFIA = (f"Sofía,Ramírez,Ortega,15/06/2018,mujer,{SOFIA_CURP},{SOFIA_NSS},3F2018OR,{SXXI},C91.0,2026-09-01,"
         "Dra. Villaseñor,O+,Penicilina,si,Ana Ortega,madre,55 1234 5678")
LUCAS = (f"Lucas,Pérez,,2016-02-10,H,{curp('PEXL160210HDFRXCA')},{nss('2233445566')},,{SXXI},C22.2,2026-08-15,"
         ",,,no,,,")


def _upload(client: TestClient, headers: dict[str, str], *lines: str, dry_run: bool = False) -> Any:
    text = "\n".join((HEADER, *lines)) + "\n"
    return client.post(IMPORT, headers=headers, params={"dry_run": dry_run} if dry_run else None,
                       files={"file": ("pacientes.csv", text.encode("utf-8"), "text/csv")})


def test_a_good_file_imports_and_importing_it_again_writes_nothing(client: TestClient, ctx: Context,
                                                                    auth: Any) -> None:
    onco = auth("oncologia.demo")
    before = counts(ctx)
    checked = _upload(client, onco, SOFIA, LUCAS, dry_run=True)
    assert checked.status_code == 200, checked.text
    assert (checked.json()["created"], checked.json()["dry_run"], checked.json()["invitations"]) == (2, True, [])
    assert counts(ctx) == before

    first = _upload(client, onco, SOFIA, LUCAS)
    assert first.status_code == 200, first.text
    result = first.json()
    assert (result["rows"], result["created"], result["unchanged"]) == (2, 2, 0)
    [invitation] = result["invitations"]
    assert invitation["row"] == 2 and invitation["guardian_name"] == "Ana Ortega"
    after = counts(ctx)
    assert after["patients"] == before["patients"] + 2 and after["invitations"] == before["invitations"] + 1

    again = _upload(client, onco, SOFIA, LUCAS)
    assert again.status_code == 200, again.text
    assert (again.json()["created"], again.json()["unchanged"], again.json()["invitations"]) == (0, 2, [])
    assert counts(ctx) == after
    # the code works
    activated = client.post("/api/v1/auth/activate", json={"code": invitation["code"], "username": "ana.ortega",
                                                           "password": "una-clave-larga-1"})
    assert activated.status_code == 201, activated.text
    sofia = client.get("/api/v1/patients", params={"q": SOFIA_CURP}, headers=onco).json()[0]
    assert sofia["id"] == invitation["patient_id"] and sofia["central_venous_catheter"] is True
    assert sofia["birth_date"] == "2018-06-15" and sofia["diagnosis"]["code"] == "C91.0"


def test_bad_rows_are_all_reported_in_spanish_and_nothing_is_written(client: TestClient, ctx: Context,
                                                                     auth: Any) -> None:
    onco = auth("oncologia.demo")
    leon = "UMAE Hospital de Gineco-Pediatría No. 48 León"
    bad_curp = SOFIA.replace(SOFIA_CURP, SOFIA_CURP[:-1] + str((int(SOFIA_CURP[-1]) + 1) % 10))
    mateo = next(c for c in CHILDREN if c.display_name == "Mateo Hernández")

    def other(letter: str) -> str:  # Sofía with another CURP (same birth date and sex)
        return SOFIA.replace(SOFIA_CURP, curp(f"RAOS180615MDFMRF{letter}"))
    lines = (
        LUCAS,                                                   # 2: good, but not written
        bad_curp,                                                # 3: check digit
        LUCAS.replace("Lucas", "Luis"),                          # 4: the CURP of row 2 again
        SOFIA.replace(",55 1234 5678", ","),                     # 5: guardian without a phone
        other("B").replace(SXXI, leon),                          # 6: not the caller's unit
        other("C").replace("C91.0", "Z99.9"),                    # 7: not in the catalogue
        other("D").replace("15/06/2018", "31/02/2018"),          # 8: no such date
        SOFIA.replace(SOFIA_CURP, mateo.curp),                   # 9: Mateo's CURP, other data
    )
    before = counts(ctx)
    refused = client.post(IMPORT, headers=onco, files={
        "file": ("p.csv", ("\n".join((HEADER, *lines)) + "\n").encode("utf-8"), "text/csv")})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "import_invalid" and error["message"].startswith("No se importó nada")
    by_row = {int(r["message"].split(":")[0].removeprefix("Fila ")): r for r in error["reasons"]}
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8, 9], error["reasons"]
    assert "dígito verificador de la CURP" in by_row[3]["message"]
    assert by_row[4]["code"] == "import_repeated_curp" and "fila 2" in by_row[4]["message"]
    assert by_row[5]["code"] == "import_guardian_incomplete"
    assert by_row[6]["code"] == "unit_not_yours"
    assert by_row[7]["code"] == "unknown_diagnosis"
    assert by_row[8]["code"] == "import_bad_values" and "fecha_nacimiento" in by_row[8]["message"]
    assert by_row[9]["code"] in ("curp_birth_date_mismatch", "import_conflicting_record")
    assert counts(ctx) == before
    english = client.post(IMPORT, headers={**onco, "Accept-Language": "en"}, files={
        "file": ("p.csv", ("\n".join((HEADER, bad_curp)) + "\n").encode("utf-8"), "text/csv")}).json()["error"]
    assert english["reasons"][0]["message"].startswith("Row 2: curp:")


def test_files_that_are_not_the_template_are_refused(client: TestClient, ctx: Context, auth: Any) -> None:
    onco = auth("oncologia.demo")
    before = counts(ctx)
    assert_error(client.post(IMPORT, headers=onco, files={"file": ("x.csv", b"\xff\xfe\x00binary", "text/csv")}),
                 422, "import_not_csv")
    missing = client.post(IMPORT, headers=onco, files={"file": ("x.csv", b"nombres,curp\nAna,X\n", "text/csv")})
    assert missing.status_code == 422 and missing.json()["error"]["reasons"][0]["code"] == "import_missing_columns"
    typo = client.post(IMPORT, headers=onco, files={
        "file": ("x.csv", (HEADER + ",alergia\n").encode("utf-8"), "text/csv")})
    assert typo.json()["error"]["reasons"][0]["code"] == "import_unknown_columns"
    assert_error(client.post(IMPORT, headers=auth("casos.demo"), files={"file": ("x.csv", b"a", "text/csv")}),
                 403, "forbidden")
    assert counts(ctx) == before


def test_an_existing_child_with_other_data_is_a_row_error(client: TestClient, ctx: Context, auth: Any) -> None:
    onco = auth("oncologia.demo")
    assert _upload(client, onco, SOFIA).status_code == 200
    before = counts(ctx)
    changed = _upload(client, onco, SOFIA.replace("Penicilina", "Ninguna"))
    assert changed.status_code == 422
    assert changed.json()["error"]["reasons"][0]["code"] == "import_conflicting_record"
    assert counts(ctx) == before
