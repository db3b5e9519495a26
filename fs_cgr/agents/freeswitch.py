"""FreeSWITCH agent: call control from the outbound socket's ``connect`` to the priced CDR.

FreeSWITCH's ``socket 127.0.0.1:8084 async full`` hands each charged call to
``Call`` (one greenlet per socket, bounded by ``max_connections``):

connect       authorize the call, ``uuid_setvar_multi`` cgr_notify (+ cgr_routes,
              cgr_max_usage), ``uuid_transfer`` back to the number dialled; the
              dialplan's second pass acts on cgr_notify.
ANSWER        ``sessions.initiate``: prepaid money is debited ahead of use; the session
              service calls ``disconnect`` when the paid time has run out.
HANGUP_COMPLETE
              answered: ``sessions.terminate`` with FreeSWITCH's billmsec (refund,
              session cost, CDR); unanswered: only the CDR (``create_cdr``), as CGrateS.

When a call's socket dies mid-call its session lives on: the inbound links
(``fslink``) deliver its CHANNEL_HANGUP_COMPLETE and carry its ``uuid_kill``.
"""

import logging

import gevent

from fs_cgr.agents import notify
from fs_cgr.agents.fsevent import NO_CHARGING, Defaults, FSEvent, validate
from fs_cgr.agents.fslink import ChannelSync, FreeSwitchLinks
from fs_cgr.cdrs.event import PREPAID, cgrid
from fs_cgr.errors import (
    AccountDisabled,
    AccountNotFound,
    CGRError,
    InsufficientCredit,
    InvalidArgument,
    MandatoryMissing,
    NotFound,
    UnauthorizedDestination,
)
from fs_cgr.esl import ESLError, OutboundServer, frames
from fs_cgr.routes.service import format_cgr_routes, route_ids
from fs_cgr.sessions.service import INSUFFICIENT_FUNDS

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 5.0  # seconds FreeSWITCH gets to answer one command
LINK_WAIT = 5.0  # seconds start() waits for the inbound links before recovering sessions
CALL_EVENTS = ("CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE")
HANGUP_CAUSE = "MANAGER_REQUEST"
NO_DESTINATION_CAUSE = "MANDATORY_IE_MISSING"
ROUTE_FLAGS = ("*routes", "*suppliers")  # CGrateS v0.11 and v0.10 names
REFUSALS = (
    (UnauthorizedDestination, notify.UNAUTHORIZED_DESTINATION),
    ((InsufficientCredit, AccountNotFound, AccountDisabled), notify.INSUFFICIENT_FUNDS),
    ((MandatoryMissing, InvalidArgument, ValueError), notify.MISSING_PARAMETER),
)


class CommandFailed(Exception):
    """FreeSWITCH refused a command or did not answer it."""


