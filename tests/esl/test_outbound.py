"""Outbound server end to end against the simulator, on loopback sockets."""

import logging

import gevent
import pytest
from gevent import socket
from gevent.queue import Queue

from fs_cgr.esl import ConnectionClosed
from tests.fssim import wait_until

CGR_VARS = {
    "cgr_reqtype": "*prepaid",
    "cgr_flags": "*resources;*attributes;*sessions;*routes;*accounts",
    "cgr_account": "1001",
    "cgr_destination": "1002",
}
EVENTS = ["CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"]


def authorize_then_follow(seen: Queue, linger=None, fmt="plain"):
    """A handler doing what the FreeSWITCH agent does, reporting each step on ``seen``."""

    def handler(conn):
        seen.put(("channel", dict(conn.channel)))
        assert conn.myevents().text == "+OK Events Enabled"
        assert conn.linger(linger).ok
        assert conn.subscribe(EVENTS, fmt).text == f"+OK event listener enabled {fmt}"
        assert conn.api(f"uuid_setvar {conn.uuid} cgr_notify AUTH_OK").text == "+OK\n"
        assert conn.api(f"uuid_setvar {conn.uuid} cgr_max_usage 3600").text == "+OK\n"
        assert conn.api(f"uuid_transfer {conn.uuid} 1002 XML cgr").text == "+OK\n"
        while (event := conn.next_event(timeout=10)) is not None:
            seen.put(("event", event))
            if event.name == "CHANNEL_HANGUP_COMPLETE":
                seen.put(("gone", conn.api(f"uuid_getvar {conn.uuid} cgr_notify").text))
                seen.put(("exit", conn.exit().text))
        seen.put(("notices", [notice.disposition for notice in conn.notices]))

    return handler


def drain(seen: Queue, until: str, timeout: float = 5.0):
    items = []
    while True:
        kind, value = seen.get(timeout=timeout)
        items.append((kind, value))
        if kind == until:
            return items


def test_call_from_connect_to_close(outbound, sim):
    seen = Queue()
    server = outbound(authorize_then_follow(seen))
    call = sim.place_call(server.address, CGR_VARS, destination="1002")
    kind, channel = seen.get(timeout=5)
    assert channel["Unique-ID"] == call.uuid
    assert channel["variable_cgr_flags"] == CGR_VARS["cgr_flags"]
    assert channel["Reply-Text"] == "+OK\n"

    assert call.wait_transfer() == "1002 XML cgr"
    assert call.vars["cgr_notify"] == "AUTH_OK" and call.vars["cgr_max_usage"] == "3600"
    sim.clock.advance(0.02)
    call.answer()
    sim.clock.advance(61.5)
    call.hangup("NORMAL_CLEARING")
    items = drain(seen, "notices")

    names = [value.name for kind, value in items if kind == "event"]
    assert names[:2] == ["CHANNEL_PARK", "CHANNEL_UNPARK"]
    assert names.index("CHANNEL_ANSWER") < names.index("CHANNEL_HANGUP")
    assert names[-1] == "CHANNEL_HANGUP_COMPLETE"
    complete = [value for kind, value in items if kind == "event"][-1]
    assert complete.get("Hangup-Cause") == "NORMAL_CLEARING"
    # 61.5 s from 1795314809.767636 to 1795314871.267636: FreeSWITCH subtracts whole
    # epoch seconds (871 - 809), as capture 09 shows, so billsec says 62.
    assert complete.get("variable_billsec") == "62"
    assert complete.get("variable_billmsec") == "61500"
    assert complete.get("variable_cgr_notify") == "AUTH_OK"
    assert ("gone", "-ERR No such channel!\n") in items
    assert ("exit", "+OK bye") in items
    assert items[-1] == ("notices", ["linger", "disconnect"])
    call.wait_closed()
    assert call.api_log == [
        "connect",
        "myevents",
        "linger",
        "event plain CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE",
        f"api uuid_setvar {call.uuid} cgr_notify AUTH_OK",
        f"api uuid_setvar {call.uuid} cgr_max_usage 3600",
        f"api uuid_transfer {call.uuid} 1002 XML cgr",
        f"api uuid_getvar {call.uuid} cgr_notify",
        "exit",
    ]


