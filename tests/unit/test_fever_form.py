"""The fever screen's checks on the phone (issue #19): temperature with a decimal comma, 35–43 °C, the time today or
yesterday; clear messages in the family's words; what an episode's steps say."""

from __future__ import annotations

from datetime import UTC, datetime

from carnet.core.i18n import Translator
from carnet.data.outbox import OutboxItem, OutboxState, WriteOp
from carnet.data.records import Mark
from carnet.fever.cases import step_lines
from carnet.fever.form import FeverForm, check_arrival, check_fever, parse_arrival, parse_temperature, parse_time
from carnet.fever.repository import EPISODE_TYPE, merge
from carnet.shell.unsent import describe_unsent
from carnet_contract import models as contract

ES, EN = Translator(), Translator("en")
NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)  # 12:00 in Mexico City


def test_temperature_takes_a_decimal_comma_or_point() -> None:
    assert parse_temperature("38,5") == 38.5
    assert parse_temperature(" 38.5 °C ") == 38.5
    assert parse_temperature("39") == 39.0
    assert parse_temperature("treinta") is None
    assert parse_temperature("3 8") is None


def test_time_is_today_or_yesterday_on_the_unit_clock() -> None:
    assert parse_time("", NOW) == NOW
    assert parse_time("11:30", NOW) == datetime(2026, 12, 4, 17, 30, tzinfo=UTC)
    assert parse_time("13:00", NOW) == datetime(2026, 12, 3, 19, 0, tzinfo=UTC)  # not yet today: yesterday
    assert parse_time("24:00", NOW) is None and parse_time("mañana", NOW) is None


def test_an_arrival_is_today_unless_it_says_yesterday() -> None:
    """The fever desk's "Registrar llegada sin aviso": a time still ahead stays ahead (refused), not yesterday's."""
    assert parse_arrival("", NOW) == NOW
    assert parse_arrival("11:30", NOW) == datetime(2026, 12, 4, 17, 30, tzinfo=UTC)
    assert parse_arrival("13:00", NOW) == datetime(2026, 12, 4, 19, 0, tzinfo=UTC)
    assert parse_arrival("ayer 23:50", NOW) == parse_arrival("Yesterday 23:50", NOW)
    assert parse_arrival("ayer 23:50", NOW) == datetime(2026, 12, 4, 5, 50, tzinfo=UTC)
    assert parse_arrival("ayer", NOW) is None and parse_arrival("24:00", NOW) is None


def test_check_arrival_refuses_the_future_the_old_and_the_unreadable() -> None:
    assert check_arrival("11:30", "38,5", ES, NOW) == ((datetime(2026, 12, 4, 17, 30, tzinfo=UTC), 38.5), {})
    assert check_arrival("12:04", "38,5", ES, NOW)[0] is not None  # within the 5 minutes' leeway
    assert check_arrival("12:10", "38", ES, NOW) == (
        None,
        {"time": "La hora de llegada no puede ser futura: ahora son las 12:00."},
    )
    _, errors = check_arrival("ayer 11:59", "", ES, NOW)
    assert errors == {
        "time": "La llegada no puede ser de hace más de 24 horas.",
        "temperature": "Escriba la temperatura, por ejemplo 38,5.",
    }
    _, errors = check_arrival("x", "44", EN, NOW)
    assert errors == {
        "time": 'Type the arrival time as 12:00 (or "yesterday 23:50" if it was yesterday).',
        "temperature": "The temperature must be between 35 and 43 °C.",
    }


def test_check_fever_gives_the_body_or_clear_messages() -> None:
    body, errors = check_fever(FeverForm(temperature="38,6", time="11:45"), ES, NOW)
    assert errors == {} and body == {"temperature_c": 38.6, "measured_at": "2026-12-04T11:45:00-06:00"}
    assert check_fever(FeverForm(), ES, NOW) == (None, {"temperature": "Escribe la temperatura, por ejemplo 38,5."})
    _, errors = check_fever(FeverForm(temperature="44", time="x"), ES, NOW)
    assert errors == {
        "temperature": "La temperatura debe estar entre 35 y 43 °C. Revisa el termómetro.",
        "time": "Escribe la hora así: 12:00.",
    }
    _, errors = check_fever(FeverForm(temperature="34,9"), EN, NOW)
    assert errors == {"temperature": "The temperature must be between 35 and 43 °C. Check the thermometer."}


def _item(state: OutboxState = OutboxState.PENDING, error: str | None = None) -> OutboxItem:
    return OutboxItem(
        id="i1",
        seq=1,
        created_at=NOW,
        state=state,
        attempts=0,
        next_attempt_at=None,
        type=EPISODE_TYPE,
        op=WriteOp.CREATE,
        method="POST",
        path="/api/v1/patients/p1/fever-episodes",
        body={"temperature_c": 38.6, "measured_at": NOW.isoformat()},
        record_id="local-1",
        patient_id="p1",
        label="",
        error=error,
        error_kind=None,
    )


def _episode(**changes: object) -> contract.FeverEpisode:
    unit = contract.Unit(id="u1", name="Siglo XXI", level=contract.UnitLevel.UMAE, state="CDMX")
    data: dict[str, object] = {
        "id": "e1",
        "patient_id": "p1",
        "status": contract.FeverStatus.AVISADA,
        "temperature_c": 38.6,
        "measured_at": NOW,
        "created_at": NOW,
        "unit": unit,
    }
    return contract.FeverEpisode.model_validate(data | changes)


def test_an_episode_on_the_phone_then_each_step_of_the_unit() -> None:
    [waiting] = merge({}, [_item()])
    assert waiting.mark is Mark.PENDING and waiting.status is None
    assert step_lines(ES, waiting)[1] == "Pendiente de enviar: se envía en cuanto haya señal."
    assert step_lines(ES, waiting)[0].startswith("Temperatura 38,6 °C")
    [refused] = merge({}, [_item(OutboxState.FAILED, "No puedes.")])
    assert refused.mark is Mark.FAILED and step_lines(ES, refused)[1] == "No se envió: No puedes."
    # Accepted: the server's episode replaces the phone's (the id map says they are the same).
    synced = merge({"e1": _episode()}, [_item()], lambda rid: "e1")
    assert [v.mark for v in synced] == [Mark.SYNCED]
    done = _episode(status=contract.FeverStatus.ANTIBIOTICO, arrived_at=NOW, triage_at=NOW, antibiotic_at=NOW)
    lines = step_lines(EN, merge({"e1": done}, [])[0])
    assert [line.split(":")[0] for line in lines[2:]] == [
        "Arrival at the emergency room",
        "Assessment in the emergency room (triage)",
        "First antibiotic",
    ]


def test_an_unsent_fever_notice_is_named_at_logout() -> None:
    assert describe_unsent(ES, [_item()]) == "1 aviso de fiebre"
    assert describe_unsent(EN, [_item(), _item()]) == "2 fever notices"