class FreeSwitchAgent:
    """The outbound ESL server, the inbound links and the sessions they drive."""

    def __init__(self, node, listener=None):
        """``listener``: an already listening socket (a worker's, inherited), else the
        configured ``freeswitch_agent.listen`` address."""
        self.node = node
        self.config = node.config.freeswitch_agent
        self.sessions = node.sessions
        self.calls: dict[str, Call] = {}  # uuid -> call whose socket is still open
        self.links = FreeSwitchLinks(self.config.event_socket_conns, self._link_hangup)
        self.sync = ChannelSync(
            self.links,
            self.sessions,
            followed=self.calls.__contains__,
            on_disconnect=self.disconnect,
            interval=node.config.sessions.channel_sync_interval / 1e9,
        )
        self.server = OutboundServer(
            listener or self.config.listen,
            self._serve,
            self.config.max_connections,
            COMMAND_TIMEOUT,
        )

    def start(self, link_wait: float = LINK_WAIT, recover: bool = True) -> "FreeSwitchAgent":
        """Connect the links, resume or finish journaled sessions (unless ``recover`` is
        False: another worker of the node does it), then take calls."""
        self.links.start()
        if not self.links.wait_connected(link_wait):
            log.warning("not every FreeSWITCH answered within %ss; recovering anyway", link_wait)
        if recover:
            self.sync.recover()
        else:
            self.sync.recovered = True
        self.server.start()
        self.sync.start()
        log.info("FreeSWITCH agent listening on %s:%s", *self.server.address)
        return self

    def stop(self, hangup: bool | None = None) -> None:
        """Stop taking calls; hang up the charged ones (config hangup_on_shutdown) unless
        ``hangup`` is False, in which case their sessions stay journaled for a restart."""
        hangup = self.config.hangup_on_shutdown if hangup is None else hangup
        self.sync.stop()
        self.links.stop(hangup=hangup)
        self.server.stop(timeout=1.0)

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    # -- per call ------------------------------------------------------------------
    def _serve(self, conn) -> None:
        call = Call(self, conn)
        self.calls[call.uuid] = call
        try:
            call.run()
        finally:
            if self.calls.get(call.uuid) is call:
                del self.calls[call.uuid]
            if call.orphaned:
                self._adopt(call)

    def defaults(self, link) -> Defaults:
        """Event defaults; OriginHost is the box's alias, so outbound and link events of one
        call give the same CGRID."""
        alias = link.alias if link is not None else ""
        return Defaults.from_config(self.node.config, origin_host=alias)

    def disconnect(self, session, reason: str) -> None:
        """The session service's on_disconnect (paid time over, or a debit failed)."""
        verdict = notify.INSUFFICIENT_FUNDS if reason == INSUFFICIENT_FUNDS else notify.SYSTEM_ERROR
        grace = session.debit_interval / 1e9
        self.end_call(session.origin_id, session.origin_host, verdict, grace)

    def end_call(self, uuid: str, origin_host: str, verdict: str, grace: float = 1.0) -> None:
        """Tell the dialplan why (cgr_notify), optionally announce it, then hang up."""
        try:
            self.api_for(uuid, origin_host)(f"uuid_setvar {uuid} cgr_notify {verdict}")
        except CommandFailed as exc:
            log.warning("call %s: cgr_notify not set before hangup: %s", uuid, exc)
        announcement = self.config.empty_balance_ann_file
        announce = announcement and verdict == notify.INSUFFICIENT_FUNDS
        if announce and self._announce(uuid, origin_host, announcement):
            # FreeSWITCH hangs up after the file; should it not, the call ends anyway
            gevent.spawn_later(grace or 1.0, self.kill, uuid, origin_host)
            return
        self.kill(uuid, origin_host)

    def _announce(self, uuid: str, origin_host: str, path: str) -> bool:
        command = f"uuid_broadcast {uuid} playback!{HANGUP_CAUSE.lower()}::{path} aleg"
        try:
            self.api_for(uuid, origin_host)(command)
            return True
        except CommandFailed as exc:
            log.warning("call %s: empty-balance announcement failed: %s", uuid, exc)
            return False

    def kill(self, uuid: str, origin_host: str, cause: str = HANGUP_CAUSE) -> None:
        try:
            self.api_for(uuid, origin_host)(f"uuid_kill {uuid} {cause}")
        except CommandFailed as exc:
            log.info("call %s: uuid_kill: %s", uuid, exc)

    def api_for(self, uuid: str, origin_host: str):
        """``api(command) -> reply``: over the call's socket while it is open, else over
        the inbound link of its box. Raises CommandFailed."""
        call = self.calls.get(uuid)
        if call is not None and call.open:
            return call.api
        link = self.links.by_alias(origin_host) or self.links.only()

        def api(command: str) -> str:
            if link is None:
                raise CommandFailed(f"no link to FreeSWITCH {origin_host!r}")
            try:
                return checked(link.api(command))
            except ESLError as exc:
                raise CommandFailed(str(exc)) from None

        return api

    # -- calls whose socket is gone ------------------------------------------------
    def _adopt(self, call) -> None:
        """The socket closed before HANGUP_COMPLETE: finish with the link's copy if it came
        meanwhile; else the link (or the channel sync) will."""
        if call.link_hangup is not None:
            self._finish(call.link_hangup, call.defaults)

    def _link_hangup(self, link, event) -> None:
        call = self.calls.get(event.uuid)
        if call is not None:  # its own socket reports it; kept in case the socket dies first
            call.link_hangup = event
            return
        try:
            cgr_event = FSEvent(event.headers).cgr_event(self.defaults(link))
        except ValueError as exc:
            log.warning("call %s: unreadable hangup event: %s", event.uuid, exc)
            return
        if self.sessions.get(cgrid(cgr_event["OriginID"], cgr_event["OriginHost"])) is not None:
            gevent.spawn(self._terminate, cgr_event)

    def _finish(self, event, defaults: Defaults) -> None:
        try:
            cgr_event = FSEvent(event.headers).cgr_event(defaults)
        except ValueError as exc:
            log.warning("call %s: unreadable hangup event: %s", event.uuid, exc)
            return
        self._terminate(cgr_event)

    def _terminate(self, cgr_event: dict) -> None:
        try:
            self.sessions.terminate(cgr_event)
        except NotFound:
            pass  # finished by the other path meanwhile
        except Exception:
            log.exception("call %s: terminating after a socket loss failed", cgr_event["OriginID"])


