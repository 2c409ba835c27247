"""schemathesis over ``/openapi.json``, in process, as every demo role: no 500, no answer outside the schema.

Every operation of the schema gets a few generated requests, valid ones and invalid ones, each sent
as every role (and anonymous), derandomized so a run is repeatable; path ids are half the time real ids
of the demo data, so requests get past the lookups into the routes. Checks: ``not_a_server_error``,
``response_schema_conformance`` (bodies match the documented models, errors the ``ErrorBody``) and
``status_code_conformance`` (every status answered is documented). ``POST /api/v1/auth/logout`` gets a
fresh session per example (it ends the caller's).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
    from starlette.testclient import TestClient

from carnet_server.context import Context
from carnet_server.demo import DEMO_USERS
from tests.server.conftest import login

#: Examples per operation and role (CARNET_FUZZ_EXAMPLES raises it for a longer local run).
EXAMPLES = int(os.environ.get("CARNET_FUZZ_EXAMPLES", "4"))
LOGOUT = ("POST", "/api/v1/auth/logout")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _real_ids(client: TestClient, auth: Any, patient_ids: dict[str, str]) -> dict[str, list[str]]:
    madre, casos = auth("madre.demo"), auth("casos.demo")
    mateo = patient_ids["Mateo Hernández"]
    carnet = client.get(f"/api/v1/patients/{mateo}/carnet", headers=madre).json()
    banks = client.get("/api/v1/blood-banks", headers=madre).json()
    incidents = client.get("/api/v1/incidents", headers=casos).json()
    return {
        "patient_id": list(patient_ids.values()),
        "cycle_id": [c["id"] for c in carnet["cycles"]],
        "appointment_id": [a["id"] for a in client.get(f"/api/v1/patients/{mateo}/appointments",
                                                       headers=madre).json()][:5],
        "booking_id": [b["id"] for b in client.get("/api/v1/blood-bank/bookings", headers=madre).json()],
        "bank_id": [b["id"] for b in banks],
        "incident_id": [i["id"] for i in incidents][:5],
        "token": [carnet["qr"]["token"]],
    }


@pytest.mark.timeout(600)
def test_schema_holds_for_every_role(app: FastAPI, client: TestClient, ctx: Context, auth: Any,
                                     patient_ids: dict[str, str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    real = _real_ids(client, auth, patient_ids)
    tokens: dict[str, str | None] = {u.username: str(login(client, u.username)["access_token"]) for u in DEMO_USERS}
    tokens["anonymous"] = None
    # logout ends the session it is called with: a pool of fresh ones, made before the login route is fuzzed
    # (its failures would throttle this address)
    spare = {u: [str(login(client, u)["access_token"]) for _ in range(2 * EXAMPLES)] for u in tokens
             if u != "anonymous"}

    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40, len(operations)
    def fuzz(operation: Any, mode: GenerationMode, examples: int) -> None:
        """Generate ``examples`` requests for one operation and send each as every user: generation is the
        costly part, so it is done once per operation and mode, not once per role."""
        key = (operation.method.upper(), operation.path)

        @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        @given(case=operation.as_strategy(generation_mode=mode), use_real=st.booleans(), data=st.data())
        def run(case: Any, use_real: bool, data: Any) -> None:
            if use_real and case.path_parameters:
                for name in list(case.path_parameters):
                    if real.get(name):
                        case.path_parameters[name] = data.draw(st.sampled_from(real[name]))
            for user, token in tokens.items():
                bearer = token
                if key == LOGOUT and token is not None:
                    bearer = spare[user].pop() if spare[user] else token
                headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    response = case.call(headers=headers)
                    try:
                        case.validate_response(response, checks=CHECKS, headers=headers)
                    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 — collected, reported together
                        failures.append(f"{key[0]} {key[1]} as {user}: {type(exc).__name__}: {str(exc)[:600]}")

        try:
            run()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE, key  # nothing to make invalid (no parameters, no body)

    for operation in operations:
        fuzz(operation, GenerationMode.POSITIVE, EXAMPLES)
        # invalid input (wrong types, missing fields, out-of-range values): a clear 4xx, never a 500
        fuzz(operation, GenerationMode.NEGATIVE, max(1, EXAMPLES // 2))
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} schema failures:\n" + "\n\n".join(unique[:40])
