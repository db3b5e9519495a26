"""Inbound ESL links: fs_cgr's own connection to each FreeSWITCH box (port 8021).

A call's outbound socket can die while the call goes on. What keeps such a call
charged and ended correctly runs over these links instead:

* every charged call's CHANNEL_HANGUP_COMPLETE (``event json``) goes to ``on_hangup``, so
  the agent can finish a session whose socket is gone, and its CHANNEL_ANSWER to
  ``on_answer``, which starts the sessions of calls the embedded handler authorized
  (they have no socket). A filter lets only channels with ``cgr_notify`` through: the
  calls fs_cgr gave a verdict, not the b-legs and uncharged calls of the box;
* ``uuid_kill`` for a session whose socket is gone;
* ``show channels``: which calls a box positively still has (recovery, channel sync);
* ``hupall MANAGER_REQUEST cgr_reqtype *prepaid|*postpaid`` when fs_cgr shuts down.

Each box is known by its alias (``event_socket_conns[].alias``, else its address),
which the agent puts in the events as OriginHost, and by its Core-UUID, which every
event of that box carries; so an outbound socket is matched to its box.
"""

import logging
import re

import gevent

from fs_cgr.esl import ESLError, InboundClient, commands
from fs_cgr.esl.commands import UnsafeArgument
from fs_cgr.times import diff_ns
from fs_cgr.times import now as utc_now

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 5.0  # seconds for one api command on a link
RECOVER_RETRY_FIRST = 0.5  # seconds before recovery is tried again (the journal was unreadable)
RECOVER_RETRY_MAX = 10.0
SHUTDOWN_REQUEST_TYPES = ("*prepaid", "*postpaid")
HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
ANSWER = "CHANNEL_ANSWER"
CHARGED_CALLS = ("variable_cgr_notify", "/./")  # ESL filter: a regular expression between '/'
NO_SUCH_CHANNEL = "-ERR No such channel!"
_TOTAL = re.compile(r"(\d+) total\.")


class UnreadableChannels(ValueError):
    """``show channels`` answered something that is not a complete channel list."""


def parse_channels(text: str) -> frozenset[str]:
    """The uuids of a ``show channels`` reply; UnreadableChannels unless it is whole.

    FreeSWITCH prints a CSV header line, one line per channel, a blank line and
    ``N total.``; with no channel just ``\\n0 total.\\n``. Fields are not quoted (a
    comma may sit inside one) but the uuid comes first, so it is read up to the
    first comma. The row count must match N, so a cut-off reply ends nothing.
    """
    lines = text.rstrip("\n").split("\n")
    total = _TOTAL.fullmatch(lines[-1].strip()) if lines else None
    if total is None or len(lines) < 2 or lines[-2] != "":
        raise UnreadableChannels(f"no 'N total.' line: {text[-60:]!r}")
    count = int(total.group(1))
    if count == 0:
        return frozenset()
    header, rows = lines[0], lines[1:-2]
    if not header.startswith("uuid,") or len(rows) != count:
        raise UnreadableChannels(f"{len(rows)} rows for '{count} total.'")
    uuids = frozenset(row.split(",", 1)[0] for row in rows)
    if "" in uuids or len(uuids) != count:
        raise UnreadableChannels("a row without a uuid, or a uuid twice")
    return uuids


def _subscription(on_hangup, on_answer) -> tuple[str, ...]:
    if on_hangup is None:  # a link for commands only (a worker that follows no link events)
        return ()
    return (HANGUP_COMPLETE,) if on_answer is None else (ANSWER, HANGUP_COMPLETE)


