"""A FreeSWITCH stand-in speaking the event-socket wire format of 1.10.12, on real sockets.

Outbound mode: ``sim.place_call(addr, ...)`` connects to an outbound ESL server
the way the ``socket 127.0.0.1:8084 async full`` dialplan app does, and waits
for ``connect``; ``static=True`` plays ``socket 127.0.0.1:8084 full`` (no async), whose
channel reads fs_cgr's verdict as soon as the socket closes, as the shipped dialplan's
``execute_extension`` of fs_cgr_verdict does (``VERDICT_HANGUPS``). Inbound mode:
``sim.listen_inbound()`` serves port-8021-style clients (auth, api, bgapi, events).
Both share one set of channels, so a ``hupall`` on the inbound link hangs up calls whose
outbound sockets then see CHANNEL_HANGUP, the linger notice and CHANNEL_HANGUP_COMPLETE.

Time in events (answer, hangup, billsec) comes from ``sim.clock``, a FakeClock
the test advances; socket timing (reply delays, stalls) is real.
"""

import contextlib
import re

import gevent
from gevent import socket
from gevent.event import Event as Flag
from gevent.lock import Semaphore
from gevent.server import StreamServer

from tests.fssim import wire
from tests.fssim.channel import CALLERS, SimChannel, gmt_stamp, local_stamp, new_uuid
from tests.fssim.clock import FakeClock

VERSION = (
    "FreeSWITCH Version 1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit"
    " (git a88d069 2024-08-02 21:02:27Z 64bit)\n"
)
NO_CHANNEL = "-ERR No such channel!\n"
SHOW_USAGE = (
    "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count"
    "|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases"
    "|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits"
    "|status\n"
)
SHOW_CHANNELS_COLUMNS = (
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,"
    "application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,"
    "write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,"
    "callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,"
    "initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context"
)
PLAYBACK = ("playback", "tone_stream://%(1000,0,440);loops=-1")
VERDICT_STEP = ("execute_extension", "fs_cgr_verdict XML fs_cgr_verdict")
# freeswitch_conf/dialplan/fs_cgr_verdict.xml: each refusal's hangup after its respond (a
# loopback channel ignores respond); +AUTH_OK goes on; anything else, none included: 503
VERDICT_HANGUPS = {
    "-INSUFFICIENT_FUNDS": "CALL_REJECTED",
    "-UNAUTHORIZED_DESTINATION": "CALL_REJECTED",
    "-MISSING_PARAMETER": "CALL_REJECTED",
    "-SYSTEM_ERROR": "NORMAL_TEMPORARY_FAILURE",
    "-RESOURCE_UNAVAILABLE": "USER_BUSY",
}
NO_VERDICT_HANGUP = "NORMAL_TEMPORARY_FAILURE"


def wait_until(predicate, timeout: float, what: str):
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = gevent.get_hub().loop.now() + timeout
    while not (result := predicate()):
        if gevent.get_hub().loop.now() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        gevent.sleep(0.005)
    return result


SIM_PASSWORD = "sim-esl-secret"  # the event-socket password of every simulator (no default)


