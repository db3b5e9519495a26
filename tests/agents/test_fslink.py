"""Inbound links: reading ``show channels``, several FreeSWITCH boxes, hangup events."""

import gevent
import pytest

from fs_cgr.agents.fslink import FreeSwitchLinks, UnreadableChannels, parse_channels
from fs_cgr.config import EventSocketConn
from tests.fssim import FreeSwitchSim, wait_until
from tests.fssim.channel import SimChannel
from tests.fssim.sim import SHOW_CHANNELS_COLUMNS, SIM_PASSWORD

UUID1 = "865175b4-d220-40ef-b500-7f7061a0b970"
UUID2 = "40ff8a22-52b4-44e5-ada6-148a9b4a8842"


def row(uuid: str) -> str:
    """A row whose application_data holds commas, as FreeSWITCH prints it (unquoted)."""
    return f"{uuid},inbound,2026-11-22 02:33:29,1795314809,loopback/1002-b,CS_EXECUTE,,1001,,a,b,c"


def test_show_channels_with_rows_gives_their_uuids():
    text = "\n".join([SHOW_CHANNELS_COLUMNS, row(UUID1), row(UUID2), "", "2 total.\n"])
    assert parse_channels(text) == {UUID1, UUID2}


def test_show_channels_without_channels_is_an_empty_list():
    assert parse_channels("\n0 total.\n") == frozenset()  # as capture 12 shows it


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-ERR show Command not found!\n",
        "\n".join([SHOW_CHANNELS_COLUMNS, row(UUID1), "", "2 total.\n"]),  # a row missing
        "\n".join([SHOW_CHANNELS_COLUMNS, row(UUID1), row(UUID2)]),  # cut before the total
        "\n".join(["uuid_is_not_first,x", row(UUID1), "", "1 total.\n"]),
        "\n".join([SHOW_CHANNELS_COLUMNS, row(UUID1), row(UUID1), "", "2 total.\n"]),
    ],
)
def test_anything_but_a_whole_list_is_unreadable(text):
    with pytest.raises(UnreadableChannels):
        parse_channels(text)


@pytest.fixture
def boxes():
    """Two simulated FreeSWITCH boxes with their inbound ports."""
    sims = [FreeSwitchSim(), FreeSwitchSim()]
    addresses = [sim.listen_inbound() for sim in sims]
    yield sims, addresses
    for sim in sims:
        sim.close()


@pytest.fixture
def hangups() -> list:
    """(alias, uuid) of every CHANNEL_HANGUP_COMPLETE the links delivered."""
    return []


@pytest.fixture
def links(boxes, hangups):
    sims, addresses = boxes
    confs = [
        EventSocketConn(address=f"{host}:{port}", password=SIM_PASSWORD, alias=f"fs{n}")
        for n, (host, port) in enumerate(addresses, 1)
    ]
    started = FreeSwitchLinks(confs, lambda link, event: hangups.append((link.alias, event.uuid)))
    started.start()
    assert started.wait_connected(5)
    wait_until(lambda: all(link.core_uuid for link in started.links), 5, "the core uuids")
    yield started
    started.stop()


def park(sim: FreeSwitchSim, variables=None):
    """A channel on ``sim`` with no outbound socket (as after a socket drop)."""
    if variables is None:
        variables = {"cgr_reqtype": "*prepaid", "cgr_notify": "+AUTH_OK"}
    channel = SimChannel(sim, "4912345", "1001", variables, "127.0.0.1:8084")
    sim.channels[channel.uuid] = channel
    return channel


def test_each_box_is_known_by_its_core_uuid(boxes, links):
    sims, _ = boxes
    assert [link.core_uuid for link in links.links] == [sim.core_uuid for sim in sims]
    assert links.for_channel({"Core-UUID": sims[1].core_uuid}).alias == "fs2"
    assert links.for_channel({"Core-UUID": "elsewhere"}) is None


def test_kill_goes_to_the_box_of_the_call(boxes, links):
    sims, _ = boxes
    channel = park(sims[1])
    assert links.kill(channel.uuid, "fs2") is True
    assert f"api uuid_kill {channel.uuid} MANAGER_REQUEST" in sims[1].inbound_log
    assert not any("uuid_kill" in line for line in sims[0].inbound_log)
    assert links.kill(channel.uuid, "fs2") is False  # gone now: "-ERR No such channel!"


def test_kill_on_an_unknown_box_tries_every_box(boxes, links):
    sims, _ = boxes
    channel = park(sims[0])
    assert links.kill(channel.uuid) is True and not channel.alive


def test_hangup_events_of_every_box_reach_the_handler(boxes, links, hangups):
    sims, _ = boxes
    channels = [park(sim) for sim in sims]
    for sim, channel in zip(sims, channels, strict=True):
        sim.hangup(channel, "NORMAL_CLEARING")
    wait_until(lambda: len(hangups) == 2, 5, "both hangups")
    assert sorted(hangups) == [("fs1", channels[0].uuid), ("fs2", channels[1].uuid)]


def test_only_calls_with_a_verdict_reach_the_handler(boxes, links, hangups):
    """The link filters on cgr_notify: b-legs and uncharged calls are not even sent."""
    sims, _ = boxes
    assert "filter variable_cgr_notify /./" in sims[0].inbound_log
    uncharged, bleg = park(sims[0], {}), park(sims[0], {"cgr_reqtype": "*prepaid"})
    charged = park(sims[0])
    for channel in (uncharged, bleg, charged):
        sims[0].hangup(channel, "NORMAL_CLEARING")
    wait_until(lambda: hangups, 5, "the hangup")
    gevent.sleep(0.1)
    assert hangups == [("fs1", charged.uuid)]
    session = sims[0].inbound_sessions[0]
    assert session.events_sent == ["CHANNEL_HANGUP_COMPLETE"]


def test_live_channels_tells_a_silent_box_apart(boxes, links):
    sims, _ = boxes
    for link in links.links:
        link.command_timeout = 0.3
    channel = park(sims[0])
    sims[1].inbound_stalled = True
    assert links.live_channels() == {"fs1": {channel.uuid}, "fs2": None}


def test_hangup_on_shutdown_reaches_every_box(boxes, links):
    sims, _ = boxes
    links.stop(hangup=True)
    for sim in sims:
        assert sim.inbound_log[-2:] == [
            "api hupall MANAGER_REQUEST cgr_reqtype *prepaid",
            "api hupall MANAGER_REQUEST cgr_reqtype *postpaid",
        ]