class FreeSwitchLink:
    """One FreeSWITCH box; ``on_hangup(link, event)`` gets its charged calls'
    CHANNEL_HANGUP_COMPLETE, ``on_answer(link, event)`` their CHANNEL_ANSWER. Without
    ``on_hangup`` the link subscribes to no event: it only carries commands."""

    def __init__(
        self,
        conn_config,
        on_hangup,
        command_timeout: float = COMMAND_TIMEOUT,
        on_answer=None,
        on_connect=None,
    ):
        self.alias = conn_config.alias or conn_config.address
        self.on_hangup = on_hangup
        self.on_answer = on_answer
        self.on_connect = on_connect  # on_connect(link) after every (re)connection
        self.command_timeout = command_timeout
        self.core_uuid = ""
        self.client = InboundClient(
            conn_config.address,
            conn_config.password,
            events=_subscription(on_hangup, on_answer),
            event_format="json",
            filters=(CHARGED_CALLS,) if on_hangup is not None else (),
            on_connect=self._connected,
            command_timeout=command_timeout,
            reconnects=conn_config.reconnects,
            name=self.alias,
        )
        self._reader = None

    def start(self) -> "FreeSwitchLink":
        self.client.start()
        self._reader = gevent.spawn(self._read_events)
        return self

    def stop(self) -> None:
        if self._reader is not None:
            self._reader.kill()
        self.client.stop()

    @property
    def connected(self) -> bool:
        return self.client.connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self.client.wait_connected(timeout)

    def api(self, command: str) -> str:
        """The reply body; ESLError when the link is down or silent."""
        return self.client.api(command, self.command_timeout).text

    def live_channels(self) -> frozenset[str] | None:
        """The uuids this box has now; None when it did not answer a whole list."""
        try:
            return parse_channels(self.api("show channels"))
        except (ESLError, UnreadableChannels) as exc:
            log.warning("FreeSWITCH %s: no channel list (%s)", self.alias, exc)
            return None

    def kill(self, uuid: str, cause: str = "MANAGER_REQUEST") -> bool | None:
        """uuid_kill: True done, False the box has no such channel, None no answer."""
        try:
            reply = self.api(commands.uuid_kill(uuid, cause))
        except (ESLError, UnsafeArgument) as exc:
            log.error("FreeSWITCH %s: uuid_kill %s failed: %s", self.alias, uuid, exc)
            return None
        if reply.startswith("+OK"):
            return True
        if reply.startswith(NO_SUCH_CHANNEL):
            return False
        log.error("FreeSWITCH %s: uuid_kill %s answered %r", self.alias, uuid, reply)
        return None

    def hangup_all(self, request_types=SHUTDOWN_REQUEST_TYPES) -> None:
        """hupall of the charged calls; FreeSWITCH answers +OK whether or not any matched."""
        for request_type in request_types:
            try:
                self.api(commands.hupall("MANAGER_REQUEST", "cgr_reqtype", request_type))
            except ESLError as exc:
                log.error("FreeSWITCH %s: hupall %s failed: %s", self.alias, request_type, exc)

    def _connected(self, client) -> None:
        """Learn the box's Core-UUID, which names it in the outbound sockets' channel data,
        then tell ``on_connect``."""
        self._learn_core_uuid(client)
        if self.on_connect is not None:
            self.on_connect(self)

    def _learn_core_uuid(self, client) -> None:
        try:
            reply = client.api("global_getvar core_uuid", self.command_timeout).text.strip()
        except ESLError as exc:
            log.warning("FreeSWITCH %s: core_uuid unknown (%s)", self.alias, exc)
            return
        if reply and not reply.startswith("-"):
            self.core_uuid = reply

    def _read_events(self) -> None:
        while True:
            event = self.client.events.get()
            if not self.core_uuid:
                self.core_uuid = event.get("Core-UUID", "")
            handle = {HANGUP_COMPLETE: self.on_hangup, ANSWER: self.on_answer}.get(event.name)
            if handle is None:
                continue
            try:
                handle(self, event)
            except Exception:
                log.exception(
                    "FreeSWITCH %s: %s of %s not handled", self.alias, event.name, event.uuid
                )


class FreeSwitchLinks:
    """Every configured box; calls are matched to their box by Core-UUID."""

    def __init__(
        self,
        conn_configs,
        on_hangup,
        command_timeout: float = COMMAND_TIMEOUT,
        on_answer=None,
        on_connect=None,
    ):
        self.links = [
            FreeSwitchLink(conf, on_hangup, command_timeout, on_answer, on_connect)
            for conf in conn_configs
        ]

    def start(self) -> "FreeSwitchLinks":
        for link in self.links:
            link.start()
        return self

    def stop(self, hangup: bool = False) -> None:
        """Close every link; with ``hangup`` first hang up the charged calls (hupall)."""
        if hangup:
            gevent.joinall([gevent.spawn(link.hangup_all) for link in self.links if link.connected])
        for link in self.links:
            link.stop()

    def wait_connected(self, timeout: float) -> bool:
        with gevent.Timeout(timeout, False):
            for link in self.links:
                link.wait_connected()
            return True
        return False

    def for_channel(self, channel: dict) -> FreeSwitchLink | None:
        """The box a channel (its outbound socket's headers) belongs to."""
        core_uuid = channel.get("Core-UUID", "")
        for link in self.links:
            if link.core_uuid and link.core_uuid == core_uuid:
                return link
        return self.links[0] if len(self.links) == 1 else None

    def by_alias(self, alias: str) -> FreeSwitchLink | None:
        return next((link for link in self.links if link.alias == alias), None)

    def only(self) -> FreeSwitchLink | None:
        """The link when there is just one box: every call is on it."""
        return self.links[0] if len(self.links) == 1 else None

    def kill(self, uuid: str, origin_host: str = "", cause: str = "MANAGER_REQUEST") -> bool | None:
        """uuid_kill on the call's box, or on every box when it is not known (a uuid is
        unique, the others answer "no such channel")."""
        link = self.by_alias(origin_host)
        if link is not None:
            return link.kill(uuid, cause)
        answers = [other.kill(uuid, cause) for other in self.links]
        if True in answers:
            return True
        return None if None in answers or not answers else False

    def live_channels(self) -> dict[str, frozenset[str] | None]:
        """``{alias: uuids or None}`` from every box at once."""
        jobs = {link.alias: gevent.spawn(link.live_channels) for link in self.links}
        gevent.joinall(list(jobs.values()))
        return {alias: job.value for alias, job in jobs.items()}