class FreeSwitchSim:
    def __init__(self, clock: FakeClock | None = None, password: str = SIM_PASSWORD):
        self.clock = clock or FakeClock()
        self.password = password
        self.core_uuid = new_uuid()
        self.hostname = "vm"
        self.channels: dict[str, SimChannel] = {}  # live channels by uuid
        self.calls: list[SimCall] = []
        self.listeners: list[Listener] = []
        self.bound: dict[str, set] = {}  # uuid -> listeners that sent myevents for it
        self.unbound: set = set()  # listeners without myevents (they hear every channel)
        self.inbound_sessions: list[InboundSession] = []
        self.inbound_log: list[str] = []  # every command received on any inbound connection
        self.inbound_stalled = False  # True: inbound commands are read but never answered
        self._inbound_server: StreamServer | None = None
        self._sequence = 400
        self._session_id = 0

    # --- outbound mode ------------------------------------------------------

    def place_call(
        self,
        address,
        variables: dict | None = None,
        destination: str = "1002",
        caller: str = "1001",
        *,
        drop_park: bool = False,
        reply_delay: float = 0.0,
        context: str = "cgr",
        static: bool = False,
    ) -> "SimCall":
        """A new channel whose dialplan ran ``socket <address> async full`` (``static``:
        ``socket <address> full``).

        ``variables`` are the channel variables set before ``socket`` (absent
        ones are not sent); ``drop_park`` loses CHANNEL_PARK as under load;
        ``reply_delay`` (real seconds) delays every reply on this socket; ``context`` is the
        dialplan context the call runs in.
        """
        host, port = address
        sock = socket.create_connection((host, port), timeout=5)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as mod_event_socket
        args = "full" if static else "async full"
        variables = dict(variables or {})
        channel = SimChannel(self, destination, caller, variables, f"{host}:{port}", args)
        channel.context = context
        self.channels[channel.uuid] = channel
        call = SimCall(self, sock, channel, drop_park=drop_park, reply_delay=reply_delay)
        call.static = static
        self.calls.append(call)
        channel.calls.append(call)
        call.start()
        return call

    # --- inbound mode -------------------------------------------------------

    def listen_inbound(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        self._inbound_server = StreamServer((host, port), self._serve_inbound)
        self._inbound_server.start()
        return self._inbound_server.address[:2]

    def stop_inbound(self) -> None:
        """Stop listening and close every inbound connection (clients see EOF, then refusal)."""
        if self._inbound_server is not None:
            self._inbound_server.close()
            self._inbound_server = None
        self.drop_inbound()

    def drop_inbound(self) -> None:
        """Close every inbound connection abruptly, without a disconnect notice."""
        for session in list(self.inbound_sessions):
            session.close()

    def _serve_inbound(self, sock, address) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = InboundSession(self, sock)
        self.inbound_sessions.append(session)
        session.write(wire.AUTH_REQUEST)
        session.serve()

    # --- shared state -------------------------------------------------------

    def host_pairs(self):
        return [
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", "192.0.2.2"),
            ("FreeSWITCH-IPv6", "fd00::2"),
        ]

    def event_head(self, event_name: str) -> list[tuple[str, str]]:
        """The headers every event starts with: its name, the box, the time, who fired it."""
        now = self.clock.now_us()
        file, function, line = CALLERS[event_name]
        return [
            ("Event-Name", event_name),
            *self.host_pairs(),
            ("Event-Date-Local", local_stamp(now)),
            ("Event-Date-GMT", gmt_stamp(now)),
            ("Event-Date-Timestamp", str(now)),
            ("Event-Calling-File", file),
            ("Event-Calling-Function", function),
            ("Event-Calling-Line-Number", line),
            ("Event-Sequence", str(self.next_sequence())),
        ]

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def next_session_id(self) -> int:
        self._session_id += 1
        return self._session_id

    def emit(self, channel: SimChannel, event_name: str, extra=()) -> None:
        self.broadcast(event_name, channel.uuid, lambda: channel.event_pairs(event_name, extra))

    def broadcast(self, event_name: str, uuid: str, build_pairs, body: str = "") -> None:
        """``build_pairs()`` makes the event's headers, only when some listener wants it."""
        # A myevents socket only hears its own channel: thousands of held calls stay cheap.
        listeners = [
            listener
            for listener in [*self.bound.get(uuid, ()), *self.unbound]
            # a listener whose filters name only Event-Name is decided before the headers
            # are built: a followed call's socket filters out ~7 of the ~10 events of its call
            if listener.wants(event_name, uuid) and listener.passes_name_filters(event_name)
        ]
        if listeners:
            pairs, encoded = build_pairs(), {}  # one serialization per event format
            for listener in listeners:
                if listener.passes_filters(pairs):
                    listener.send_event(event_name, pairs, body, encoded)

    def close(self) -> None:
        self.stop_inbound()
        for listener in list(self.listeners):
            listener.close()

    # --- what happens to channels -------------------------------------------

    def transfer(self, channel: SimChannel, destination: str, dialplan: str, context: str) -> None:
        """uuid_transfer: the park ends, the socket app returns, the dialplan runs again."""
        channel.transfer(destination, dialplan, context)
        channel.state_number = 2
        self.emit(channel, "CHANNEL_UNPARK")
        self.emit(channel, "CHANNEL_EXECUTE_COMPLETE", channel.app_pairs(completed=True))
        channel.state = "CS_ROUTING"
        self.emit(channel, "CHANNEL_STATE")
        channel.state, channel.state_number = "CS_EXECUTE", 4
        self.emit(channel, "CHANNEL_STATE")
        channel.set_var("call_uuid", channel.uuid)

    def read_verdict(self, channel: SimChannel) -> None:
        """A static socket closed: the socket app returns and the dialplan's next action,
        ``execute_extension`` of fs_cgr_verdict, ends the call unless it is +AUTH_OK."""
        if not channel.alive:
            return
        self.emit(channel, "CHANNEL_EXECUTE_COMPLETE", channel.app_pairs(completed=True))
        channel.start_app(*VERDICT_STEP)
        self.emit(channel, "CHANNEL_EXECUTE", channel.app_pairs(completed=False))
        verdict = channel.vars.get("cgr_notify", "")
        if verdict != "+AUTH_OK":
            self.hangup(channel, VERDICT_HANGUPS.get(verdict, NO_VERDICT_HANGUP))
            return
        self.emit(channel, "CHANNEL_EXECUTE_COMPLETE", channel.app_pairs(completed=True))

    def answer(self, channel: SimChannel) -> None:
        """The dialplan's ``answer`` then an endless ``playback``, as in the captures."""
        channel.start_app("answer")
        self.emit(channel, "CHANNEL_EXECUTE", channel.app_pairs(completed=False))
        channel.mark_answered()
        self.emit(channel, "CHANNEL_ANSWER")
        channel.set_var("endpoint_disposition", "ANSWER")
        self._schedule_on_answer(channel)
        channel.call_state = "ACTIVE"
        self.emit(channel, "CHANNEL_EXECUTE_COMPLETE", channel.app_pairs(completed=True))
        channel.start_app(*PLAYBACK)
        self.emit(channel, "CHANNEL_EXECUTE", channel.app_pairs(completed=False))

    def _schedule_on_answer(self, channel: SimChannel) -> None:
        """``execute_on_answer=sched_hangup +N [cause]``: hang up N fake-clock seconds later."""
        app, _, arg = channel.vars.get("execute_on_answer", "").partition(" ")
        if app != "sched_hangup":
            return
        delay, _, cause = arg.partition(" ")
        cause = cause.upper() or "ALLOTTED_TIMEOUT"
        self.clock.call_later(int(delay.lstrip("+")), lambda: self.hangup(channel, cause))

    def broadcast_file(self, channel: SimChannel, what: str) -> None:
        """``playback!<cause>::<file>`` plays (instantly here) and then hangs up with the cause."""
        channel.broadcasts.append(what)
        app, bang, rest = what.partition("!")
        if bang and "::" in rest:
            self.hangup(channel, rest.split("::", 1)[0].upper())

    def hangup(self, channel: SimChannel, cause: str) -> None:
        if not channel.alive:
            return
        channel.mark_hungup(cause)
        self.channels.pop(channel.uuid, None)
        self.emit(channel, "CHANNEL_HANGUP")
        bound = [call for call in channel.calls if not call.closed]
        for call in bound:
            call.channel_hung_up()
        response = "PLAYBACK ERROR" if channel.app == PLAYBACK else "_none_"
        self.emit(channel, "CHANNEL_EXECUTE_COMPLETE", channel.app_pairs(True, response))
        channel.state = "CS_HANGUP"
        self.emit(channel, "CHANNEL_STATE")
        channel.mark_reporting()
        self.emit(channel, "CHANNEL_STATE")
        self.emit(channel, "CHANNEL_HANGUP_COMPLETE")
        for call in bound:
            call.linger_started()

    # --- api commands -------------------------------------------------------

    def api(self, line: str) -> str:
        """Run an api command now (side effects included) and return FreeSWITCH's answer."""
        body, after = self.run_api(line)
        if after is not None:
            after()
        return body

    def run_api(self, line: str):
        """``(reply body, side effect to run after the reply was sent, or None)``."""
        name, _, args = line.strip().partition(" ")
        handler = getattr(self, f"_api_{name}", None)
        if handler is None:
            return f"-ERR {name} Command not found!\n", None
        return handler(args.split())

    def _api_version(self, args):
        return VERSION, None

    def _api_uuid_exists(self, args):
        return ("true" if args and args[0] in self.channels else "false"), None

    def _api_uuid_setvar(self, args):
        if len(args) < 2:
            return "-USAGE: <uuid> <var> [value]\n", None
        channel = self.channels.get(args[0])
        if channel is None:
            return NO_CHANNEL, None
        if len(args) > 2:
            channel.set_var(args[1], " ".join(args[2:]))
        else:
            channel.vars.pop(args[1], None)
        return "+OK\n", None

    def _api_uuid_setvar_multi(self, args):
        """``uuid_setvar_multi <uuid> a=1;b=2``: FreeSWITCH splits on ';', then the first '='."""
        if len(args) < 2:
            return "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n", None
        channel = self.channels.get(args[0])
        if channel is None:
            return NO_CHANNEL + "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n", None
        for pair in " ".join(args[1:]).split(";"):
            name, _, value = pair.partition("=")
            if value:
                channel.set_var(name, value)
            else:
                channel.vars.pop(name, None)
        return "+OK\n", None

    def _api_global_getvar(self, args):
        return (self.core_uuid if args == ["core_uuid"] else ""), None

    def _api_uuid_getvar(self, args):
        if len(args) < 2:
            return "-USAGE: <uuid> <var>\n", None
        channel = self.channels.get(args[0])
        if channel is None:
            return NO_CHANNEL, None
        return channel.vars.get(args[1], "_undef_"), None

    def _api_uuid_transfer(self, args):
        args = [arg for arg in args if arg not in ("-bleg", "-both")]
        if len(args) < 2:
            return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n", None
        channel = self.channels.get(args[0])
        if channel is None:
            return NO_CHANNEL, None
        dialplan = args[2] if len(args) > 2 else channel.dialplan  # as switch_ivr_session_transfer
        context = args[3] if len(args) > 3 else channel.context
        return "+OK\n", lambda: self.transfer(channel, args[1], dialplan, context)

    def _api_uuid_kill(self, args):
        if not args:
            return "-USAGE: <uuid> [cause]\n", None
        channel = self.channels.get(args[0])
        if channel is None:
            return NO_CHANNEL, None
        cause = args[1] if len(args) > 1 else "NORMAL_CLEARING"
        return "+OK\n", lambda: self.hangup(channel, cause)

    def _api_uuid_broadcast(self, args):
        if len(args) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n", None
        channel = self.channels.get(args[0])
        if channel is None:
            return "-ERR invalid uuid\n", None
        return "+OK Message sent\n", lambda: self.broadcast_file(channel, args[1])

    def _api_sched_broadcast(self, args):
        """FreeSWITCH schedules without looking the uuid up: +OK even for a gone channel."""
        if len(args) < 3 or not args[0].startswith("+"):
            return "-USAGE: [[+]<time>|@time] <uuid> <path> [aleg|bleg|both]\n", None
        channel = self.channels.get(args[1])
        if channel is not None:
            self.clock.call_later(int(args[0][1:]), lambda: self.broadcast_file(channel, args[2]))
        return "+OK Message scheduled\n", None

    def _api_hupall(self, args):
        cause = args[0] if args else "MANAGER_REQUEST"
        if len(args) >= 3:
            var, value = args[1], args[2]
            matching = [c for c in self.channels.values() if c.vars.get(var) == value]
            reply = f"+OK hangup all channels matching [{var}]=[{value}] with cause: {cause}\n"
        else:
            matching = list(self.channels.values())
            reply = f"+OK hangup all channels with cause {cause}\n"

        def hang_up_matching():
            for channel in matching:
                self.hangup(channel, cause)

        return reply, hang_up_matching

    def _api_show(self, args):
        if args[:1] != ["channels"]:
            return SHOW_USAGE, None
        channels = list(self.channels.values())
        if args[1:] == ["count"] or not channels:
            return f"\n{len(channels)} total.\n", None
        rows = [self._show_channels_row(channel) for channel in channels]
        return "\n".join([SHOW_CHANNELS_COLUMNS, *rows, "", f"{len(rows)} total.\n"]), None

    def _show_channels_row(self, c: SimChannel) -> str:
        """One CSV row as FreeSWITCH prints it: no quoting, even when a field has commas."""
        callstate = "ACTIVE" if c.answered_us else "RINGING"
        fields = [
            c.uuid, "inbound", local_stamp(c.created_us), str(c.created_us // 1_000_000),
            c.name, c.state, "", c.caller, "", c.destination, c.app[0], c.app[1],
            c.dialplan, c.context, "L16", "8000", "128000", "L16", "8000", "128000",
            "", self.hostname, "", "", c.vars.get("accountcode", ""), callstate,
            "Outbound Call", "cgr", "", "", "", "", "", c.caller, "", c.rdnis or c.destination,
            "xml", "cgr",
        ]  # fmt: skip
        return ",".join(fields)


def _filter_sign(value: str) -> tuple[bool, str]:
    """A filter value's leading ``+``/``-``/spaces: (positive, the rest)."""
    positive = True
    while value and value[0] in "+- ":
        if value[0] != " ":
            positive = value[0] == "+"
        value = value[1:]
    return positive, value


def _filter_regex(expression: str) -> re.Pattern:
    """FreeSWITCH's ``/re/flags`` (an ``i`` among the flags ignores case)."""
    pattern, _, options = expression[1:].rpartition("/")
    return re.compile(pattern, re.IGNORECASE if "i" in options else 0)


class Listener:
    """A socket FreeSWITCH writes events and replies to; reads commands ending in a blank line."""

    inbound = False

    def __init__(self, sim: FreeSwitchSim, sock, reply_delay: float = 0.0):
        self.sim = sim
        self.sock = sock
        self.reply_delay = reply_delay
        self.commands: list[str] = []  # every command received, without its blank line
        self.events_sent: list[str] = []  # Event-Name of every event written
        self._myevents_uuid = ""
        self.event_names: set[str] = set()
        self.event_format = "plain"
        self.filters: list[tuple[str, str]] = []  # (header, value) of ``filter``, in order
        self.closed_flag = Flag()
        self._write_lock = Semaphore()
        sim.listeners.append(self)
        sim.unbound.add(self)

    @property
    def closed(self) -> bool:
        return self.closed_flag.is_set()

    @property
    def myevents_uuid(self) -> str:
        return self._myevents_uuid

    @myevents_uuid.setter
    def myevents_uuid(self, uuid: str) -> None:
        self._unregister()
        self._myevents_uuid = uuid
        if uuid:
            self.sim.bound.setdefault(uuid, set()).add(self)
        else:
            self.sim.unbound.add(self)

    def _unregister(self) -> None:
        self.sim.unbound.discard(self)
        bound = self.sim.bound.get(self._myevents_uuid, set())
        bound.discard(self)
        if not bound:
            self.sim.bound.pop(self._myevents_uuid, None)

    def write(self, data: bytes) -> None:
        with self._write_lock:
            if self.closed:
                return
            try:  # most writes go whole in one send(); sendall() reads a socket option
                sent = self.sock.send(data)
                if sent < len(data):
                    self.sock.sendall(data[sent:])
            except OSError:
                self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed_flag.set()
        self._unregister()
        if self in self.sim.listeners:
            self.sim.listeners.remove(self)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def wants(self, event_name: str, uuid: str) -> bool:
        """Subscribed to the event (its filters are applied to its headers later)."""
        if self.myevents_uuid:
            return uuid == self.myevents_uuid
        return event_name in self.event_names or "ALL" in self.event_names

    def passes_filters(self, pairs) -> bool:
        """mod_event_socket's ``filter <header> <value>``: once any is set, an event passes
        when a filter matches one of its headers, unless a ``-`` filter matches too. A value
        starting with ``/`` is a regular expression (``/re/``); ``+``/``-`` before the value
        make a filter positive/negative; a filter on a header the event lacks is skipped."""
        if not self.filters:
            return True
        headers = {}
        for name, value in pairs:
            headers.setdefault(name, value)
        return self._passes(headers)

    def passes_name_filters(self, event_name: str) -> bool:
        """False when the filters alone refuse an event of this name: they name no header
        but Event-Name (every event has it), so its other headers cannot change that."""
        if not self.filters or any(header != "Event-Name" for header, _ in self.filters):
            return True
        return self._passes({"Event-Name": event_name})

    def _passes(self, headers: dict) -> bool:
        send = False
        for header, raw in self.filters:
            value = headers.get(header)
            if value is None:
                continue
            positive, expected = _filter_sign(raw)
            if send and positive:
                continue
            if raw.startswith("/"):
                matched = _filter_regex(expected).search(value) is not None
            else:
                matched = value.lower() == expected.lower()
            if matched and not positive:
                return False
            send = send or matched
        return send

    def send_event(self, event_name: str, pairs, body: str = "", encoded=None) -> None:
        """``encoded`` (format -> bytes) shares one serialization among listeners."""
        encoded = {} if encoded is None else encoded
        if self.event_format not in encoded:
            encode = wire.json_event if self.event_format == "json" else wire.plain_event
            encoded[self.event_format] = encode(pairs, body)
        self.events_sent.append(event_name)
        self.write(encoded[self.event_format])

    def serve(self) -> None:
        """Read commands until EOF; each is handled in this greenlet, in order."""
        buffer = b""
        try:
            while data := self.sock.recv(65536):
                buffer += data
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    command = raw.decode(errors="replace")
                    self.commands.append(command)
                    self.log(command)
                    if self.stalled(command):
                        continue
                    if self.reply_delay:
                        gevent.sleep(self.reply_delay)
                    self.handle(command)
        except OSError:
            pass
        self.close()

    def log(self, command: str) -> None:
        """Hook for a shared log of commands."""

    def stalled(self, command: str) -> bool:
        """True: the command is read but never answered."""
        return False

    def handle(self, command: str) -> None:
        line, _, rest = command.partition("\n")
        name, _, args = line.partition(" ")
        if name == "api":
            body, after = self.sim.run_api(args)
            self.write(wire.api_response(body))
            if after is not None:
                after()
        elif name == "bgapi":
            self._bgapi(args)
        elif name == "event" and args.split(" ", 1)[0] in ("plain", "json"):
            fmt, _, names = args.partition(" ")
            self.event_format = fmt
            self.event_names.update(names.split())
            self.write(wire.command_reply(f"+OK event listener enabled {fmt}"))
            self.subscribed()
        elif name == "filter":
            header, _, value = args.partition(" ")
            self.filters.append((header, value))
            self.write(wire.command_reply(f"+OK filter added. [{header}]=[{value}]"))
        elif name == "noevents":
            self.event_names.clear()
            self.myevents_uuid = ""
            self.write(wire.command_reply("+OK no longer listening for events"))
        elif name == "exit":
            self.write(wire.command_reply("+OK bye"))
            self.write(self.goodbye())
            self.close()
        else:
            self.handle_own(name, args, rest)

    def _bgapi(self, args: str) -> None:
        job = new_uuid()
        self.write(wire.command_reply(f"+OK Job-UUID: {job}", ("Job-UUID", job)))
        body, after = self.sim.run_api(args)
        command, _, command_arg = args.partition(" ")
        pairs = [
            *self.sim.event_head("BACKGROUND_JOB"),
            ("Job-UUID", job),
            ("Job-Command", command),
            ("Job-Command-Arg", command_arg),
        ]
        self.sim.broadcast("BACKGROUND_JOB", "", lambda: pairs, body)
        if after is not None:
            after()

    def subscribed(self) -> None:
        """Hook: the client subscribed to events."""

    def goodbye(self) -> bytes:
        return wire.disconnect_notice()

    def handle_own(self, name: str, args: str, rest: str) -> None:
        self.write(wire.command_reply("-ERR command not found"))

    def wait_command(self, prefix: str, timeout: float = 5.0) -> str:
        """The first command received that starts with ``prefix`` (waits for it)."""
        return wait_until(
            lambda: next((c for c in self.commands if c.startswith(prefix)), None),
            timeout,
            f"a command starting with {prefix!r}",
        )

    def wait_closed(self, timeout: float = 5.0) -> None:
        if not self.closed_flag.wait(timeout):
            raise AssertionError(f"socket still open after {timeout}s")


class SimCall(Listener):
    """One outbound socket, bound to its channel. What tests drive and inspect."""

    def __init__(self, sim, sock, channel: SimChannel, drop_park: bool, reply_delay: float):
        super().__init__(sim, sock, reply_delay)
        self.channel = channel
        self.drop_park = drop_park
        self.linger: int | None = None  # None: no linger; -1: forever; N: seconds
        self.static = False  # socket without async: the dialplan goes on once it closes
        self.park_sent = False
        self.stall: bool | str = False  # True, or a prefix: such commands are never answered

    def start(self) -> None:
        gevent.spawn(self.serve)

    @property
    def uuid(self) -> str:
        return self.channel.uuid

    @property
    def vars(self) -> dict[str, str]:
        """The channel variables now (what uuid_getvar would answer)."""
        return self.channel.vars

    @property
    def api_log(self) -> list[str]:
        """Every command fs_cgr sent on this socket, in order (``connect``, ``api ...``)."""
        return self.commands

    def stalled(self, command: str) -> bool:
        if isinstance(self.stall, str):
            return command.startswith(self.stall)
        return self.stall

    # --- driving the call ---------------------------------------------------

    def wait_transfer(self, timeout: float = 5.0) -> str:
        """``"<destination> <dialplan> <context>"`` once the channel was transferred."""
        if not self.channel.transferred.wait(timeout):
            raise AssertionError(f"no uuid_transfer within {timeout}s")
        return self.channel.transferred_to

    def answer(self) -> None:
        self.sim.answer(self.channel)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up (a BYE)."""
        self.sim.hangup(self.channel, cause)

    def drop(self) -> None:
        """The socket dies mid-call (no notice); the channel itself lives on."""
        self.close()

    # --- socket behaviour ---------------------------------------------------

    def handle_own(self, name: str, args: str, rest: str) -> None:
        if name == "connect":
            mode = "static" if self.static else "async"
            self.write(wire.connect_reply(self.channel.event_pairs("CHANNEL_DATA"), mode))
        elif name == "myevents":
            self.myevents_uuid = self.channel.uuid
            self.write(wire.command_reply("+OK Events Enabled"))
            self.subscribed()
        elif name == "linger":
            self.linger = int(args) if args else -1
            text = f"+OK will linger {args} seconds" if args else "+OK will linger"
            self.write(wire.command_reply(text))
        elif name == "nolinger":
            self.linger = None
            self.write(wire.command_reply("+OK will not linger"))
        elif name == "sendmsg":
            self._sendmsg(args.strip() or self.channel.uuid, rest)
        else:
            super().handle_own(name, args, rest)

    def close(self) -> None:
        was_open = not self.closed
        super().close()
        if was_open and self.static:
            self.sim.read_verdict(self.channel)

    def subscribed(self) -> None:
        if self.park_sent or self.drop_park or self.static or not self.channel.alive:
            return
        self.park_sent = True
        self.sim.emit(self.channel, "CHANNEL_PARK")

    def _sendmsg(self, uuid: str, rest: str) -> None:
        headers = {}
        for line in rest.split("\n"):
            name, _, value = line.partition(": ")
            headers[name] = value
        channel = self.sim.channels.get(uuid)
        if channel is None:
            self.write(wire.command_reply(f"-ERR invalid session id [{uuid}]"))
            return
        self.write(wire.command_reply("+OK"))
        command = headers.get("call-command")
        if command == "hangup":
            self.sim.hangup(channel, headers.get("hangup-cause", "NORMAL_CLEARING"))
        elif command == "execute":
            self._execute(
                channel, headers.get("execute-app-name"), headers.get("execute-app-arg", "")
            )

    def _execute(self, channel: SimChannel, app: str, arg: str) -> None:
        if app == "transfer":
            parts = arg.split()
            dialplan = parts[1] if len(parts) > 1 else channel.dialplan
            context = parts[2] if len(parts) > 2 else channel.context
            self.sim.transfer(channel, parts[0], dialplan, context)
        elif app == "set":
            name, _, value = arg.partition("=")
            channel.set_var(name, value)
        elif app == "hangup":
            self.sim.hangup(channel, arg or "NORMAL_CLEARING")

    def goodbye(self) -> bytes:
        return wire.disconnect_notice(self.channel.uuid)

    def channel_hung_up(self) -> None:
        """Right after CHANNEL_HANGUP: without linger FreeSWITCH says goodbye and closes."""
        if self.linger is None:
            self.write(self.goodbye())
            self.close()
        else:
            self.write(wire.linger_notice(self.channel.uuid, self.channel.name, self.linger))

    def linger_started(self) -> None:
        if self.linger is not None and self.linger > 0:
            self.sim.clock.call_later(self.linger, self._linger_over)

    def _linger_over(self) -> None:
        self.write(self.goodbye())
        self.close()


class InboundSession(Listener):
    """A client of port 8021: ``auth`` first, then api/bgapi/event like FreeSWITCH."""

    inbound = True

    def __init__(self, sim: FreeSwitchSim, sock):
        super().__init__(sim, sock)
        self.authenticated = False

    def close(self) -> None:
        super().close()
        if self in self.sim.inbound_sessions:
            self.sim.inbound_sessions.remove(self)

    def log(self, command: str) -> None:
        self.sim.inbound_log.append(command)

    def stalled(self, command: str) -> bool:
        return self.sim.inbound_stalled

    def handle(self, command: str) -> None:
        if self.authenticated:
            super().handle(command)
            return
        name, _, password = command.partition(" ")
        if name != "auth":
            self.write(wire.command_reply("-ERR command not found"))
        elif password == self.sim.password:
            self.authenticated = True
            self.write(wire.command_reply("+OK accepted"))
        else:
            self.write(wire.command_reply("-ERR invalid"))
            self.close()
