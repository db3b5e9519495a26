"""FreeSWITCH agent: call control from the outbound socket's ``connect`` to the priced CDR.

FreeSWITCH's ``socket`` dialplan app hands each charged call to ``Call`` (one greenlet
per socket, bounded by ``max_connections``). The socket's mode, which the ``connect``
reply names, decides how the call is followed:

``socket 127.0.0.1:8084 full`` (static, the shipped dialplan): the channel's own thread
serves the socket and its dialplan goes on as soon as the socket closes.

connect       authorize the call, ``uuid_setvar_multi`` cgr_notify (+ cgr_routes,
              cgr_max_usage, the link marker), close: the dialplan's next action
              (``execute_extension`` of the verdict context) acts on cgr_notify. No
              transfer, no second hunt, no socket for the rest of the call.
ANSWER, HANGUP_COMPLETE
              arrive on the box's inbound link and are handled as an embedded call's
              (``agents.embedded``): the link marker says so.

``socket 127.0.0.1:8084 async full`` (the dialplan of earlier releases): the socket
stays with the call.

connect       authorize, ``uuid_setvar_multi``, ``uuid_transfer`` back to the number
              dialled; the dialplan's second pass acts on cgr_notify.
ANSWER        ``sessions.initiate``: prepaid money is debited ahead of use; the session
              service calls ``disconnect`` when the paid time has run out.
HANGUP_COMPLETE
              answered: ``sessions.terminate`` with FreeSWITCH's billmsec (refund,
              session cost, CDR); unanswered: only the CDR (``create_cdr``), as CGrateS.

When such a call's socket dies mid-call its session lives on: the inbound links
(``fslink``) deliver its CHANNEL_HANGUP_COMPLETE and carry its ``uuid_kill``.

With worker processes (docs/workers.md) only the worker holding the node duty subscribes
to link events; the others' links carry commands only. A worker whose call lost its
socket hands the session over to the duty worker (journal owner ``released``), which
adopts it, as it adopts the sessions of a worker that died, and finishes it with the
hangup its link delivers.

Either way a call that waited longer than ``shed_after`` for fs_cgr to get to it is
refused at once (``-SYSTEM_ERROR``, no rating): fs_cgr is behind, and a quick 503 beats
a verdict that comes too late for FreeSWITCH.
"""

import logging
import time
from collections import OrderedDict

import gevent

