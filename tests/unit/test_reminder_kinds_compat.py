"""Reminder kinds across versions: older apps send ``cita_manana``; the app reads a kind it does not know (one a
newer server adds) as absent, while the server refuses it in a request."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from carnet.data.api import READ_KINDS
from carnet_contract.models import ReminderKind, ReminderPreferences


def test_the_app_leaves_out_a_kind_it_does_not_know() -> None:
    answer = {"kinds": ["mezcla_lista", "vacuna_manana", "cita_manana"]}
    read = ReminderPreferences.model_validate(answer, context=READ_KINDS)
    assert read.kinds == [
        ReminderKind.MIXTURE_READY,
        ReminderKind.CHEMOTHERAPY_TOMORROW,
        ReminderKind.CONSULTATION_TOMORROW,
        ReminderKind.LABORATORY_TOMORROW,
    ]


def test_a_request_with_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        ReminderPreferences.model_validate({"kinds": ["mezcla_lista", "vacuna_manana"]})