class Call:
    """One outbound socket, from ``connect`` to CHANNEL_HANGUP_COMPLETE."""

    def __init__(self, agent: FreeSwitchAgent, conn):
        self.agent = agent
        self.conn = conn
        self.uuid = conn.uuid
        self.channel = FSEvent(conn.channel)
        self.defaults = agent.defaults(agent.links.for_channel(conn.channel))
        self.answered = False
        self.hung_up = False
        self.link_hangup = None  # the inbound link's CHANNEL_HANGUP_COMPLETE, if it came first

    @property
    def open(self) -> bool:
        return not self.conn.closed.is_set()

    @property
    def orphaned(self) -> bool:
        """Answered, session running, but the socket died before HANGUP_COMPLETE."""
        return self.answered and not self.hung_up

    def api(self, command: str) -> str:
        return checked(self._send_all([frames.api(command)])[0].text)

    def run(self) -> None:
        try:
            followed = self._authorize()
        except CommandFailed as exc:
            log.error(
                "call %s: FreeSWITCH did not take the verdict (%s); killing it", self.uuid, exc
            )
            self._kill_unauthorized()
            return
        if followed:
            self._forget_channel_data()
            self._follow()

    # -- connect: the verdict ------------------------------------------------------
    def _authorize(self) -> bool:
        """Set the verdict and transfer the call back; True when the call must be followed."""
        try:
            event = self.channel.cgr_event(self.defaults)
        except ValueError as exc:
            log.warning("call %s: unreadable channel data: %s", self.uuid, exc)
            self._transfer({"cgr_notify": notify.MISSING_PARAMETER}, follow=False)
            return False
        if event["RequestType"] == NO_CHARGING:
            self._transfer({"cgr_notify": notify.AUTH_OK}, follow=False)
            return False
        self._transfer(self._verdict(event), follow=True)
        return True

    def _verdict(self, event: dict) -> dict:
        """cgr_notify and what goes with it; every refusal leaves the money untouched."""
        sessions = self.agent.sessions
        flags = self.channel.flags
        prepaid = event["RequestType"] == PREPAID
        try:
            validate(event)
            reply = sessions.authorize(event, get_max_usage=_max_usage_asked(flags, prepaid))
        except Exception as exc:
            verdict = refusal(exc)
            log_refusal(self.uuid, verdict, exc)
            return {"cgr_notify": verdict}
        variables = {"cgr_notify": notify.AUTH_OK}
        if any(flag in flags for flag in ROUTE_FLAGS):
            routes = self._routes(event)
            if routes:
                variables["cgr_routes"] = routes
        if "MaxUsage" in reply:
            variables["cgr_max_usage"] = str(reply["MaxUsage"] // 1_000_000_000)
        return variables

    def _routes(self, event: dict) -> str:
        """cgr_routes; none when no route profile matches (the call goes on without)."""
        try:
            reply = self.agent.sessions.authorize(event, get_max_usage=False, get_routes=True)
            return format_cgr_routes(route_ids(reply["Routes"]))
        except NotFound:
            return ""
        except CGRError as exc:
            log.warning("call %s: no routes: %s", self.uuid, exc.message)
            return ""

    def _transfer(self, variables: dict, follow: bool) -> None:
        """Set the variables, then send the call back to the dialled number: two round
        trips. A followed call subscribes in the first: its own events (myevents), in
        JSON, and a bounded linger so HANGUP_COMPLETE is not lost when the call ends
        (plain ``linger`` would keep the socket forever). The filters spare both sides
        the ~10 other events of a call; a FreeSWITCH refusing them only costs CPU. The
        transfer waits for the variables: without them the call would come back here."""
        subscription = _subscription(self.agent.config.linger) if follow else []
        needed = len(subscription) - len(CALL_EVENTS)
        replies = self._send_all(subscription + _setvars(self.uuid, variables))
        for reply in replies[:needed]:
            if not reply.ok:
                raise CommandFailed(reply.text)
        if not all(reply.ok for reply in replies[needed : len(subscription)]):
            log.debug("call %s: FreeSWITCH refused event filters", self.uuid)
        for reply in replies[len(subscription) :]:
            checked(reply.text)
        destination = self.channel.call_destination
        if not destination:  # nowhere to send it back to: the verdict stands, the call ends
            self.agent.kill(self.uuid, self.defaults.origin_host, NO_DESTINATION_CAUSE)
            return
        self.api(f"uuid_transfer {self.uuid} {destination} XML {self.channel.call_context}")

    def _send_all(self, commands: list[bytes]) -> list:
        try:
            return self.conn.send_all(commands, COMMAND_TIMEOUT)
        except ESLError as exc:
            raise CommandFailed(str(exc)) from None

    def _kill_unauthorized(self) -> None:
        """A call whose verdict did not get through must not go on; nothing was charged."""
        self.agent.kill(self.uuid, self.defaults.origin_host)

    # -- after the transfer: answer and hangup ---------------------------------------
    def _forget_channel_data(self) -> None:
        """The connect reply (~110 headers) is not needed once the verdict is given; a held
        call keeps only its uuid (thousands of calls are held at once)."""
        self.channel = None
        self.conn.channel = {"Unique-ID": self.uuid}

    def _follow(self) -> None:
        while not self.hung_up and self._next_event():
            pass
        if not self.hung_up and not self.answered:
            # The answer would go unseen and uncharged: end the call rather than lose it.
            log.error("call %s: socket lost before answer; killing the call", self.uuid)
            self._kill_unauthorized()

    def _next_event(self) -> bool:
        """Handle the socket's next event; False once the socket is closed. (A function of
        its own, so a held call does not keep its last event alive while it waits.)"""
        event = self.conn.next_event()
        if event is None:
            return False
        if event.uuid != self.uuid:
            return True
        if event.name == "CHANNEL_ANSWER" and not self.answered:
            self._answered(event)
        elif event.name == "CHANNEL_HANGUP_COMPLETE":
            self.hung_up = True
            self._hangup_complete(event)  # then the socket closes: FreeSWITCH stops lingering
        return True

    def _answered(self, event) -> None:
        self.answered = True
        fsev = FSEvent(event.headers)
        try:
            self.agent.sessions.initiate(
                fsev.cgr_event(self.defaults),
                on_disconnect=self.agent.disconnect,
                answered_at=fsev.answered_at,
            )
        except Exception as exc:
            # No session: end the call now; terminate still charges what it used (CGrateS).
            verdict = refusal(exc)
            log_refusal(self.uuid, verdict, exc)
            self.agent.end_call(self.uuid, self.defaults.origin_host, verdict)

    def _hangup_complete(self, event) -> None:
        fsev = FSEvent(event.headers)
        try:
            cgr_event = fsev.cgr_event(self.defaults)
            if self.answered:
                self.agent.sessions.terminate(cgr_event)
            elif self.agent.config.create_cdr:
                self.agent.sessions.process_cdr(cgr_event)
        except NotFound:
            pass  # the session ended already (channel sync, a second event)
        except CGRError as exc:  # e.g. a refused call without an account: no CDR
            log.warning("call %s: hangup not processed: %s", self.uuid, exc.message)
        except Exception:
            log.exception("call %s: hangup not processed", self.uuid)


def _subscription(linger: int) -> list[bytes]:
    """The commands a followed call's socket needs, the optional event filters last."""
    return [
        frames.command("myevents"),
        frames.linger(max(1, linger)),
        frames.event(CALL_EVENTS, "json"),
        *(frames.command(f"filter Event-Name {name}") for name in CALL_EVENTS),
    ]


def _setvars(uuid: str, variables: dict) -> list[bytes]:
    """One uuid_setvar_multi; one uuid_setvar each where a value holds its separator ';'."""
    if any(";" in value for value in variables.values()):
        return [
            frames.api(f"uuid_setvar {uuid} {name} {value}") for name, value in variables.items()
        ]
    pairs = ";".join(f"{name}={value}" for name, value in variables.items())
    return [frames.api(f"uuid_setvar_multi {uuid} {pairs}")]


def _max_usage_asked(flags: tuple[str, ...], prepaid: bool) -> bool:
    """CGrateS asks for max usage without cgr_flags or with *accounts; prepaid always needs it."""
    return prepaid or not flags or "*accounts" in flags


def refusal(exc: Exception) -> str:
    """The cgr_notify value for an error; unknown ones (storage down, timeouts) are system
    errors, never a reason to let a call through."""
    for kinds, verdict in REFUSALS:
        if isinstance(exc, kinds):
            return verdict
    return notify.SYSTEM_ERROR


def log_refusal(uuid: str, verdict: str, exc: Exception) -> None:
    if verdict == notify.SYSTEM_ERROR:
        log.error("call %s: %s (%r)", uuid, verdict, exc)
    else:
        log.info("call %s: %s (%s)", uuid, verdict, getattr(exc, "message", exc))


def checked(reply: str) -> str:
    """An api reply; CommandFailed for FreeSWITCH's -ERR / -USAGE answers."""
    if reply.startswith("-"):
        raise CommandFailed(reply.strip())
    return reply
