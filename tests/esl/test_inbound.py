"""Inbound client against the simulator's port-8021 mode: auth, api, reconnects, stalls."""

import time

import gevent
import pytest
from gevent.queue import Queue
from gevent.server import StreamServer

from fs_cgr.esl import ConnectionClosed, ESLTimeout, InboundClient
from tests.fssim import wait_until
from tests.fssim.sim import SIM_PASSWORD


@pytest.fixture
def clients():
    started = []

    def start(address, password=SIM_PASSWORD, **kwargs):
        kwargs.setdefault("backoff_initial", 0.05)
        kwargs.setdefault("backoff_max", 0.2)
        client = InboundClient(address, password, **kwargs).start()
        started.append(client)
        return client

    yield start
    for client in started:
        client.stop()


def follow_call(seen: Queue):
    def handler(conn):
        conn.myevents()
        conn.linger()
        conn.api(f"uuid_transfer {conn.uuid} 1002 XML cgr")
        while (event := conn.next_event(timeout=10)) is not None:
            seen.put(event)
        seen.put(None)

    return handler


def test_auth_api_and_show_channels(clients, sim, outbound):
    client = clients(sim.listen_inbound())
    assert client.wait_connected(5)
    assert sim.inbound_log[0] == f"auth {SIM_PASSWORD}"
    assert client.api("version").text.startswith("FreeSWITCH Version 1.10.12-release")
    assert client.api("show channels").text == "\n0 total.\n"

    server = outbound(follow_call(Queue()))
    calls = [sim.place_call(server.address, {"cgr_reqtype": "*prepaid"}) for _ in range(2)]
    for call in calls:
        call.wait_transfer()
    calls[0].answer()
    lines = client.api("show channels").text.split("\n")
    assert lines[0].startswith("uuid,direction,created,created_epoch,name,state,")
    assert len(lines[0].split(",")) == 38
    assert {line.split(",")[0] for line in lines[1:3]} == {call.uuid for call in calls}
    assert lines[3:] == ["", "2 total.", ""]
    assert client.api("show channels count").text == "\n2 total.\n"
    assert client.api("uuid_exists nope").text == "false"
    assert client.api("uuid_kill nope").text == "-ERR No such channel!\n"
    assert client.api("no_such_api_cmd").text == "-ERR no_such_api_cmd Command not found!\n"


def test_hupall_on_a_variable_ends_matching_calls_on_their_outbound_sockets(clients, sim, outbound):
    client = clients(sim.listen_inbound())
    assert client.wait_connected(5)
    seen = Queue()
    server = outbound(follow_call(seen))
    prepaid = sim.place_call(server.address, {"cgr_reqtype": "*prepaid"})
    postpaid = sim.place_call(server.address, {"cgr_reqtype": "*postpaid"})
    prepaid.wait_transfer()
    postpaid.wait_transfer()
    reply = client.api("hupall MANAGER_REQUEST cgr_reqtype *prepaid")
    assert reply.text == (
        "+OK hangup all channels matching [cgr_reqtype]=[*prepaid] with cause: MANAGER_REQUEST\n"
    )
    complete = seen.get(timeout=5)
    while complete.name != "CHANNEL_HANGUP_COMPLETE":
        complete = seen.get(timeout=5)
    assert complete.uuid == prepaid.uuid
    assert complete.get("Hangup-Cause") == "MANAGER_REQUEST"
    assert postpaid.channel.alive and not prepaid.channel.alive
    assert reply == client.api("hupall MANAGER_REQUEST cgr_reqtype *prepaid")  # nothing matched


def test_events_reach_the_client_queue(clients, sim, outbound):
    client = clients(sim.listen_inbound(), events=["CHANNEL_HANGUP_COMPLETE"])
    assert client.wait_connected(5)
    server = outbound(follow_call(Queue()))
    call = sim.place_call(server.address, {"cgr_reqtype": "*prepaid"})
    call.wait_transfer()
    client.api(f"uuid_kill {call.uuid}")
    event = client.events.get(timeout=5)
    assert (event.name, event.uuid) == ("CHANNEL_HANGUP_COMPLETE", call.uuid)
    assert event.get("Hangup-Cause") == "NORMAL_CLEARING"


def test_reconnects_resubscribes_and_runs_on_connect_again(clients, sim):
    connected = []
    address = sim.listen_inbound()
    client = clients(
        address, events=["BACKGROUND_JOB"], on_connect=lambda c: connected.append(c.connections)
    )
    assert client.wait_connected(5)
    sim.drop_inbound()
    wait_until(lambda: connected == [1, 2], 5, "a second connection")
    assert sim.inbound_log.count("event plain BACKGROUND_JOB") == 2
    assert client.bgapi("version").text.startswith("+OK Job-UUID: ")
    job = client.events.get(timeout=5)
    assert job.name == "BACKGROUND_JOB" and job.body.startswith("FreeSWITCH Version")


def test_backoff_grows_to_its_cap_then_reconnects(clients, sim):
    attempts = []
    refuser = StreamServer(("127.0.0.1", 0), lambda sock, addr: attempts.append(time.monotonic()))
    refuser.start()  # accepts, then closes before auth/request: a failed attempt each time
    port = refuser.address[1]
    client = clients(("127.0.0.1", port), backoff_initial=0.05, backoff_max=0.2)
    wait_until(lambda: len(attempts) >= 6, 5, "six attempts")
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert 0.04 < gaps[0] < 0.15 and 0.09 < gaps[1] < 0.25  # 0.05, 0.1 ...
    assert all(0.18 < gap < 0.4 for gap in gaps[2:5])  # ... capped at 0.2
    assert not client.connected.is_set()
    with pytest.raises(ConnectionClosed):
        client.api("version")
    refuser.stop()
    sim.listen_inbound(port=port)
    assert client.wait_connected(5)
    assert client.api("version").ok is False  # the version text is not an +OK reply
    assert client.api("version").text.startswith("FreeSWITCH Version")


def test_wrong_password_is_retried_with_backoff(clients, sim):
    client = clients(sim.listen_inbound(), password="wrong")
    wait_until(lambda: sim.inbound_log.count("auth wrong") >= 3, 5, "three auth attempts")
    assert not client.connected.is_set()


def test_stalled_freeswitch_times_out_and_the_client_reconnects(clients, sim):
    client = clients(sim.listen_inbound(), command_timeout=0.3)
    assert client.wait_connected(5)
    sim.inbound_stalled = True
    started = time.monotonic()
    with pytest.raises(ESLTimeout):
        client.api("show channels")
    assert time.monotonic() - started < 0.6
    sim.inbound_stalled = False
    wait_until(lambda: client.connections == 2 and client.connected.is_set(), 5, "reconnect")
    assert client.api("show channels count").text == "\n0 total.\n"


def test_connect_timeout_when_nothing_answers(clients):
    silent = StreamServer(("127.0.0.1", 0), lambda sock, addr: gevent.sleep(10))
    silent.start()
    client = clients(silent.address, connect_timeout=0.2, reconnects=0)
    gevent.sleep(0.6)
    assert not client.connected.is_set()
    assert not client.running  # reconnects=0: gave up after the first failure
    silent.stop(timeout=0)