from fs_cgr.agents import notify
from fs_cgr.agents.embedded import EmbeddedCalls
from fs_cgr.agents.flags import ChannelFlags
from fs_cgr.agents.fslink import ChannelSync, FreeSwitchLinks
from fs_cgr.attributes.service import altered_fields, altered_values
from fs_cgr.cdrs.event import PREPAID, cgrid
from fs_cgr.config import require_event_socket_passwords
from fs_cgr.errors import (
    AccountDisabled,
    AccountNotFound,
    CGRError,
    InsufficientCredit,
    InvalidArgument,
    MandatoryMissing,
    NotFound,
    StorageUnavailable,
    UnauthorizedDestination,
)
from fs_cgr.esl import ESLError, OutboundServer, commands, frames
from fs_cgr.esl.commands import UnsafeArgument
from fs_cgr.fschannel import EMBEDDED_MARKER, NO_CHARGING, Defaults, FSEvent, validate
from fs_cgr.peers import AllowList
from fs_cgr.resources.service import ResourceUnauthorized, ResourceUnavailable
from fs_cgr.routes.service import format_cgr_routes, route_ids
from fs_cgr.sessions.service import INSUFFICIENT_FUNDS
from fs_cgr.sessions.subsystems import SessionSubsystems
from fs_cgr.workers import role as worker_role

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 5.0  # seconds FreeSWITCH gets to answer one command
LINK_WAIT = 5.0  # seconds start() waits for the inbound links before recovering sessions
HANGUPS_HEARD = 1000  # hangups of calls another worker follows, kept for their adoption
CALL_EVENTS = ("CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE")
HANGUP_CAUSE = "MANAGER_REQUEST"
NO_DESTINATION_CAUSE = "MANDATORY_IE_MISSING"
UNSAFE_DESTINATION_CAUSE = "INVALID_NUMBER_FORMAT"  # a number or context no command may carry
REFUSALS = (
    (UnauthorizedDestination, notify.UNAUTHORIZED_DESTINATION),
    ((ResourceUnavailable, ResourceUnauthorized), notify.RESOURCE_UNAVAILABLE),
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
        require_event_socket_passwords(self.config.event_socket_conns)
        self.sessions = node.sessions
        self.subsystems = SessionSubsystems(node)
        self.calls: dict[str, Call] = {}  # uuid -> call whose socket is still open
        self.embedded = EmbeddedCalls(self)  # calls authorized in FreeSWITCH (mod_python3)
        # static-socket calls authorized whose answer the link has not shown yet:
        # uuid -> (box alias, when the verdict was given)
        self.unanswered: dict[str, tuple[str, float]] = {}
        role = worker_role.current()
        self.link_events = role.follows_link_events
        self.adopts_others = self.link_events and role.workers > 1
        self.links = FreeSwitchLinks(
            self.config.event_socket_conns,
            self._link_hangup if self.link_events else None,
            on_answer=self.embedded.answered if self.link_events else None,
            on_connect=self._link_connected,
        )
        self._heard: OrderedDict[str, tuple] = OrderedDict()  # uuid -> (event, defaults)
        self._adopter = None  # the greenlet of _adopt_while_asked
        self._adopt_again = False
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
            allow=AllowList(self.config.allow_from),
        )
        self._releaser = None  # the greenlet of _sweep_loop
        self.subscription = _subscription(self.config.linger)  # a followed call's commands
        self._defaults: dict[str, Defaults] = {}  # box alias -> its events' defaults

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
        self.release_gone_calls()
        self.server.start()
        self.sync.start()
        if self.sync.interval > 0:
            self._releaser = gevent.spawn(self._sweep_loop)
        log.info("FreeSWITCH agent listening on %s:%s", *self.server.address)
        return self

    def stop(self, hangup: bool | None = None) -> None:
        """Stop taking calls; hang up the charged ones (config hangup_on_shutdown) unless
        ``hangup`` is False, in which case their sessions stay journaled for a restart."""
        hangup = self.config.hangup_on_shutdown if hangup is None else hangup
        for job in (self._releaser, self._adopter):
            if job is not None:
                job.kill()
        self._releaser = self._adopter = None
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
                self._adopt(call) if self.link_events else self._hand_over(call)

    def defaults(self, link) -> Defaults:
        """Event defaults; OriginHost is the box's alias, so outbound and link events of one
        call give the same CGRID. One per box, made once (every call asks)."""
        alias = link.alias if link is not None else ""
        defaults = self._defaults.get(alias)
        if defaults is None:
            defaults = self._defaults[alias] = Defaults.from_config(self.node.config, alias)
        return defaults

    def disconnect(self, session, reason: str) -> None:
        """The session service's on_disconnect (paid time over, or a debit failed)."""
        verdict = notify.INSUFFICIENT_FUNDS if reason == INSUFFICIENT_FUNDS else notify.SYSTEM_ERROR
        grace = session.debit_interval / 1e9
        self.end_call(session.origin_id, session.origin_host, verdict, grace)

    def end_call(self, uuid: str, origin_host: str, verdict: str, grace: float = 1.0) -> None:
        """Tell the dialplan why (cgr_notify), optionally announce it, then hang up."""
        try:
            self.api_for(uuid, origin_host)(commands.uuid_setvar(uuid, "cgr_notify", verdict))
        except (CommandFailed, UnsafeArgument) as exc:
            log.warning("call %s: cgr_notify not set before hangup: %s", uuid, exc)
        announcement = self.config.empty_balance_ann_file
        announce = announcement and verdict == notify.INSUFFICIENT_FUNDS
        if announce and self._announce(uuid, origin_host, announcement):
            # FreeSWITCH hangs up after the file; should it not, the call ends anyway
            gevent.spawn_later(grace or 1.0, self.kill, uuid, origin_host)
            return
        self.kill(uuid, origin_host)

    def _announce(self, uuid: str, origin_host: str, path: str) -> bool:
        try:
            application = f"playback!{HANGUP_CAUSE.lower()}::{path}"
            self.api_for(uuid, origin_host)(commands.uuid_broadcast(uuid, application, "aleg"))
            return True
        except (CommandFailed, UnsafeArgument) as exc:
            log.warning("call %s: empty-balance announcement failed: %s", uuid, exc)
            return False

    def refuse(self, uuid: str, origin_host: str, exc: Exception) -> None:
        """A call whose session could not start: its verdict, then the hangup."""
        verdict = refusal(exc)
        log_refusal(uuid, verdict, exc)
        self.end_call(uuid, origin_host, verdict)

    def kill(self, uuid: str, origin_host: str, cause: str = HANGUP_CAUSE) -> None:
        try:
            self.api_for(uuid, origin_host)(commands.uuid_kill(uuid, cause))
        except (CommandFailed, UnsafeArgument) as exc:
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

    def _link_connected(self, link) -> None:
        """A link (re)connected: a static-socket call of its box authorized before, whose
        answer may have come while the link was down, would go on uncharged: it is ended
        (fail closed, as a socket lost before the answer)."""
        now = time.monotonic()
        missed = [
            uuid
            for uuid, (alias, at) in self.unanswered.items()
            if alias == link.alias and at < now
        ]
        for uuid in missed:
            del self.unanswered[uuid]
            log.error(
                "call %s: link to %s was down before its answer; killing it", uuid, link.alias
            )
            gevent.spawn(link.kill, uuid)

    # -- calls whose socket is gone ------------------------------------------------
    def _adopt(self, call) -> None:
        """The socket closed before HANGUP_COMPLETE: finish with the link's copy if it came
        meanwhile; else the link (or the channel sync) will."""
        if call.link_hangup is not None:
            self._finish(call.link_hangup, call.defaults)

    def _hand_over(self, call) -> None:
        """The socket died and this worker hears no link events: the duty worker adopts the
        session (it hears the hangup); it stays here when the journal cannot say so."""
        session = next((s for s in self.sessions.active() if s.origin_id == call.uuid), None)
        if session is not None and self.sessions.release(session.cgrid):
            log.info("call %s: socket lost; session handed over to the duty worker", call.uuid)
            worker_role.wake_duty()

    def _link_hangup(self, link, event) -> None:
        call = self.calls.get(event.uuid)
        if call is not None:  # its own socket reports it; kept in case the socket dies first
            call.link_hangup = event
            return
        if self.embedded.hung_up(link, event):
            return
        defaults = self.defaults(link)
        try:
            cgr_event = FSEvent(event.headers).cgr_event(defaults)
        except ValueError as exc:
            log.warning("call %s: unreadable hangup event: %s", event.uuid, exc)
            return
        if self.sessions.get(cgrid(cgr_event["OriginID"], cgr_event["OriginHost"])) is not None:
            gevent.spawn(self._finish, event, defaults)
        elif self.adopts_others:  # another worker's call: its session may come here yet
            self._heard[event.uuid] = (event, defaults)
            while len(self._heard) > HANGUPS_HEARD:
                self._heard.popitem(last=False)

    # -- sessions of other workers of the node ----------------------------------------
    def adopt_soon(self) -> None:
        """Adopt orphaned sessions in a greenlet (ADOPT_SIGNAL: a worker died or handed
        sessions over); asked again while it runs, it runs once more."""
        self._adopt_again = True
        if self._adopter is None or self._adopter.dead:
            self._adopter = gevent.spawn(self._adopt_while_asked)

    def _adopt_while_asked(self) -> None:
        while self._adopt_again:
            self._adopt_again = False
            self.adopt()

    def adopt(self) -> dict | None:
        """Take over the sessions no live worker of this node follows (a dead one's, or
        handed over): resumed while their channel lives, finished with their hangup when
        this worker heard it meanwhile, else as a restart finishes them."""
        heard = dict(self._heard)
        report = self.sync.recover(also_live=heard)
        for session_id in (report or {}).get("resumed", ()):
            session = self.sessions.get(session_id)
            hangup = heard.get(session.origin_id) if session is not None else None
            if hangup is not None:
                self._heard.pop(session.origin_id, None)
                gevent.spawn(self._finish, *hangup)
        return report

    def _finish(self, event, defaults: Defaults) -> None:
        """The hangup of an answered call whose socket is gone."""
        try:
            self.end_of_call(FSEvent(event.headers), defaults, answered=True)
        except NotFound:
            pass  # finished by the other path meanwhile
        except StorageUnavailable as exc:  # the session service keeps the facts and retries
            log.error("call %s: settling deferred: %s", event.uuid, exc.message)
        except ValueError as exc:
            log.warning("call %s: unreadable hangup event: %s", event.uuid, exc)
        except Exception:
            log.exception("call %s: terminating after a socket loss failed", event.uuid)

    # -- the end of a call ---------------------------------------------------------
    def end_of_call(
        self, fsev: FSEvent, defaults: Defaults, answered: bool, held=None, alterations=None
    ) -> None:
        """Settle a finished call: its session (answered) or its CDR (not), then release its
        resources and report it to ThresholdS/StatS, as its cgr_flags ask. ``held``: whether
        the call holds resource units (unknown: as its flags say); ``alterations``: what
        AttributeS changed at connect (unknown: asked again). Raises what the session or CDR
        path raised (NotFound: settled already; nothing is reported twice)."""
        flags = ChannelFlags.parse(fsev.flags)
        event = self.altered(fsev.cgr_event(defaults), flags, alterations)
        try:
            cost = self._settle(event, answered)
        finally:
            if flags.resources if held is None else held:
                self.release(event)
        event["Cost"] = cost if cost is not None else -1
        self.subsystems.report(event["Tenant"], event, flags.reporting(), event["OriginID"])

    def _settle(self, event: dict, answered: bool):
        """The call's *default cost, when it was priced."""
        if answered:
            wait = self.config.cdr_commit_wait / 1e9  # ns -> s
            result = self.sessions.terminate(event, commit_wait=wait)
            if "*default" in result.costs:
                return result.costs["*default"]
            return _default_cost(result.cdr or ())
        if self.config.create_cdr:
            return _default_cost([self.sessions.process_cdr(event)])
        return None

    def altered(self, cgr_event: dict, flags: ChannelFlags, alterations=None) -> dict:
        """The event as AttributeS alters it (``*attributes``), else as it is. A call that
        was altered at connect keeps those alterations (CGrateS' session keeps its altered
        event): ``alterations`` are laid over the later events instead of asking again."""
        if alterations is not None:
            return {**cgr_event, **alterations}
        return self.altered_keeping(cgr_event, flags)[0]

    def altered_keeping(self, cgr_event: dict, flags: ChannelFlags) -> tuple[dict, dict | None]:
        """``(event, alterations)``: the event as AttributeS alters it, and what to lay
        over the call's later events instead of asking again (None: ``*attributes`` not
        asked)."""
        tenant, event, reply = self.subsystems.alter(
            cgr_event["Tenant"], cgr_event, flags.altering()
        )
        alterations = _alterations(reply, tenant) if flags.attributes else None
        return {**event, "Tenant": tenant}, alterations

    def allocate(self, event: dict, origin_host: str) -> bool:
        """One resource unit for the call (UsageID its uuid); False when no resource profile
        matches it: no limit applies to the call (CGrateS would refuse it as NOT_FOUND).
        Over a limit: SubsystemError caused by ResourceUnavailable."""
        owner = self.owner(origin_host)
        allocated = self.subsystems.allocate_resources(event["Tenant"], event, owner, optional=True)
        return allocated is not None

    def resources_free(self, event: dict) -> None:
        """Whether the call could take a resource unit, taking none; a call no resource
        profile matches is free. Over a limit: SubsystemError caused by ResourceUnavailable."""
        self.subsystems.authorize_resources(event["Tenant"], event, optional=True)

    def release(self, event: dict) -> None:
        """Give back the call's resource units; failures only leave them to the UsageTTL."""
        try:  # a call no resource profile matches holds no unit
            self.subsystems.release_resources(event["Tenant"], event, optional=True)
        except CGRError as exc:
            log.warning("call %s: resources not released: %s", event.get("OriginID"), exc.message)

    @staticmethod
    def owner(origin_host: str) -> str:
        """Whose resource usages these are: the box's, so a restart can find its calls'."""
        return f"*fs:{origin_host}"

    def _sweep_loop(self) -> None:
        """Every channel sync interval: the resources of gone calls, and (duty worker of
        several) orphaned sessions whose ADOPT_SIGNAL was lost."""
        while True:
            gevent.sleep(self.sync.interval)
            if self.adopts_others:
                self.adopt_soon()
            try:
                self.release_gone_calls()
            except Exception:
                log.exception("releasing the resources of gone calls failed")

    def release_gone_calls(self) -> None:
        """At start (after a restart) and every channel sync interval: release the resource
        units of calls the boxes no longer have (recorded with the box as owner, beside the
        session journal), e.g. a call whose socket and hangup event were both lost. A box
        that does not answer a whole channel list keeps its units. The units are listed
        before the channels: a call's channel exists before its unit, so a unit listed first
        whose channel the box then does not list is truly gone (even one of another node)."""
        try:
            resources = self.node.resources
            owned = {
                link.alias: resources.owned(self.owner(link.alias)) for link in self.links.links
            }
        except CGRError as exc:
            log.error("resources of gone calls kept: %s", exc.message)
            return
        live = self.links.live_channels()
        for alias, usages in owned.items():
            uuids = live.get(alias)
            if uuids is None or not usages:
                continue
            gone = [u for u in usages if u[2] not in uuids and u[2] not in self.calls]
            try:
                released = self.node.resources.release_usages(gone)
            except CGRError as exc:
                log.error("FreeSWITCH %s: resources of gone calls kept: %s", alias, exc.message)
                continue
            if released:
                log.info("FreeSWITCH %s: released %d resource units of gone calls", alias, released)


