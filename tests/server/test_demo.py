"""The demo data is realistic and consistent."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from carnet_server.auth.tables import User
from carnet_server.context import Context
from carnet_server.db import utcnow
from carnet_server.demo import CHILDREN, curp_check_digit, nss_check_digit
from carnet_server.patients.tables import CURP_RE, NSS_RE, Cycle


def test_identifiers_are_valid() -> None:
    for child in CHILDREN:
        assert CURP_RE.match(child.curp), child.curp
        assert child.curp[-1] == curp_check_digit(child.curp[:17])
        assert NSS_RE.match(child.nss) and child.nss[-1] == nss_check_digit(child.nss[:10])
        assert child.curp[4:10] == child.birth_date.strftime("%y%m%d")
        assert (date.today() - child.birth_date).days < 18 * 365


def luhn_ok(number: str) -> bool:
    """Standard Luhn, written independently of the code under test."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_nss_check_digit_is_luhn() -> None:
    for first10 in ("1234567890", "3919194521", "0000000001", "9999999999"):
        assert luhn_ok(first10 + nss_check_digit(first10))
    assert luhn_ok("79927398713")  # the textbook Luhn example


def test_curp_check_digit_depends_on_every_position() -> None:
    base = "HELM190314HDFRPTA"
    digit = curp_check_digit(base)
    assert digit.isdigit()
    assert curp_check_digit("HELM190314HDFRPTB") != digit
    assert curp_check_digit("HELM190315HDFRPTA") != digit


def test_seeded_counts_and_future_cycles(ctx: Context) -> None:
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 9
        today = ctx.today(utcnow())
        upcoming = session.scalar(select(func.count()).select_from(Cycle)
                                  .where(Cycle.status == "programado", Cycle.scheduled_for >= today))
        assert upcoming is not None and upcoming >= 2 * len(CHILDREN)


def test_demo_guardians_have_accepted_the_privacy_notice(ctx: Context) -> None:
    from carnet_server.privacy.notices import current_version
    from carnet_server.privacy.tables import PrivacyAcceptance

    with ctx.sessions() as session:
        versions = set(session.scalars(select(User.privacy_version).where(User.role == "guardian")))
        assert versions == {current_version(ctx.settings)}
        guardians = session.scalar(select(func.count()).select_from(User).where(User.role == "guardian"))
        assert session.scalar(select(func.count()).select_from(PrivacyAcceptance)) == guardians == 4
        assert session.scalar(select(func.count()).select_from(User).where(User.role != "guardian",
                                                                          User.privacy_version.is_not(None))) == 0