def test_json_events_and_lost_park(outbound, sim):
    seen = Queue()
    server = outbound(authorize_then_follow(seen, fmt="json"))
    call = sim.place_call(server.address, CGR_VARS, drop_park=True)
    call.wait_transfer()
    call.answer()
    sim.api(f"uuid_setvar {call.uuid} cgr_routes ARRAY::supplier1|:supplier2")
    call.hangup()
    items = drain(seen, "notices")
    events = [value for kind, value in items if kind == "event"]
    assert "CHANNEL_PARK" not in [event.name for event in events]
    assert events[-1].get("variable_cgr_routes") == ["supplier1", "supplier2"]


def test_uuid_kill_from_the_call_socket_and_linger_expiry_on_the_clock(outbound, sim):
    seen = Queue()

    def handler(conn):
        conn.myevents()
        conn.linger(10)
        conn.api(f"uuid_transfer {conn.uuid} 1002 XML cgr")
        seen.put(("killed", conn.api(f"uuid_kill {conn.uuid} MANAGER_REQUEST").text))
        while (event := conn.next_event(timeout=10)) is not None:
            seen.put(("event", event.name))
        seen.put(("closed", conn.close_reason))

    server = outbound(handler)
    call = sim.place_call(server.address, CGR_VARS)
    assert seen.get(timeout=5) == ("killed", "+OK\n")
    wait_until(lambda: "CHANNEL_HANGUP_COMPLETE" in call.events_sent, 5, "HANGUP_COMPLETE")
    gevent.sleep(0.1)
    assert not call.closed  # lingering
    sim.clock.advance(9.9)
    gevent.sleep(0.1)
    assert not call.closed
    sim.clock.advance(0.1)
    call.wait_closed()
    items = drain(seen, "closed")
    assert ("event", "CHANNEL_HANGUP_COMPLETE") in items
    assert items[-1] == ("closed", "closed by peer")


def test_without_linger_hangup_complete_is_lost(outbound, sim):
    seen = Queue()

    def handler(conn):
        conn.myevents()
        while (event := conn.next_event(timeout=10)) is not None:
            seen.put(("event", event.name))
        seen.put(("notices", [notice.disposition for notice in conn.notices]))

    server = outbound(handler)
    call = sim.place_call(server.address, CGR_VARS)
    call.wait_command("myevents")
    call.hangup("NORMAL_CLEARING")
    items = drain(seen, "notices")
    assert ("event", "CHANNEL_HANGUP") in items
    assert ("event", "CHANNEL_HANGUP_COMPLETE") not in items
    assert items[-1] == ("notices", ["disconnect"])


def test_handler_starts_from_connect_reply_with_only_present_variables(outbound, sim):
    seen = Queue()
    server = outbound(lambda conn: seen.put(conn.channel))
    call = sim.place_call(server.address, {"cgr_account": "1001"})
    channel = seen.get(timeout=5)
    assert channel["variable_cgr_account"] == "1001"
    assert "variable_cgr_reqtype" not in channel
    call.wait_closed()  # handler returned: the server closes the socket
    assert call.channel.alive  # closing the socket does not end the call


def test_bad_peer_closes_only_its_own_connection(outbound, sim, caplog):
    caplog.set_level(logging.INFO, logger="fs_cgr.esl")
    seen = Queue()
    server = outbound(authorize_then_follow(seen, linger=5))
    bad = socket.create_connection(server.address, timeout=5)
    assert bad.recv(100) == b"connect\n\n"
    call = sim.place_call(server.address, CGR_VARS)
    call.wait_transfer()
    bad.sendall(b"Content-Type: command/reply\nReply-Text +OK\n\n")
    assert bad.recv(100) == b""  # closed by the server
    call.answer()
    call.hangup()
    items = drain(seen, "notices")
    assert items[-1] == ("notices", ["linger", "disconnect"])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 2  # the protocol error, then the failed connect it caused
    assert "malformed header line" in errors[0] and "connect failed" in errors[1]


def test_peer_that_never_answers_connect_is_dropped(outbound):
    called = []
    server = outbound(called.append, connect_timeout=0.2)
    silent = socket.create_connection(server.address, timeout=5)
    assert silent.recv(100) == b"connect\n\n"
    silent.settimeout(2)
    assert silent.recv(100) == b""
    assert called == []


