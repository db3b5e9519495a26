"""The in-process price check (fs_cgr.embedded.price): fs_cgr.rating only, no node."""

from decimal import Decimal

import pytest

from fs_cgr.embedded import price
from tests.agents.lab import DE, UNPRICED, write_plan


class Session:
    """mod_python3's Session: variables only."""

    def __init__(self, **variables):
        self.vars = variables

    def getVariable(self, name):  # noqa: N802 (mod_python3's name)
        return self.vars.get(name)

    def setVariable(self, name, value):  # noqa: N802
        self.vars[name] = value


@pytest.fixture
def plan(tmp_path):
    return str(write_plan(tmp_path))


def channel(plan, destination, **variables):
    return Session(
        uuid="u1", destination_number=destination, username="1001", fs_cgr_tariffplan=plan,
        **variables,
    )  # fmt: skip


def test_price_of_the_channels_call(plan):
    session = channel(plan, DE)
    price.handler(session, "61")
    assert Decimal(session.vars["cgr_price"]) == Decimal("0.61")  # 0.01 per second, per second
    uk = channel(plan, "4400000")
    price.handler(uk, "90")
    assert Decimal(uk.vars["cgr_price"]) == Decimal("0.95")  # 0.05 connect + 0.6/min per second


def test_unpriced_destination_is_named(plan):
    session = channel(plan, UNPRICED)
    price.handler(session, "60")
    assert "cgr_price" not in session.vars
    assert "UNAUTHORIZED_DESTINATION" in session.vars["cgr_price_error"]


def test_unusable_folder_or_usage_is_a_system_error(tmp_path, plan):
    for session, args in ((channel(str(tmp_path / "none"), DE), "60"), (channel(plan, DE), "x")):
        price.handler(session, args)
        assert session.vars["cgr_price_error"] == "SYSTEM_ERROR"


def test_the_plan_is_compiled_once_per_interpreter(plan, monkeypatch):
    price.handler(channel(plan, DE), "1")
    monkeypatch.setattr(price, "load_engine", lambda folder: pytest.fail("compiled twice"))
    session = channel(plan, DE)
    price.handler(session, "2")
    assert Decimal(session.vars["cgr_price"]) == Decimal("0.02")
