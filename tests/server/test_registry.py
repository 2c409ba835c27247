"""The registry: register a child (good and bad input side by side), duplicates, similar names, corrections
with their history, and search within the caller's units."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from carnet_server.context import Context
from carnet_server.demo import CHILDREN
from carnet_server.enrolment import catalogue
from carnet_server.enrolment.identity import AGREGADO_RE, name_key, similar
from tests.server.conftest import assert_error
from tests.server.enrolment_support import SOFIA_CURP, child, counts, curp, nss, units

PATIENTS = "/api/v1/patients"
MATEO = next(c for c in CHILDREN if c.display_name == "Mateo Hernández")
SANTIAGO = next(c for c in CHILDREN if c.display_name == "Santiago Ramírez")


def test_oncology_registers_a_child_of_its_unit(client: TestClient, ctx: Context, auth: Any) -> None:
    onco = auth("oncologia.demo")
    sxxi = units(client, onco)["sxxi"]
    made = client.post(PATIENTS, headers=onco, json=child(sxxi))
    assert made.status_code == 201, made.text
    record = made.json()
    assert record["full_name"] == "Sofía Ramírez Ortega" and record["display_name"] == "Sofía Ramírez"
    assert record["curp"] == SOFIA_CURP and record["agregado"] == "3F2018OR" and record["sex"] == "mujer"
    assert record["diagnosis"]["code"] == "C91.0" and record["diagnosis"]["group"] == "I"
    assert record["blood_group"] == "O+" and record["central_venous_catheter"] is True
    assert client.get(f"{PATIENTS}/{record['id']}", headers=onco).json() == record
    assert client.get(f"{PATIENTS}/{record['id']}", headers=auth("casos.demo")).status_code == 200
    carnet = client.get(f"{PATIENTS}/{record['id']}/carnet", headers=onco)
    assert carnet.status_code == 200 and carnet.json()["patient"]["full_name"] == "Sofía Ramírez Ortega"
    # lower case and spaces are tidied; the catalogue is data
    assert catalogue.lookup("c91.0") is not None and len({e.group for e in catalogue.entries()}) == 12


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"curp": SOFIA_CURP[:-1] + str((int(SOFIA_CURP[-1]) + 1) % 10)}, "curp_check_digit", "curp"),
    ({"curp": "RAOS18061MDFMRFA12"}, "curp_format", "curp"),
    ({"curp": curp("RAOS180616MDFMRFA")}, "curp_birth_date_mismatch", "curp"),
    ({"sex": "hombre", "agregado": "3M2018OR"}, "curp_sex_mismatch", "curp"),
    ({"nss": "12345678901" if nss("1234567890")[-1] != "1" else "12345678902"}, "nss_check_digit", "nss"),
    ({"nss": "1234"}, "nss_format", "nss"),
    ({"agregado": "1F20OR"}, "agregado_format", "agregado"),
    ({"agregado": "3F2017OR"}, "agregado_year_mismatch", "agregado"),
    ({"agregado": "3M2018OR"}, "agregado_sex_mismatch", "agregado"),
    ({"diagnosis_code": "J45.9"}, "unknown_diagnosis", "diagnosis_code"),
    ({"diagnosed_on": "2017-01-01"}, "diagnosed_before_birth", "diagnosed_on"),
    ({"diagnosed_on": "2999-01-01"}, "diagnosed_in_future", "diagnosed_on"),
    ({"given_names": "S0fía"}, "invalid_name", "given_names"),
])
def test_bad_data_is_refused_naming_the_field_and_writes_nothing(
        client: TestClient, ctx: Context, auth: Any, changes: dict[str, Any], code: str, field: str) -> None:
    onco = {**auth("oncologia.demo"), "Accept-Language": "en"}
    sxxi = units(client, onco)["sxxi"]
    before = counts(ctx)
    refused = client.post(PATIENTS, headers=onco, json=child(sxxi, **changes))
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == code and error["field"] == field, error
    assert error["message"].startswith("Check the patient's data: " + field)
    assert [r["code"] for r in error["reasons"]] == [code]
    assert counts(ctx) == before
    assert client.post(PATIENTS, headers=onco, json=child(sxxi)).status_code == 201  # the good one, beside it


def test_several_problems_are_reported_together_in_spanish(client: TestClient, ctx: Context, auth: Any) -> None:
    onco = auth("oncologia.demo")
    body = child(units(client, onco)["sxxi"], nss="1234", agregado="XX", diagnosis_code="Z00")
    error = client.post(PATIENTS, headers=onco, json=body).json()["error"]
    assert error["fields"] == ["nss", "agregado", "diagnosis_code"]
    assert error["message"].startswith("Revisa los datos del paciente: nss: el NSS debe tener 11 dígitos.")


def test_units_and_roles(client: TestClient, ctx: Context, auth: Any) -> None:
    onco = auth("oncologia.demo")
    ids = units(client, onco)
    before = counts(ctx)
    assert_error(client.post(PATIENTS, headers=onco, json=child(ids["leon"])), 403, "unit_not_yours")
    assert_error(client.post(PATIENTS, headers=onco, json=child("nope")), 422, "unknown_unit")
    for user in ("casos.demo", "farmacia.demo", "madre.demo"):
        assert_error(client.post(PATIENTS, headers=auth(user), json=child(ids["sxxi"])), 403, "forbidden")
    assert counts(ctx) == before
    assert client.post(PATIENTS, headers=auth("admin.demo"), json=child(ids["leon"])).status_code == 201


def test_duplicates_are_409_with_the_record_only_for_those_who_may_see_it(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco = auth("oncologia.demo")
    sxxi = units(client, onco)["sxxi"]
    mateo = child(sxxi, given_names="Mateo", paternal_surname="Hernández", maternal_surname="López",
                  birth_date="2019-03-14", sex="hombre", curp=MATEO.curp, agregado=None, diagnosed_on="2026-01-05")
    before = counts(ctx)
    same = client.post(PATIENTS, headers=onco, json=mateo)
    assert same.status_code == 409 and same.json()["error"]["code"] == "patient_exists"
    assert same.json()["error"]["patient_id"] == patient_ids["Mateo Hernández"]
    santiago = {**mateo, "curp": SANTIAGO.curp, "birth_date": "2012-05-09", "given_names": "Santiago"}
    hidden = client.post(PATIENTS, headers=onco, json=santiago)  # León: not oncologia.demo's
    assert hidden.status_code == 409 and "patient_id" not in hidden.json()["error"]
    assert counts(ctx) == before
    # the same NSS + agregado médico is the same child, whatever the CURP
    first = client.post(PATIENTS, headers=onco, json=child(sxxi))
    assert first.status_code == 201
    twin = child(sxxi, curp=curp("RAOS180615MDFMRFB"), given_names="Ana", confirm_similar=True)
    again = client.post(PATIENTS, headers=onco, json=twin)
    assert again.status_code == 409 and again.json()["error"]["patient_id"] == first.json()["id"]
    # a sibling under the same NSS has another agregado
    sibling = child(sxxi, curp=curp("RAOA200101MDFMRNA"), given_names="Ana", birth_date="2020-01-01",
                    agregado="3F2020OR")
    assert client.post(PATIENTS, headers=onco, json=sibling).status_code == 201


def test_a_similar_name_with_the_same_birth_date_asks_for_confirmation(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco = auth("oncologia.demo")
    sxxi = units(client, onco)["sxxi"]
    body = child(sxxi, given_names="Matheo", paternal_surname="Hernandez", maternal_surname="López",
                 birth_date="2019-03-14", sex="hombre", curp=curp("HELM190314HDFRPTB"), agregado=None)
    before = counts(ctx)
    asked = client.post(PATIENTS, headers=onco, json=body)
    assert asked.status_code == 409, asked.text
    assert asked.json()["error"]["code"] == "patient_similar"
    assert asked.json()["error"]["similar"] == [patient_ids["Mateo Hernández"]]
    assert counts(ctx) == before
    assert client.post(PATIENTS, headers=onco, json={**body, "confirm_similar": True}).status_code == 201
    assert similar(name_key("Hernández", "López", "Mateo"), name_key("HERNANDEZ", "LOPEZ", "MATHEO"))
    assert not similar(name_key("Hernández", "López", "Mateo"), name_key("Ramírez", "Cruz", "Santiago"))


def test_corrections_keep_who_what_and_when(client: TestClient, ctx: Context, auth: Any) -> None:
    onco = auth("oncologia.demo")
    sxxi = units(client, onco)["sxxi"]
    pid = client.post(PATIENTS, headers=onco, json=child(sxxi)).json()["id"]
    fixed = client.patch(f"{PATIENTS}/{pid}", headers=onco, json={"allergies": "Penicilina, sulfas",
                                                                  "blood_group": "A+", "maternal_surname": "Ortíz"})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["full_name"] == "Sofía Ramírez Ortíz" and fixed.json()["blood_group"] == "A+"
    # bad corrections change nothing
    before = counts(ctx)
    assert client.patch(f"{PATIENTS}/{pid}", headers=onco, json={"curp": "XXX"}).json()["error"]["code"] == \
        "curp_format"
    assert client.patch(f"{PATIENTS}/{pid}", headers=onco, json={"curp": MATEO.curp}).json()["error"]["code"] == \
        "curp_birth_date_mismatch"
    assert client.patch(f"{PATIENTS}/{pid}", headers=onco, json={
        "curp": MATEO.curp, "birth_date": "2019-03-14", "sex": "hombre", "agregado": None}).status_code == 409
    assert client.patch(f"{PATIENTS}/{pid}", headers=onco, json={"birth_date": "2018-06-16"}).json()["error"][
        "code"] == "curp_birth_date_mismatch"
    assert client.patch(f"{PATIENTS}/{pid}", headers=onco, json={"given_names": None}).json()["error"][
        "code"] == "required_field"
    assert_error(client.patch(f"{PATIENTS}/{pid}", headers=auth("casos.demo"), json={"allergies": "x"}), 403)
    assert counts(ctx) == before
    assert client.patch(f"{PATIENTS}/{pid}", headers=onco, json={"diagnosis_code": "C92.0"}).json()[
        "diagnosis"]["name"] == "Leucemia mieloide aguda"

    history = client.get(f"{PATIENTS}/{pid}/corrections", headers=auth("casos.demo"))
    assert history.status_code == 200
    changes = {(c["field"], c["old_value"], c["new_value"]) for c in history.json()}
    assert changes == {("allergies", "Penicilina", "Penicilina, sulfas"), ("blood_group", "O+", "A+"),
                       ("maternal_surname", "Ortega", "Ortíz"), ("diagnosis_code", "C91.0", "C92.0")}
    assert {c["changed_by"] for c in history.json()} == {"Dra. Elena Villaseñor"}
    assert {c["kind"] for c in history.json()} == {"correccion"}
    assert_error(client.get(f"{PATIENTS}/{pid}/corrections", headers=auth("farmacia.demo")), 403)


def test_search_by_name_curp_or_nss_within_the_units(client: TestClient, ctx: Context, auth: Any,
                                                    patient_ids: dict[str, str]) -> None:
    onco, admin = auth("oncologia.demo"), auth("admin.demo")

    def found(headers: dict[str, str], q: str) -> list[str]:
        answer = client.get(PATIENTS, params={"q": q}, headers=headers)
        assert answer.status_code == 200, answer.text
        return [p["id"] for p in answer.json()]

    mateo, santiago = patient_ids["Mateo Hernández"], patient_ids["Santiago Ramírez"]
    assert found(onco, "hernandez mateo") == [mateo]  # no accents, any order
    assert found(onco, MATEO.curp.lower()) == [mateo]
    assert found(onco, MATEO.nss) == [mateo]
    assert found(onco, SANTIAGO.curp) == [] and found(onco, "santiago") == []  # León is not their unit
    assert found(admin, SANTIAGO.curp) == [santiago]
    assert patient_ids["Camila Torres"] in found(onco, "torres")
    assert_error(client.get(PATIENTS, params={"q": "ab"}, headers=onco), 422, "search_query_too_short")
    assert_error(client.get(PATIENTS, params={"q": "mateo"}, headers=auth("farmacia.demo")), 403)


def test_registration_honours_the_idempotency_key(client: TestClient, ctx: Context, auth: Any) -> None:
    onco = {**auth("oncologia.demo"), "Idempotency-Key": "4b8f0e8e-2f7c-4a53-9d59-111111111111"}
    body = child(units(client, onco)["sxxi"])
    first, again = client.post(PATIENTS, headers=onco, json=body), client.post(PATIENTS, headers=onco, json=body)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_agregado_format() -> None:
    for good in ("1F2010OR", "4M2019OR", "2F1985PE", "3M2020ES"):
        assert AGREGADO_RE.fullmatch(good), good
    for bad in ("1F2010", "0F2010OR", "1X2010OR", "1F1810OR", "1F2010O1", "1f2010or", "11F2010OR"):
        assert not AGREGADO_RE.fullmatch(bad), bad


def test_referral_moves_the_record_the_old_unit_loses_access_the_family_keeps_it(
        client: TestClient, ctx: Context, auth: Any, patient_ids: dict[str, str]) -> None:
    onco, admin, family = auth("oncologia.demo"), auth("admin.demo"), auth("luis.torres")
    ids = units(client, onco)
    camila = patient_ids["Camila Torres"]
    carnet = client.get(f"{PATIENTS}/{camila}/carnet", headers=family).json()
    before = counts(ctx)
    assert_error(client.post(f"{PATIENTS}/{camila}/referral", headers=onco, json={"unit_id": ids["sxxi"]}), 409,
                 "same_unit")
    assert_error(client.post(f"{PATIENTS}/{camila}/referral", headers=onco, json={"unit_id": "nope"}), 422,
                 "unknown_unit")
    assert_error(client.post(f"{PATIENTS}/{camila}/referral", headers=auth("casos.demo"),
                             json={"unit_id": ids["leon"]}), 403, "forbidden")
    assert counts(ctx) == before

    referred = client.post(f"{PATIENTS}/{camila}/referral", headers=onco, json={"unit_id": ids["leon"]})
    assert referred.status_code == 200, referred.text
    assert referred.json()["unit"]["id"] == ids["leon"]
    # the old unit's staff, at once
    for user, path in (("oncologia.demo", ""), ("oncologia.demo", "/carnet"), ("farmacia.demo", "/carnet"),
                       ("casos.demo", "/corrections")):
        assert_error(client.get(f"{PATIENTS}/{camila}{path}", headers=auth(user)), 404, "patient_not_found")
    assert client.get(PATIENTS, params={"q": "camila"}, headers=onco).json() == []
    # the family keeps everything, now at León
    moved = client.get(f"{PATIENTS}/{camila}/carnet", headers=family).json()
    assert moved["patient"]["unit"]["id"] == ids["leon"] and moved["cycles"] == carnet["cycles"]
    history = client.get(f"{PATIENTS}/{camila}/corrections", headers=admin).json()
    assert [(h["kind"], h["field"]) for h in history] == [("referencia", "unit_id")]
    assert "Siglo XXI" in history[0]["old_value"] and "León" in history[0]["new_value"]
    # and back: the record comes back with its history
    assert client.post(f"{PATIENTS}/{camila}/referral", headers=admin, json={"unit_id": ids["sxxi"]}).status_code == 200
    assert len(client.get(f"{PATIENTS}/{camila}/corrections", headers=onco).json()) == 2


def test_control_characters_are_refused_before_the_database(client: TestClient, ctx: Context, auth: Any) -> None:
    onco, admin = auth("oncologia.demo"), auth("admin.demo")
    before = counts(ctx)
    body = child(units(client, onco)["sxxi"], allergies="Penicilina\u0000")
    assert_error(client.post(PATIENTS, headers=onco, json=body), 422, "validation_error")
    assert_error(client.post("/api/v1/admin/units", headers=admin,
                             json={"name": "\u009a7", "level": "umae", "state": "9bS$\u0000"}), 422, "validation_error")
    assert_error(client.get(PATIENTS, params={"q": "mateo\u0000"}, headers=onco), 422)
    assert counts(ctx) == before