def test_pool_bounds_concurrent_calls(outbound, sim):
    release = gevent.event.Event()
    running = []

    def handler(conn):
        running.append(conn.uuid)
        release.wait(5)

    server = outbound(handler, max_connections=2)
    calls = [sim.place_call(server.address, CGR_VARS) for _ in range(3)]
    wait_until(lambda: len(running) == 2, 5, "two handlers")
    gevent.sleep(0.2)
    assert len(running) == 2
    assert "connect" not in calls[2].api_log
    release.set()
    wait_until(lambda: len(running) == 3, 5, "the third handler")


def test_dropped_socket_mid_call_releases_the_handler(outbound, sim):
    seen = Queue()

    def handler(conn):
        conn.myevents()
        try:
            conn.api("uuid_exists x", timeout=10)
        except ConnectionClosed as exc:
            seen.put(str(exc))

    server = outbound(handler)
    call = sim.place_call(server.address, CGR_VARS)
    call.stall = "api uuid_exists"
    call.wait_command("api uuid_exists")
    call.drop()
    assert "closed by peer" in seen.get(timeout=5)


@pytest.mark.parametrize("delay", [0.3])
def test_reply_delay_is_real_time(outbound, sim, delay):
    seen = Queue()
    server = outbound(lambda conn: seen.put(conn.api("version", timeout=delay + 1).text))
    sim.place_call(server.address, CGR_VARS, reply_delay=delay)
    assert seen.get(timeout=5).startswith("FreeSWITCH Version 1.10.12")


def test_sendmsg_transfer_and_hangup_like_capture_03(outbound, sim):
    seen, answered = Queue(), Queue()

    def handler(conn):
        conn.myevents()
        conn.linger(5)
        assert conn.execute(conn.uuid, "set", "cgr_notify=AUTH_OK").text == "+OK"
        assert conn.execute(conn.uuid, "transfer", "1002 XML cgr").text == "+OK"
        answered.get(timeout=5)
        assert conn.hangup(conn.uuid, "MANAGER_REQUEST").text == "+OK"
        while (event := conn.next_event(timeout=10)) is not None:
            if event.name == "CHANNEL_HANGUP_COMPLETE":
                seen.put(event)

    server = outbound(handler)
    call = sim.place_call(server.address, CGR_VARS)
    assert call.wait_transfer() == "1002 XML cgr"
    assert call.vars["cgr_notify"] == "AUTH_OK"
    call.answer()
    sim.clock.advance(3)
    answered.put(True)
    complete = seen.get(timeout=5)
    assert complete.get("Hangup-Cause") == "MANAGER_REQUEST"
    assert complete.get("variable_billsec") == "3"
    assert call.api_log[-1] == (
        f"sendmsg {call.uuid}\ncall-command: hangup\nhangup-cause: MANAGER_REQUEST"
    )


def test_max_usage_enforced_by_freeswitch_timers_on_the_fake_clock(outbound, sim):
    """What CGrateS' agent asks FreeSWITCH for: sched_hangup on answer, a warning broadcast."""
    seen = Queue()

    def handler(conn):
        conn.myevents()
        conn.linger(5)
        uuid = conn.uuid
        conn.api(f"uuid_setvar {uuid} execute_on_answer sched_hangup +60 alloted_timeout")
        reply = conn.api(f"sched_broadcast +50 {uuid} playback::/sounds/low_balance.wav aleg")
        assert reply.text == "+OK Message scheduled\n"
        conn.api(f"uuid_transfer {uuid} 1002")
        while (event := conn.next_event(timeout=10)) is not None:
            if event.name == "CHANNEL_HANGUP_COMPLETE":
                seen.put(event)

    server = outbound(handler)
    call = sim.place_call(server.address, CGR_VARS)
    assert call.wait_transfer() == "1002 xml cgr"  # dialplan and context of the channel
    call.answer()
    sim.clock.advance(50)
    assert call.channel.broadcasts == ["playback::/sounds/low_balance.wav"]
    assert call.channel.alive
    sim.clock.advance(10)
    complete = seen.get(timeout=5)
    # The sim upper-cases the cause as given; how FreeSWITCH maps the misspelt name is unverified.
    assert complete.get("Hangup-Cause") == "ALLOTED_TIMEOUT"
    assert complete.get("variable_billsec") == "60"
