"""Calls the embedded handler authorized (``fs_cgr.embedded``), followed over the links.

Such a call has no outbound socket: FreeSWITCH's mod_python3 handler asked the node
(SessionSv1.AuthorizeEvent), set cgr_notify and the marker ``fs_cgr_embedded=true``,
and the dialplan went on. Its CHANNEL_ANSWER and CHANNEL_HANGUP_COMPLETE arrive on the
inbound link of its box, as they do for CGrateS' FreeSWITCH agent:

ANSWER           the event as AttributeS alters it (``*attributes``; the alterations are
                 kept for the hangup, as a socket call keeps its connect's), one resource unit
                 (``*resources``: the handler only authorized it), ``sessions.initiate``
                 (prepaid: debit ahead; money end -> the agent's ``disconnect`` ->
                 cgr_notify + ``uuid_kill`` over the link);
HANGUP_COMPLETE  the agent's ``end_of_call``, as for a socket call: answered
                 ``sessions.terminate`` with billmsec (refund, cost, CDR), unanswered only
                 the CDR; then the unit is released and ThresholdS/StatS get the call.

Restart, journal and channel sync work as for a socket call whose socket is gone: the
sessions are journaled by the session service and recovered against ``show channels``.

A call authorized on a static outbound socket (``socket ... full``) carries the same
marker and is followed here the same way once its socket closed.
"""

import logging
from collections import OrderedDict

import gevent

from fs_cgr.agents.flags import ChannelFlags
from fs_cgr.cdrs.event import cgrid
from fs_cgr.errors import CGRError, NotFound
from fs_cgr.fschannel import NO_CHARGING, FSEvent

log = logging.getLogger(__name__)

# Answers' alterations kept for their hangups: beyond this many (hangups lost with the
# link, calls ended by the channel sync) the oldest go, and such a hangup asks AttributeS.
ALTERATIONS_KEPT = 50_000


class EmbeddedCalls:
    """The link events of embedded calls, each call's in order (answer before hangup)."""

    def __init__(self, agent):
        self.agent = agent
        self.sessions = agent.sessions
        self.answering: dict[str, gevent.Greenlet] = {}  # uuid -> its initiate, while it runs
        self.alterations: OrderedDict[str, dict] = OrderedDict()  # uuid -> its answer's

    def _followed(self, event) -> FSEvent | None:
        """The event as an FSEvent when it is an embedded call's (not a socket call's); a
        static-socket call the link now follows is no longer awaiting its answer."""
        fsev = FSEvent(event.headers)
        if not fsev.embedded or fsev.uuid in self.agent.calls:
            return None
        self.agent.unanswered.pop(fsev.uuid, None)
        return fsev

    def answered(self, link, event) -> None:
        """The links' on_answer: start charging (in a greenlet of its own)."""
        fsev = self._followed(event)
        if fsev is None:
            return
        job = gevent.spawn(self._initiate, fsev, self.agent.defaults(link))
        self.answering[fsev.uuid] = job
        job.link(lambda done: self._answered(fsev.uuid, done))

    def _answered(self, uuid: str, job) -> None:
        if self.answering.get(uuid) is job:
            del self.answering[uuid]

    def _initiate(self, fsev: FSEvent, defaults) -> None:
        try:
            flags = ChannelFlags.parse(fsev.flags)
            event = self._altered(fsev, defaults, flags)
            if event["RequestType"] == NO_CHARGING:
                return
            if self.sessions.get(cgrid(event["OriginID"], event["OriginHost"])) is not None:
                return  # followed already (the same answer seen twice)
            if flags.resources:
                self.agent.allocate(event, defaults.origin_host)
            self.sessions.initiate(
                event, on_disconnect=self.agent.disconnect, answered_at=fsev.answered_at
            )
        except Exception as exc:
            # No session: end the call now; its hangup still charges what it used.
            self.agent.refuse(fsev.uuid, defaults.origin_host, exc)

    def _altered(self, fsev: FSEvent, defaults, flags: ChannelFlags) -> dict:
        """The answer's event as AttributeS alters it; what it altered is kept for the
        hangup (one AttributeS pass per call on the link, not two)."""
        event, alterations = self.agent.altered_keeping(fsev.cgr_event(defaults), flags)
        if alterations is not None:
            self.alterations[fsev.uuid] = alterations
            while len(self.alterations) > ALTERATIONS_KEPT:
                self.alterations.popitem(last=False)
        return event

    def hung_up(self, link, event) -> bool:
        """Finish an embedded call (in a greenlet, after its answer's initiate); False when
        the event is not an embedded call's."""
        fsev = self._followed(event)
        if fsev is None:
            return False
        gevent.spawn(self._finish, fsev, self.agent.defaults(link), self.answering.get(fsev.uuid))
        return True

    def _finish(self, fsev: FSEvent, defaults, answering) -> None:
        if answering is not None:
            answering.join()
        alterations = self.alterations.pop(fsev.uuid, None)
        try:
            if fsev.request_type(defaults) == NO_CHARGING:  # the event is built once, below
                return
            self.agent.end_of_call(fsev, defaults, answered=fsev.answered, alterations=alterations)
        except NotFound:
            pass  # ended already (channel sync)
        except CGRError as exc:
            log.warning("call %s: hangup not processed: %s", fsev.uuid, exc.message)
        except Exception:
            log.exception("call %s: hangup not processed", fsev.uuid)
