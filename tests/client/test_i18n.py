"""The string catalogue: complete in both languages; dates in the person's language."""

from __future__ import annotations

import string
from datetime import date, datetime, timedelta, timezone

import pytest

from carnet.core import i18n
from carnet.core.i18n import CATALOG, Translator


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    es, en = CATALOG["es-MX"], CATALOG["en"]
    assert es.keys() == en.keys()
    fields = lambda text: {f for _, f, _, _ in string.Formatter().parse(text) if f}  # noqa: E731
    for key in es:
        assert fields(es[key]) == fields(en[key]), key


def test_messages_and_switch() -> None:
    tr = Translator("es-MX")
    assert tr.t("err_rate_limited", minutes=5) == "Demasiados intentos. Intenta de nuevo en 5 minutos."
    assert tr.t("insecure_notice").startswith("Este dispositivo no tiene almacenamiento seguro")
    tr.set_locale("en")
    assert tr.t("login_button") == "Log in"
    tr.set_locale("es")
    assert tr.locale == "es-MX"
    with pytest.raises(ValueError):
        tr.set_locale("fr")
    assert i18n.t("login_button") == "Entrar"


def test_dates() -> None:
    tr = Translator("es-MX")
    cdmx = timezone(timedelta(hours=-6))
    assert tr.date(date(2026, 11, 22)) == "22 nov 2026"
    assert tr.datetime(datetime(2026, 11, 22, 10, 15, tzinfo=cdmx).astimezone(cdmx).replace(tzinfo=None)) \
        == "22 nov 2026, 10:15"
    assert tr.t("offline_banner", when="22 nov 2026, 10:15") == "Sin conexión — datos del 22 nov 2026, 10:15"
    tr.set_locale("en")
    assert tr.date(date(2026, 1, 5)) == "5 Jan 2026"
