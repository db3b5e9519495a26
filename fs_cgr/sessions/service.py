"""SessionService: authorize, initiate, update and terminate calls, and charge them live.

Request types (CGrateS' meaning):

- ``*prepaid``: money is debited ahead of use. ``initiate`` debits the first
  debit interval (config ``sessions.debit_interval`` or the event's
  ``CGRDebitInterval``; 0 = the whole requested Usage at once), then each next
  interval is debited shortly before the paid time is used up (a tenth of the interval
  ahead, at most ``DEBIT_LEAD_MAX``). One TimerWheel (one greenlet) schedules the debits
  of every live call: a held call costs a heap entry, not a sleeping greenlet. When an
  interval cannot be paid in full what can be paid is debited, and ``on_disconnect``
  fires when that paid time runs out. ``terminate`` refunds what was paid beyond
  the final Usage (the last debits first, whole increments), or debits what is
  missing, then charges or credits the DestinationRate rounding of the total.
- ``*postpaid`` / ``*pseudoprepaid``: authorize checks the account exists and is
  enabled; the money is taken by the CDR path at terminate (debit key
  ``cdr:<CGRID>:<RunID>``), never by the session, so never twice.
- ``*rated`` / ``*none``: nothing to charge; the CDR path prices ``*rated``.

Money in = money out: debits - refunds + rounding adjustment = the session cost
stored in StorDB (CostSource ``*sessions``) = the ``*prepaid`` CDR's Cost.

Every ``*prepaid`` session is journaled in the DataDB (the whole record before its
first debit, a note of each debit appended after it, deleted at the end), so
``recover`` can finish or resume it after a restart; a debit made but not noted (a
crash in between) is found there under its idempotency key. Debits and refunds
carry idempotency keys ``<CGRID>:<RunID>:debit:<seq>`` / ``:refund:<seq>`` and the rounding
``<CGRID>:<RunID>:round``: a retried step never charges twice.
"""

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import gevent

from fs_cgr.accounts.debit import Debit
from fs_cgr.cdrs.event import (
    CHARGED_BY_CDR,
    NONE,
    POSTPAID,
    PSEUDOPREPAID,
    RATED,
    charging,
    normalize,
    start_time,
)
from fs_cgr.cdrs.rater import (
    COST_SOURCE_SESSIONS,
    call_descriptor,
    dr_round,
    session_cost_amount,
)
from fs_cgr.cdrs.service import CallCommit
from fs_cgr.encoded import EncodedDict
from fs_cgr.errors import (
    AccountDisabled,
    CGRError,
    InsufficientCredit,
    NotFound,
    StorageUnavailable,
)
from fs_cgr.routes.service import route_ids
from fs_cgr.sessions import owner
from fs_cgr.sessions.session import PendingDebit, Session, SessionRun
from fs_cgr.sessions.wheel import TimerWheel
from fs_cgr.times import add_ns, diff_ns
from fs_cgr.times import now as utc_now

log = logging.getLogger(__name__)

INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
SYSTEM_ERROR = "SYSTEM_ERROR"
SETTLE_RETRY_FIRST = 0.5  # seconds before the first retry of a settlement the DataDB refused
SETTLE_RETRY_MAX = 10.0  # the longest pause between retries
DEBIT_RETRY_FIRST = 0.1  # seconds before a debit the DataDB refused is asked again
DEBIT_RETRY_MAX = 1.0  # the longest pause between those attempts
MAX_ANSWER_LAG = 2.0  # seconds: an AnswerTime this recent anchors the paid time
FINISHED_KEPT = 10_000  # terminated calls remembered, so a repeated terminate charges nothing
DEBIT_LEAD_MAX = 0.5  # seconds: the next interval is debited this much (at most) ahead


class ChargersError(CGRError):
    """No charger run for the event (CGrateS: ``CHARGERS_ERROR:NOT_FOUND``)."""

    @property
    def message(self) -> str:
        return f"CHARGERS_ERROR:{self.detail}"


class SessionExists(CGRError):
    code = "EXISTS"


