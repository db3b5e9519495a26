"""Values from a call never reach a FreeSWITCH command unchecked (issue 8, point 2)."""

import pytest

from fs_cgr.agents import notify
from fs_cgr.esl import commands
from fs_cgr.esl.commands import UnsafeArgument
from tests.agents.lab import DE
from tests.fssim import wait_until

UUID = "8b4e6f1a-0c1d-4f7e-9a55-3c2b1d0e9f10"
HOSTILE = ["4912345 XML hupall XML cgr", "49\t1", "49'1", '49"1', "49\\1", "49\x00", "49\u2028"]


def wire(call) -> list[str]:
    return [command.replace(call.uuid, "<uuid>") for command in call.api_log]


@pytest.mark.parametrize("destination", HOSTILE + ["-both", ""])
def test_uuid_transfer_refuses_a_destination_that_would_change_the_command(destination):
    with pytest.raises(UnsafeArgument, match="uuid_transfer: destination"):
        commands.uuid_transfer(UUID, destination, "XML", "default")


@pytest.mark.parametrize("context", HOSTILE + ["-bleg"])
def test_uuid_transfer_refuses_such_a_context(context):
    with pytest.raises(UnsafeArgument, match="uuid_transfer: context"):
        commands.uuid_transfer(UUID, "4912345", "XML", context)


def test_uuid_transfer_of_plain_values():
    line = commands.uuid_transfer(UUID, "+49123;x=1", "XML", "public")
    assert line == f"uuid_transfer {UUID} +49123;x=1 XML public"


def test_set_variables_in_one_command_or_one_each_when_a_value_holds_a_semicolon():
    assert commands.set_variables(UUID, {"cgr_notify": "+AUTH_OK", "a": "x=y"}) == [
        f"uuid_setvar_multi {UUID} cgr_notify=+AUTH_OK;a=x=y"
    ]
    assert commands.set_variables(UUID, {"cgr_notify": "+AUTH_OK", "a": "1;2"}) == [
        f"uuid_setvar {UUID} cgr_notify +AUTH_OK",
        f"uuid_setvar {UUID} a 1;2",
    ]


@pytest.mark.parametrize("name", ["a=b", "a;b", "a b", ""])
def test_set_variables_refuses_a_name_with_a_separator(name):
    with pytest.raises(UnsafeArgument, match="variable"):
        commands.set_variables(UUID, {name: "1"})


@pytest.mark.parametrize("value", ["1 2", "1\n2", "'1'"])
def test_set_variables_refuses_a_value_that_splits(value):
    with pytest.raises(UnsafeArgument, match="cgr_routes"):
        commands.set_variables(UUID, {"cgr_notify": "+AUTH_OK", "cgr_routes": value})


@pytest.mark.parametrize(
    "build",
    [
        lambda bad: commands.uuid_kill(bad, "NORMAL_CLEARING"),
        lambda bad: commands.uuid_kill(UUID, bad),
        lambda bad: commands.uuid_broadcast(UUID, f"playback!x::{bad}", "aleg"),
        lambda bad: commands.hupall("MANAGER_REQUEST", "cgr_reqtype", bad),
        lambda bad: commands.uuid_setvar(bad, "cgr_notify", "+AUTH_OK"),
    ],
)
@pytest.mark.parametrize("bad", ["x hupall", "x\r\n\r\napi hupall", "x'"])
def test_every_command_refuses_a_value_that_splits(build, bad):
    with pytest.raises(UnsafeArgument, match="holds"):
        build(bad)


def test_a_destination_with_spaces_is_refused_and_never_transferred(lab):
    """The injected ``hupall`` would end every call on the box: the bystander lives on."""
    lab.topup("1001", "1")
    bystander = lab.call()
    lab.answer(bystander)
    hostile = lab.sim.place_call(
        lab.agent.address,
        {"cgr_reqtype": "*prepaid", "cgr_account": "1001"},
        destination="4912345 XML hupall XML cgr",
    )
    hostile.wait_closed()
    assert wire(hostile) == [
        "connect",
        "api uuid_setvar_multi <uuid> cgr_notify=-MISSING_PARAMETER",
        "api uuid_kill <uuid> INVALID_NUMBER_FORMAT",
    ]
    assert hostile.vars["cgr_notify"] == notify.MISSING_PARAMETER
    assert hostile.channel.hangup_cause == "INVALID_NUMBER_FORMAT"
    assert not hostile.channel.transferred.is_set()
    assert bystander.channel.alive and lab.sim.inbound_log.count("api hupall") == 0
    bystander.hangup()
    cdr = lab.cdr_of(bystander)
    assert lab.balance("1001") == 1 - cdr["Cost"]


def test_a_context_with_spaces_is_refused_and_never_transferred(lab):
    lab.topup("1001", "1")
    hostile = lab.sim.place_call(
        lab.agent.address,
        {"cgr_reqtype": "*prepaid", "cgr_account": "1001"},
        destination=DE,
        context="cgr hupall",
    )
    hostile.wait_closed()
    assert [line for line in wire(hostile) if "uuid_transfer" in line] == []
    assert hostile.vars["cgr_notify"] == notify.MISSING_PARAMETER
    wait_until(lambda: not hostile.channel.alive, 5, "the refused call hung up")
    assert lab.balance("1001") == 1 and lab.node.accounts.net == 0