class ChannelSync:
    """Sessions against what FreeSWITCH says it has: after a restart, and periodically.

    A session is ended here ONLY when its box answered two whole ``show channels`` in a
    row without it (a timeout or an unreadable reply ends nothing, and FreeSWITCH writes
    new channels into the table ``show channels`` reads from a queue, late under load),
    its outbound socket is not following it (``followed(uuid)``) and it existed before
    the first of them was asked for.
    Without a HANGUP_COMPLETE the real usage is unknown: the session is charged up to
    the last moment a list showed the channel (never more than was paid, for prepaid),
    so a lost event never overcharges.
    """

    def __init__(self, links: FreeSwitchLinks, sessions, followed, on_disconnect, interval: float):
        self.links = links
        self.sessions = sessions
        self.followed = followed
        self.on_disconnect = on_disconnect
        self.interval = interval
        self.last_seen: dict[str, object] = {}  # CGRID -> when a list last showed its channel
        self.missing: set[str] = set()  # CGRIDs the last whole list lacked (ended if the next does)
        self.recovered = False
        self._loop = None

    def start(self) -> None:
        if self.interval > 0:
            self._loop = gevent.spawn(self._run)
        elif not self.recovered:  # no sync loop to retry it: retry until the DataDB answers
            self._loop = gevent.spawn(self._recover_until_done)

    def _recover_until_done(self) -> None:
        pause = RECOVER_RETRY_FIRST
        while not self.recovered:
            gevent.sleep(pause)
            self.recover()
            pause = min(pause * 2, RECOVER_RETRY_MAX)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.kill()
            self._loop = None

    def _run(self) -> None:
        while True:
            gevent.sleep(self.interval)
            if not self.recovered:
                self.recover()
                continue
            try:
                self.sync()
            except Exception:
                log.exception("channel sync failed")

    def recover(self, also_live=()) -> dict | None:
        """Resume journaled sessions whose channel is live (or whose box cannot tell, or is
        in ``also_live``), finish the others; their disconnects go over the links. Only
        sessions no live worker of this node follows are taken (``SessionService.recover``).
        None when the journal could not be read: the sync loop tries again."""
        try:
            report = self._recover(set(also_live))
        except Exception:
            log.exception("recovering journaled sessions failed; will retry")
            return None
        self.recovered = True
        return report

    def _recover(self, also_live: set[str]) -> dict:
        seen_at = utc_now()
        live = self.links.live_channels()
        journal = self.sessions.node.datadb.journal_all()
        live_ids = set().union(*(uuids for uuids in live.values() if uuids is not None))
        undecided = {
            doc.get("OriginID", "")
            for doc in journal
            if self._channels_of(doc.get("OriginHost", ""), live) is None
        }
        report = self.sessions.recover(
            live_ids | undecided | also_live, on_disconnect=self.on_disconnect
        )
        for session_id in report["resumed"]:
            self.last_seen[session_id] = seen_at
        if report["resumed"] or report["finished"]:
            log.info("recovered sessions: %s", report)
        return report

    def sync(self) -> list[str]:
        """End the sessions whose channel is positively gone; their CGRIDs."""
        before = {session.cgrid for session in self.sessions.active()}
        seen_at = utc_now()
        live = self.links.live_channels()
        ended = []
        for session in self.sessions.active():
            if session.cgrid not in before or self.followed(session.origin_id):
                continue
            channels = self._channels_of(session.origin_host, live)
            if channels is None:
                continue
            if session.origin_id in channels:
                self.last_seen[session.cgrid] = seen_at
                self.missing.discard(session.cgrid)
            elif session.cgrid not in self.missing:
                self.missing.add(session.cgrid)
            elif self._end(session):
                ended.append(session.cgrid)
        active = {s.cgrid for s in self.sessions.active()}
        for cgrid in set(self.last_seen) - active:
            del self.last_seen[cgrid]
        self.missing &= active
        return ended

    def _channels_of(self, origin_host: str, live: dict) -> frozenset[str] | None:
        """The channels of the session's box; of all boxes when its box is unknown (None
        unless every box answered)."""
        link = self.links.by_alias(origin_host) or self.links.only()
        if link is not None:
            return live.get(link.alias)
        if any(uuids is None for uuids in live.values()):
            return None
        return frozenset().union(*live.values())

    def _end(self, session) -> bool:
        last_seen = self.last_seen.pop(session.cgrid, None)
        usage = max(0, diff_ns(last_seen, session.anchor)) if last_seen else 0
        if session.paid_usage is not None:
            usage = min(usage, session.paid_usage)
        event = {key: value for key, value in session.event.items() if key != "Usage"}
        event["Usage"] = usage
        log.warning(
            "session %s (%s): channel gone without a hangup event; ending it with usage %ss",
            session.cgrid,
            session.origin_id,
            usage / 1e9,
        )
        try:
            self.sessions.terminate(event)
            return True
        except Exception as exc:
            log.error("session %s: ending failed: %s", session.cgrid, exc)
            return False