@dataclass
class TerminateResult:
    usage: int
    costs: dict[str, Decimal] = field(default_factory=dict)  # RunID -> session cost (*prepaid)
    cdr: list | None = None  # the CDROutcomes (one per run) when a CDR was processed


class SessionService:
    def __init__(self, node):
        self.node = node
        self._sessions: dict[str, Session] = {}
        self._finished: OrderedDict[str, TerminateResult] = OrderedDict()
        self._unsettled: dict[str, Session] = {}  # ended, waiting for the DataDB to settle
        self._abandoned: OrderedDict[str, Session] = OrderedDict()  # could not start
        self._lock = threading.Lock()
        self.node_name = owner.node_name(node.config.general.node_id, node.config.listen.http)
        self.owner = owner.token(self.node_name)  # journaled with each session it follows
        self._wheel = TimerWheel()  # every live call's next debit or disconnect

    @property
    def config(self):
        return self.node.config.sessions

    def stop(self) -> None:
        """Stop the debits and settling retries; the journal keeps the sessions for
        ``recover``."""
        for session in self.active():
            session.timer = None
        self._wheel.stop()
        with self._lock:
            unsettled, self._unsettled = list(self._unsettled.values()), {}
        gevent.killall([session.settler for session in unsettled if session.settler])

    # -- authorize -----------------------------------------------------------------
    def authorize(self, event: dict, get_max_usage: bool = True, get_routes: bool = False) -> dict:
        """``{"MaxUsage": ns}`` (and ``"Routes"``: RouteS' reply, ``"RoutesDigest"``).

        Raises UnauthorizedDestination, NotFound/AccountNotFound, AccountDisabled,
        InsufficientCredit (nothing can be paid, or less than min_call_duration).
        """
        ev = normalize(event, self.node.config.general)
        reply = {}
        if get_max_usage:
            requested = self._requested(ev)
            usage = min(self._max_usage(run, requested) for run, _ in self._runs(ev))
            if usage <= 0 or usage < self.config.min_call_duration:
                raise InsufficientCredit()
            reply["MaxUsage"] = usage
        if get_routes:
            routes = self.node.routes.get_routes(ev["Tenant"], ev)
            reply["Routes"] = routes
            reply["RoutesDigest"] = ",".join(route_ids(routes))
        return reply

    def _requested(self, ev: dict) -> int:
        usage = ev.get("Usage") or self.config.max_call_duration
        return min(usage, self.config.max_call_duration)

    def _max_usage(self, run: dict, requested: int) -> int:
        request_type = charging(run["RequestType"])
        if request_type == NONE:
            return requested
        cd = call_descriptor(self._timed(run), usage=requested)
        if request_type in (RATED, POSTPAID, PSEUDOPREPAID):
            self.node.rating.engine.get_cost(cd)  # UnauthorizedDestination for unrated calls
            if request_type != RATED:
                account = self.node.accounts.get_account(run["Tenant"], run["Account"])
                if account.disabled:
                    raise AccountDisabled()
            return requested
        return self.node.accounts.max_usage(cd, requested)

    @staticmethod
    def _timed(run: dict) -> dict:
        """Authorization happens before answer: rate from SetupTime, else now."""
        if start_time(run) is None:
            run = dict(run, SetupTime=utc_now())
        return run

    def _runs(self, ev: dict) -> list[tuple[dict, bool]]:
        """The charger runs of the normalized ``ev``, each with whether it is as normalized."""
        try:
            return self.node.cdrs.chargers.marked_runs(ev)
        except NotFound:
            raise ChargersError("NOT_FOUND") from None

    # -- initiate / update -------------------------------------------------------------
    def initiate(self, event: dict, on_disconnect=None, answered_at=None) -> dict:
        """Start charging a call; ``{"MaxUsage": ns}``.

        ``on_disconnect(session, reason)`` is called (from a greenlet, at most
        once) when the call must end: reason INSUFFICIENT_FUNDS when the paid
        time ran out, SYSTEM_ERROR when a debit failed. Without one the session
        is terminated here with the usage paid for. ``answered_at``: the answer
        to the microsecond, where the event's AnswerTime has whole seconds only.
        """
        ev = normalize(event, self.node.config.general)
        interval = ev.get("CGRDebitInterval", self.config.debit_interval)
        anchor = _anchor(answered_at or ev.get("AnswerTime"))
        runs = [SessionRun(run, as_normalized=plain) for run, plain in self._runs(ev)]
        session = Session(ev, runs, interval, anchor)
        session.on_disconnect = on_disconnect
        with self._lock:
            if session.cgrid in self._sessions:
                raise SessionExists()
            self._sessions[session.cgrid] = session
        requested = self._requested(ev)
        first = interval or requested
        try:
            with session.lock:
                self._journal(session)  # before any money moves: recover finds the debits
                for run in session.prepaid_runs:
                    self._debit(session, run, first)
        except CGRError:
            self._abandon(session)
            raise
        self._watch(session, first, requested)
        return {"MaxUsage": self._granted(session, requested)}

    def update(self, event: dict) -> dict:
        """CGrateS' UpdateSession: off the wheel a ``*prepaid`` session is debited
        the event's Usage more; ``{"MaxUsage": ns}``. Unknown sessions are initiated."""
        ev = normalize(event, self.node.config.general)
        session = self._sessions.get(ev["CGRID"])
        if session is None:
            return self.initiate(event)
        requested = self._requested(ev)
        with session.lock:
            _merge(session.event, ev)
            if session.timer is not None or not session.prepaid_runs:
                return {"MaxUsage": requested}
            paid = min(self._debit(session, run, requested).usage for run in session.prepaid_runs)
            self._journal(session)  # the fields the event added
        return {"MaxUsage": min(paid, requested)}

    def _granted(self, session: Session, requested: int) -> int:
        paid = session.paid_usage
        if paid is None or (session.debit_interval and self._fully_paid(session)):
            return requested
        return min(paid, requested)

    @staticmethod
    def _fully_paid(session: Session) -> bool:
        return all(run.debits and run.debits[-1][2].complete for run in session.prepaid_runs)

    # -- debiting ----------------------------------------------------------------------
    def _debit(self, session: Session, run: SessionRun, usage: int):
        """Debit the next ``usage`` ns of a run, and note it in the journal."""
        run.pending = PendingDebit(run.next_seq, run.reserved, usage)
        run.next_seq += 1
        return self._debit_pending(session, run)

    def _debit_pending(self, session: Session, run: SessionRun):
        debit = self._apply_pending(session, run)
        self.node.datadb.journal_append(session.cgrid, session.debit_note(run))
        return debit

    def _apply_pending(self, session: Session, run: SessionRun):
        pending = run.pending
        cd = call_descriptor(run.event, offset=pending.offset, usage=pending.usage)
        key = run.key(session.cgrid, "debit", pending.seq)
        debit = self.node.accounts.debit(cd, key, allow_partial=True)
        run.add_debit(pending.seq, pending.offset, debit)
        session.last_debit_at = utc_now()
        return debit

    def _watch(self, session: Session, first: int, requested: int) -> None:
        """Put the session on the wheel: its next debit, or its disconnect when what it
        could pay runs out."""
        paid = session.paid_usage
        if paid is None:
            return
        if (session.debit_interval and self._fully_paid(session)) or paid < min(first, requested):
            self._schedule(session)

    def _schedule(self, session: Session) -> None:
        """The next debit shortly before the paid time ends, or (paid only in part) the
        disconnect when it ends."""
        with session.lock:
            if session.ended:
                return
            left = diff_ns(add_ns(session.anchor, session.paid_usage or 0), utc_now()) / 1e9
            if session.debit_interval and self._fully_paid(session):
                lead = min(session.debit_interval / 1e10, DEBIT_LEAD_MAX)
                session.timer = self._wheel.schedule(left - lead, self._debit_due, session)
            else:
                session.timer = self._wheel.schedule(left, self._paid_out, session)

    def _debit_due(self, session: Session) -> None:
        """The wheel's job: debit every prepaid run the next interval."""
        try:
            if not self._debit_next_interval(session):
                return  # the call ended meanwhile
        except Exception as exc:  # storage (past debit_retry), rating: no going on unpaid
            log.error("session %s: debit failed: %s", session.cgrid, exc)
            self._disconnect(session, SYSTEM_ERROR)
            return
        self._schedule(session)

    def _paid_out(self, session: Session) -> None:
        if not session.ended:
            self._disconnect(session, INSUFFICIENT_FUNDS)

    def _debit_next_interval(self, session: Session) -> bool:
        """Debit every prepaid run its next interval; False when the session ended meanwhile.

        While the DataDB does not answer (a Sentinel failover, a restart) the step is asked
        again for up to ``debit_retry``, each run where it stopped: its pending debit with
        the same idempotency key, or only the journal write that failed. So a failover
        shorter than that neither cuts the call nor charges an interval twice; longer, the
        StorageUnavailable goes to the caller (the call is cut)."""
        deadline = time.monotonic() + self.config.debit_retry / 1e9
        pause = DEBIT_RETRY_FIRST
        with session.lock:
            first_seq = [run.next_seq for run in session.prepaid_runs]
        while True:
            try:
                with session.lock:
                    if session.ended:
                        return False
                    for run, seq in zip(session.prepaid_runs, first_seq, strict=True):
                        self._debit_step(session, run, seq)
                return True
            except StorageUnavailable as exc:
                left = deadline - time.monotonic()
                if left <= 0:  # asked for the whole debit_retry
                    raise
                log.warning("session %s: debit waits for the DataDB: %s", session.cgrid, exc)
            gevent.sleep(min(pause, left))  # in the wheel job's own greenlet, not the wheel's
            if session.ended:
                return False
            pause = min(pause * 2, DEBIT_RETRY_MAX)

    def _debit_step(self, session: Session, run: SessionRun, seq: int) -> None:
        """Bring debit ``seq`` of the run about, from wherever an earlier attempt stopped."""
        if run.pending is not None:  # asked, answer unknown: ask again with its key
            self._debit_pending(session, run)
        elif run.next_seq == seq:  # not asked yet
            self._debit(session, run, session.debit_interval)
        else:  # done, but its journal note failed: the whole record holds it
            self._journal(session)

    def _disconnect(self, session: Session, reason: str) -> None:
        if session.ended or session.disconnect_reason:
            return
        session.disconnect_reason = reason
        log.info("session %s (%s): disconnect, %s", session.cgrid, session.origin_id, reason)
        if session.on_disconnect is None:
            gevent.spawn(self._force_terminate, session)
            return
        try:
            session.on_disconnect(session, reason)
        except Exception:
            log.exception("session %s: on_disconnect failed", session.cgrid)

    def _force_terminate(self, session: Session) -> None:
        try:
            self._finish(session, {}, session.paid_usage or 0)
        except Exception:
            log.exception("session %s: force terminate failed", session.cgrid)

    # -- terminate ---------------------------------------------------------------------
    def terminate(self, event: dict, commit_wait: float = 0.0) -> TerminateResult:
        """End a call with its final Usage (none: the usage paid for) and settle it.

        A session never initiated here (``*postpaid``, or fs_cgr restarted) is
        settled the same way: ``*prepaid`` runs are debited the whole Usage now.
        ``commit_wait``: seconds its CDR may wait for other calls' to share their
        commit (the CDR group commit's ``wait``), when ``_cdr_may_wait``.
        """
        ev = normalize(event, self.node.config.general)
        with self._lock:
            session = self._sessions.get(ev["CGRID"])
            finished = self._finished.get(ev["CGRID"])
            unsettled = self._unsettled.get(ev["CGRID"])
        if session is None and finished is not None:
            return finished  # terminated already (e.g. when its paid time ran out)
        if unsettled is not None:  # ended: being settled now, or when the DataDB answers
            if unsettled.settler is None:
                raise NotFound()
            raise StorageUnavailable("call ended; settling when the DataDB answers")
        if session is None:
            session = self._abandoned_start(ev["CGRID"])
        if session is None:
            runs = [SessionRun(run, as_normalized=plain) for run, plain in self._runs(ev)]
            session = Session(ev, runs, 0, _anchor(ev.get("AnswerTime")))
            settled = self._settled_before(session)
            if settled is not None:
                return settled
        usage = ev.get("Usage")
        usage = (session.paid_usage or 0) if usage is None else usage
        return self._finish(session, ev, usage, commit_wait)

    def _finish(
        self, session: Session, ev: dict, usage: int, commit_wait: float = 0.0
    ) -> TerminateResult:
        """End the session with its final facts (usage, hangup time, cause) and settle it.

        The facts are kept from here on, whatever fails: when the DataDB does not
        answer, the session waits in ``_unsettled`` and a greenlet settles it as soon
        as the DataDB answers again (StorageUnavailable tells the caller meanwhile).
        """
        with session.lock:
            if session.ended:
                raise NotFound()
            session.ended = True
            session.final_usage = usage
            self._unschedule(session)
            _merge(session.event, ev)
            for run in session.runs:
                _merge(run.event, ev)
                run.event["Usage"] = usage
        with self._lock:
            self._unsettled[session.cgrid] = session
        self._forget(session)
        try:
            result = self._settle_all(session, commit_wait)
        except StorageUnavailable as exc:
            log.error("session %s: settling waits for the DataDB: %s", session.cgrid, exc)
            session.settler = gevent.spawn(self._settle_when_possible, session)
            raise
        finally:
            if session.settler is None:
                self._settled(session)
        return result

    def _settle_all(self, session: Session, commit_wait: float = 0.0) -> TerminateResult:
        """Charge every run its final usage, store the session costs and the CDR. Each
        step carries an idempotency key, so this may run again after a failure."""
        usage = session.final_usage
        create_cdr = self.node.config.freeswitch_agent.create_cdr
        with session.lock:
            self._journal(session)  # the final usage, should settling be interrupted
            result = TerminateResult(usage)
            costs = {}
            for run in session.prepaid_runs:
                doc = self._settle(session, run, usage)
                costs[(session.cgrid, run.run_id)] = doc
                result.costs[run.run_id] = doc["Cost"]
            stored = create_cdr or self.node.cdrs.store_session_costs(costs.values())
            self._remember(session.cgrid, result)
        if create_cdr:  # the session costs go with the CDRs: one StorDB call for both
            commit = CallCommit(session_costs=list(costs.values()))
            events = [run.event for run in session.runs]
            normalized = [run.as_normalized for run in session.runs]
            wait = commit_wait if _cdr_may_wait(session) else 0.0
            result.cdr = self.node.cdrs.process_call_events(
                events, False, costs, commit, normalized=normalized, wait=wait
            )
            stored = commit.costs_stored or not commit.session_costs
        # Only now: a node dying before the CDR was stored (or spooled) finds the session in
        # the journal at its restart and settles it again (its keys make that a no-op).
        deleted = self._journal_delete(session)
        if deleted and stored:  # last: its CDR is not kept waiting for it
            self._drop_keys(session)
        return result

    def _settle_when_possible(self, session: Session) -> None:
        """Retry settling with a growing pause until the DataDB answers."""
        pause = SETTLE_RETRY_FIRST
        while True:
            gevent.sleep(pause)
            try:
                self._settle_all(session)
            except StorageUnavailable as exc:
                pause = min(pause * 2, SETTLE_RETRY_MAX)
                log.warning("session %s: still not settled (%s)", session.cgrid, exc.message)
                continue
            except Exception:  # not the storage: the journal keeps it for a restart
                log.exception("session %s: settling failed", session.cgrid)
            else:
                log.info("session %s: settled, usage %ss", session.cgrid, session.final_usage / 1e9)
            break
        self._settled(session)

    def _settled(self, session: Session) -> None:
        with self._lock:
            self._unsettled.pop(session.cgrid, None)

    def _settle(self, session: Session, run: SessionRun, usage: int) -> dict:
        """Charge a ``*prepaid`` run exactly ``usage``; return its session cost document."""
        if run.pending is not None:  # asked before a crash: ask again, same key
            self._apply_pending(session, run)
        if usage > run.reserved:
            self._debit(session, run, usage - run.reserved)
        self._refund_beyond(session, run, usage)
        cc = self.node.rating.engine.get_cost(call_descriptor(run.event, usage=usage))
        cost = self._round(session, run, cc, run.charged)
        details = cc.to_event_cost(session.cgrid, run.run_id)
        details["Cost"] = cost
        return {
            "CGRID": session.cgrid,
            "RunID": run.run_id,
            "OriginHost": session.origin_host,
            "OriginID": session.origin_id,
            "CostSource": COST_SOURCE_SESSIONS,
            "Usage": usage,
            "Cost": cost,
            "CostDetails": EncodedDict(details),  # stored twice (its CDR's too), encoded once
        }

    def _refund_beyond(self, session: Session, run: SessionRun, usage: int) -> None:
        """Give back whole increments paid past ``usage``, the last debits first."""
        kept = []
        for seq, offset, debit in reversed(run.debits):
            if offset + debit.usage > usage:
                keep = max(usage - offset, 0)
                key = run.key(session.cgrid, "refund", seq)
                self.node.accounts.refund(debit, keep, key)
                debit = debit.trimmed(keep)
            kept.append((seq, offset, debit))
        run.debits = kept[::-1]

    def _round(self, session: Session, run: SessionRun, cc, charged: Decimal) -> Decimal:
        cost = dr_round(cc, charged)
        if cost == charged:
            return charged
        key = f"{session.cgrid}:{run.run_id}:round"
        try:
            self.node.accounts.adjust(
                run.event["Tenant"], run.event["Account"], cost - charged, key
            )
        except StorageUnavailable:
            raise  # retried with the same key
        except CGRError as exc:
            log.warning("session %s: rounding not charged: %s", session.cgrid, exc.message)
            return charged
        return cost

    def _drop_keys(self, session: Session) -> None:
        """Drop the idempotency records of a settled session's debits, refunds and rounding.

        Nothing can ask them again: the journal record is gone (no recovery finds the
        session), a repeated terminate is answered by ``_finished`` or, past it, by the
        stored session costs (``_settled_before``). So at 2,000 debits a second the DataDB
        holds the keys of the calls being settled, not a day's worth. A failure only
        leaves them to the DataDB's idempotency TTL."""
        for run in session.prepaid_runs:
            keys = [f"{session.cgrid}:{run.run_id}:round"]
            for seq in range(1, run.next_seq):
                keys += [run.key(session.cgrid, action, seq) for action in ("debit", "refund")]
            try:
                self.node.datadb.forget_idempotency(run.event["Tenant"], run.event["Account"], keys)
            except CGRError as exc:
                log.warning("session %s: keys left to their TTL: %s", session.cgrid, exc.message)

    def _settled_before(self, session: Session) -> TerminateResult | None:
        """The result of a call settled earlier (its session costs are stored), for a
        terminate of a session no longer known here (repeated after a restart, or after
        ``FINISHED_KEPT`` later calls): its keys are dropped, so charging it again would
        not be caught by them. None: not settled, or nothing prepaid (the CDR path's
        duplicate check covers the rest), or the StorDB cannot tell (then keys still
        present within their TTL are the guard, as before)."""
        if not session.prepaid_runs:
            return None
        try:
            docs = [
                self.node.stordb.get_session_cost(session.cgrid, run.run_id)
                for run in session.prepaid_runs
            ]
        except CGRError as exc:
            log.warning("session %s: settled before? StorDB: %s", session.cgrid, exc.message)
            return None
        if not all(doc and doc.get("CostSource") == COST_SOURCE_SESSIONS for doc in docs):
            return None
        result = TerminateResult(docs[0]["Usage"])
        result.costs = {doc["RunID"]: session_cost_amount(doc) for doc in docs}
        return result

    # -- CDRs, listing -----------------------------------------------------------------
    def process_cdr(self, event: dict):
        """A call's CDR through the group commit, where ``*prepaid`` runs find the session
        cost. A channel keeps its request type, so a run found stored only after pricing is
        the same call's again, whose ``*postpaid`` debit repeats its idempotency key."""
        return self.node.cdrs.process_call_events([event])[0]

    def active(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def get(self, cgrid: str) -> Session | None:
        return self._sessions.get(cgrid)

    def settling(self) -> int:
        """Calls ended but not settled yet (their CDRs not stored yet)."""
        with self._lock:
            return len(self._unsettled)

    def timers(self) -> int:
        """Timers on the wheel (a cancelled one until its time comes)."""
        return len(self._wheel)

    # -- restart -----------------------------------------------------------------------
    def recover(self, live_origin_ids, usages: dict | None = None, on_disconnect=None) -> dict:
        """Reconcile journaled sessions after a restart.

        A session whose OriginID is in ``live_origin_ids`` (FreeSWITCH still has
        the channel) is resumed: it goes back on the wheel with ``on_disconnect``.
        Any other is terminated with the usage FreeSWITCH reported
        (``usages[origin_id]``, ns), else the Usage a terminate had already
        recorded, else the time until its last debit (capped at what was paid);
        the rest is refunded. Returns ``{"resumed": [CGRID], "finished": [CGRID]}``.
        """
        live, usages = set(live_origin_ids), usages or {}
        report = {"resumed": [], "finished": []}
        for doc in self.node.datadb.journal_all():
            if doc.get("CGRID") in self._sessions or doc.get("CGRID") in self._unsettled:
                continue
            if not owner.orphaned(doc.get("Owner"), self.owner):
                continue  # followed by another live worker, or by another node
            session = Session.from_doc(doc)
            if not session.prepaid_runs:  # journaled only to be handed over: consumed here
                self.node.datadb.journal_delete(session.cgrid)
            if session.origin_id in live:
                self._resume(session, on_disconnect)
                report["resumed"].append(session.cgrid)
                continue
            usage = usages.get(session.origin_id, session.final_usage)
            if usage is None:  # as journaled: before catching up moves last_debit_at
                usage = _journal_usage(session)
            try:
                self._catch_up(session)
                self._finish(session, {}, usage)
                report["finished"].append(session.cgrid)
            except CGRError as exc:
                log.error("recovering session %s failed: %s", session.cgrid, exc.message)
        return report

    def _catch_up(self, session: Session) -> None:
        """Finish what a journaled session's process left open: a pending debit (a record
        written whole while it waited) is asked again with its key, and debits made but
        not noted (the process died in between) are read back from their idempotency
        records, the next numbers of each run until one was never asked."""
        for run in session.prepaid_runs:
            if run.pending is not None:
                self._apply_pending(session, run)
            tenant, account = run.event["Tenant"], run.event["Account"]
            while True:
                key = run.key(session.cgrid, "debit", run.next_seq)
                stored = self.node.accounts.stored_result(tenant, account, key)
                if stored is None:
                    break
                run.add_debit(run.next_seq, run.reserved, Debit.from_doc(stored))

    def _resume(self, session: Session, on_disconnect) -> None:
        session.on_disconnect = on_disconnect
        with session.lock:
            self._catch_up(session)
            self._journal(session)  # owned by this service from now on
        with self._lock:
            self._sessions[session.cgrid] = session
        self._watch(session, session.debit_interval, self.config.max_call_duration)

    def release(self, cgrid: str) -> bool:
        """Stop following a session and journal it as handed over, for the worker holding
        the node duty to adopt (``recover``); False when it stays here (unknown, ended, or
        the journal write failed). A session with nothing prepaid is journaled for this
        only (its adopter deletes the record)."""
        session = self._sessions.get(cgrid)
        if session is None:
            return False
        with session.lock:
            if session.ended:
                return False
            try:
                self._journal(session, owner.released(self.node_name))
            except CGRError as exc:
                log.error("session %s: not handed over, followed here: %s", cgrid, exc.message)
                return False
            self._unschedule(session)
        self._forget(session)
        return True

    # -- bookkeeping -------------------------------------------------------------------
    def _remember(self, cgrid: str, result: TerminateResult) -> None:
        """A repeated terminate of a recent call answers the first result, charging nothing."""
        with self._lock:
            self._finished[cgrid] = result
            while len(self._finished) > FINISHED_KEPT:
                self._finished.popitem(last=False)

    def _abandon(self, session: Session) -> None:
        """A session that could not start gives back what it already took (best effort).
        It is kept for the call's terminate: a new session would number its debits and
        refunds from 1 again, and their idempotency keys would return the given-back
        debit and its refund instead of charging the call (a CDR without its money)."""
        self._forget(session)
        for run in session.prepaid_runs:
            try:
                self._refund_beyond(session, run, 0)
            except CGRError as exc:
                log.error("session %s: refund on failed start: %s", session.cgrid, exc.message)
        self._journal_delete(session)
        with self._lock:
            self._abandoned[session.cgrid] = session
            while len(self._abandoned) > FINISHED_KEPT:
                self._abandoned.popitem(last=False)

    def _abandoned_start(self, cgrid: str) -> Session | None:
        """The session of the call that could not start, its sequence numbers used so far."""
        with self._lock:
            return self._abandoned.pop(cgrid, None)

    def _forget(self, session: Session) -> None:
        with self._lock:
            if self._sessions.get(session.cgrid) is session:
                del self._sessions[session.cgrid]

    @staticmethod
    def _unschedule(session: Session) -> None:
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None

    def _journal(self, session: Session, holder: str = "") -> None:
        if session.prepaid_runs or holder:
            doc = session.to_doc()
            doc["Owner"] = holder or self.owner
            self.node.datadb.journal_put(session.cgrid, doc)

    def _journal_delete(self, session: Session) -> bool:
        """Delete the session's journal record; False when it could not be deleted."""
        if session.prepaid_runs:
            try:
                self.node.datadb.journal_delete(session.cgrid)
            except CGRError as exc:  # recover() will find it settled: keys make it a no-op
                log.error("session %s: journal entry not deleted: %s", session.cgrid, exc)
                return False
        return True


def _cdr_may_wait(session: Session) -> bool:
    """Whether the session's CDR may wait for other calls' commit: its journal entry stays
    until the CDR is stored, so a node dying meanwhile settles it again at its restart, and
    none of its runs is charged only when its CDR is priced (*postpaid, *pseudoprepaid:
    their money would have moved with nothing journaled to find it again)."""
    return bool(session.prepaid_runs) and not any(
        charging(run.event["RequestType"]) in CHARGED_BY_CDR for run in session.runs
    )


def _anchor(answer: datetime | None) -> datetime:
    """When paid time starts counting: a recent answer (the usual event delay), else now
    (replayed or test events with old times must not be disconnected at once)."""
    moment = utc_now()
    if answer is not None and timedelta(0) <= moment - answer <= timedelta(seconds=MAX_ANSWER_LAG):
        return answer
    return moment


_IDENTITY = frozenset(
    ("CGRID", "RunID", "OriginID", "OriginHost", "ToR", "RequestType")
    + ("Tenant", "Category", "Account", "Subject", "Destination")
)


def _merge(target: dict, ev: dict) -> None:
    """Later events add fields (AnswerTime, DisconnectCause...) but never change who or what
    is charged: those fields (and what chargers set in them) stay as the session began."""
    for key, value in ev.items():
        if key not in _IDENTITY and value not in (None, ""):
            target[key] = value


def _journal_usage(session: Session) -> int:
    if session.last_debit_at is None:
        return 0
    elapsed = diff_ns(session.last_debit_at, session.anchor)
    return max(0, min(elapsed, session.paid_usage or 0))