class Call:
    """One outbound socket, from ``connect`` to CHANNEL_HANGUP_COMPLETE."""

    def __init__(self, agent: FreeSwitchAgent, conn):
        self.agent = agent
        self.conn = conn
        self.uuid = conn.uuid
        self.channel = FSEvent(conn.channel)
        self.link = agent.links.for_channel(conn.channel)
        self.defaults = agent.defaults(self.link)
        self.answered = False
        self.hung_up = False
        self.link_hangup = None  # the inbound link's CHANNEL_HANGUP_COMPLETE, if it came first
        self.transfer_to: str | None = None  # the uuid_transfer command, once checked
        self.kill_cause = NO_DESTINATION_CAUSE  # why a call without a transfer is hung up
        self.allocated: dict | None = None  # the event resources were allocated for
        self.alterations: dict | None = None  # fields AttributeS set at connect (+ Tenant)

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
            commands.argument("connect", "Unique-ID", self.uuid)
        except UnsafeArgument as exc:  # no command could name this channel safely
            log.error("call %s: not a FreeSWITCH channel: %s", self.uuid[:80], exc)
            return
        if self._behind():
            self._shed()
            return
        if self.conn.static:
            self._give_verdict()
            return
        try:
            followed = self._authorize()
        except (CommandFailed, UnsafeArgument) as exc:  # e.g. a route ID no command may carry
            log.error("call %s: the verdict was not given (%s); killing it", self.uuid, exc)
            self._kill_unauthorized()
            return
        if followed:
            self._forget_channel_data()
            self._follow()

    # -- overload ------------------------------------------------------------------
    def _behind(self) -> bool:
        """The call waited longer than ``shed_after`` since its socket was accepted."""
        limit = self.agent.config.shed_after / 1e9
        return limit > 0 and time.monotonic() - self.conn.accepted_at > limit

    def _shed(self) -> None:
        """Refuse without rating: -SYSTEM_ERROR, the dialplan answers 503."""
        log.warning("call %s: refused, fs_cgr is behind (shed_after exceeded)", self.uuid)
        if self.conn.static:
            self._set_verdict({"cgr_notify": notify.SYSTEM_ERROR})
            return
        try:
            self.transfer_to = self._transfer_command()
        except UnsafeArgument:
            self.kill_cause = UNSAFE_DESTINATION_CAUSE
        try:
            self._transfer({"cgr_notify": notify.SYSTEM_ERROR}, follow=False)
        except (CommandFailed, UnsafeArgument) as exc:
            log.error("call %s: the verdict was not given (%s); killing it", self.uuid, exc)
            self.agent.kill(self.uuid, self.defaults.origin_host)

    # -- static socket: the verdict, then the link follows --------------------------
    def _give_verdict(self) -> None:
        """Set cgr_notify (and what goes with it) and let the socket close: the dialplan
        goes on in the same extension. An authorized charged call also gets the link
        marker, so its box's inbound link follows it from now on, as an embedded call."""
        try:
            event = self.channel.cgr_event(self.defaults)
        except ValueError as exc:
            log.warning("call %s: unreadable channel data: %s", self.uuid, exc)
            self._set_verdict({"cgr_notify": notify.MISSING_PARAMETER})
            return
        if event["RequestType"] == NO_CHARGING:
            self._set_verdict({"cgr_notify": notify.AUTH_OK})
            return
        if self.link is None or not self.link.connected:
            # its answer and hangup would go unseen: never let such a call through
            log.error("call %s: refused, no inbound link to its FreeSWITCH", self.uuid)
            self._set_verdict({"cgr_notify": notify.SYSTEM_ERROR})
            return
        variables = self._verdict(event)
        authorized = variables["cgr_notify"] == notify.AUTH_OK
        if authorized:
            variables[EMBEDDED_MARKER] = "true"
        if self._set_verdict(variables) and authorized:
            self.agent.unanswered[self.uuid] = (self.link.alias, time.monotonic())

    def _set_verdict(self, variables: dict) -> bool:
        """One round trip; a verdict FreeSWITCH did not take ends the call (fail closed)."""
        try:
            lines = commands.set_variables(self.uuid, variables)
            for reply in self._send_all([frames.api(line) for line in lines]):
                checked(reply.text)
            return True
        except (CommandFailed, UnsafeArgument) as exc:
            log.error("call %s: the verdict was not given (%s); killing it", self.uuid, exc)
            self._kill_unauthorized()
            return False

    # -- async socket: the verdict, the transfer, then the socket follows ----------
    def _authorize(self) -> bool:
        """Set the verdict and transfer the call back; True when the call must be followed."""
        try:
            self.transfer_to = self._transfer_command()
            event = self.channel.cgr_event(self.defaults)
        except UnsafeArgument as exc:  # the dialplan never sees this call again
            log.warning("call %s: refused, %s", self.uuid, exc)
            self.kill_cause = UNSAFE_DESTINATION_CAUSE
            self._transfer({"cgr_notify": notify.MISSING_PARAMETER}, follow=False)
            return False
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
        """cgr_notify and what goes with it; every refusal leaves the money and the
        resources untouched. Fields AttributeS altered go onto the channel with it."""
        agent = self.agent
        flags = ChannelFlags.parse(self.channel.flags)
        prepaid = event["RequestType"] == PREPAID
        try:
            validate(event)
            tenant, event, attributes = agent.subsystems.alter(
                event["Tenant"], event, flags.altering()
            )
            event["Tenant"] = tenant
            if flags.attributes:
                self.alterations = _alterations(attributes, tenant)
            reply = agent.sessions.authorize(event, get_max_usage=flags.max_usage_asked(prepaid))
            if flags.resources:
                self._hold_resources(event)
        except Exception as exc:
            verdict = refusal(exc)
            log_refusal(self.uuid, verdict, exc)
            return {"cgr_notify": verdict}
        variables = {"cgr_notify": notify.AUTH_OK}
        if attributes is not None:
            variables.update(self._channel_values(altered_values(attributes), variables))
        if flags.routes:
            routes = self._routes(event)
            if routes:
                variables["cgr_routes"] = routes
        if "MaxUsage" in reply:
            variables["cgr_max_usage"] = str(reply["MaxUsage"] // 1_000_000_000)
        return variables

    def _hold_resources(self, event: dict) -> None:
        """Async socket: one resource unit now, released at hangup. Static socket: only
        whether one is free; the link takes it at answer, as CGrateS' agent (and the
        embedded path) do. Over a limit: SubsystemError caused by ResourceUnavailable."""
        if self.conn.static:
            self.agent.resources_free(event)
        elif self.agent.allocate(event, self.defaults.origin_host):
            self.allocated = event

    def _channel_values(self, values: dict[str, str], reserved) -> dict[str, str]:
        """The altered fields FreeSWITCH can take as channel variables; the others (and any
        that would overwrite fs_cgr's own) are left off with a warning."""
        settable = {}
        for name, value in values.items():
            if name in reserved or name.startswith("cgr_") or not settable_variable(name, value):
                log.warning(
                    "call %s: altered field %s=%r not set on the channel", self.uuid, name, value
                )
                continue
            settable[name] = value
        return settable

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
        subscription = self.agent.subscription if follow else []
        needed = len(subscription) - len(CALL_EVENTS)
        setvars = [frames.api(line) for line in commands.set_variables(self.uuid, variables)]
        replies = self._send_all(subscription + setvars)
        for reply in replies[:needed]:
            if not reply.ok:
                raise CommandFailed(reply.text)
        if not all(reply.ok for reply in replies[needed : len(subscription)]):
            log.debug("call %s: FreeSWITCH refused event filters", self.uuid)
        for reply in replies[len(subscription) :]:
            checked(reply.text)
        if self.transfer_to is None:  # nowhere to send it back to: the verdict stands, call ends
            self.agent.kill(self.uuid, self.defaults.origin_host, self.kill_cause)
            return
        self.api(self.transfer_to)

    def _transfer_command(self) -> str | None:
        """uuid_transfer back to the number dialled, in its context; None without a number.
        UnsafeArgument when the number or context would change the command."""
        destination = self.channel.call_destination
        if not destination:
            return None
        return commands.uuid_transfer(self.uuid, destination, "XML", self.channel.call_context)

    def _send_all(self, frames_out: list[bytes]) -> list:
        try:
            return self.conn.send_all(frames_out, COMMAND_TIMEOUT)
        except ESLError as exc:
            raise CommandFailed(str(exc)) from None

    def _kill_unauthorized(self) -> None:
        """A call whose verdict did not get through must not go on; nothing was charged,
        and what it holds of the resources is given back."""
        self.agent.kill(self.uuid, self.defaults.origin_host)
        if self.allocated is not None:
            self.agent.release(self.allocated)
            self.allocated = None

    # -- after the transfer: answer and hangup ---------------------------------------
    def _forget_channel_data(self) -> None:
        """The connect reply (~110 headers) is not needed once the verdict is given; a held
        call keeps only its uuid (thousands of calls are held at once)."""
        self.channel = self.transfer_to = None
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
                self.agent.altered(
                    fsev.cgr_event(self.defaults), ChannelFlags.parse(fsev.flags), self.alterations
                ),
                on_disconnect=self.agent.disconnect,
                answered_at=fsev.answered_at,
            )
        except Exception as exc:
            # No session: end the call now; terminate still charges what it used (CGrateS).
            verdict = refusal(exc)
            log_refusal(self.uuid, verdict, exc)
            self.agent.end_call(self.uuid, self.defaults.origin_host, verdict)

    def _hangup_complete(self, event) -> None:
        try:
            held, self.allocated = self.allocated is not None, None
            self.agent.end_of_call(
                FSEvent(event.headers), self.defaults, self.answered, held, self.alterations
            )
        except NotFound:
            pass  # the session ended already (channel sync, a second event)
        except StorageUnavailable as exc:  # the session service keeps the facts and retries
            log.error("call %s: settling deferred: %s", self.uuid, exc.message)
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


def settable_variable(name: str, value: str) -> bool:
    """A channel variable uuid_setvar_multi can carry as ``name=value`` unchanged: a name
    and a value that stay one argument (``esl.commands``), neither holding ';' or '='."""
    try:
        commands.argument("uuid_setvar_multi", "variable", name, forbidden=";=")
        commands.argument("uuid_setvar_multi", name, value, forbidden=";=")
    except UnsafeArgument:
        return False
    return True


def _alterations(reply: dict | None, tenant: str) -> dict:
    """What a ProcessEvent reply set, and the tenant: laid over the call's later events."""
    return {"Tenant": tenant, **(altered_fields(reply) if reply is not None else {})}


def _default_cost(outcomes):
    """The *default run's cost in a list of CDROutcomes (None: not priced, or no CDR)."""
    for outcome in outcomes or ():
        for cdr in outcome.cdrs:
            if cdr.get("RunID") == "*default" and cdr.get("Cost", -1) >= 0:
                return cdr["Cost"]
    return None


def refusal(exc: Exception) -> str:
    """The cgr_notify value for an error; unknown ones (storage down, timeouts) are system
    errors, never a reason to let a call through. A subsystem's error is judged by its cause."""
    exc = getattr(exc, "cause", exc)
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
