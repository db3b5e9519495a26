"""CDRService: events in, one rated CDR per charger run stored (or spooled) out.

The pipeline follows CGrateS' CDRServer.processEvents: chargers fork the event
into runs (no matching charger: PARTIALLY_EXECUTED, nothing stored), each run
is priced by its RequestType (``CDRRater``), and the CDRs are stored in
batches. A (CGRID, RunID) already stored is neither priced nor charged again;
debits carry idempotency keys so even two nodes racing on one CDR charge once.
Calls ending (``process_call_events``) share a group commit instead: each call
rates its own runs, one writer checks and stores the CDRs of all waiting calls.
When StorDB does not answer, rated CDRs go to the spool and are replayed later.
"""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fs_cgr.attributes.service import AttributeRequest
from fs_cgr.cdrs.cdrlog import cdrlog_cdrs
from fs_cgr.cdrs.chargers import ChargerService
from fs_cgr.cdrs.commit import GroupCommit
from fs_cgr.cdrs.event import (
    CHARGED_BY_CDR,
    PREPAID,
    charging,
    check_storable,
    normalize,
)
from fs_cgr.cdrs.rater import CDRRater
from fs_cgr.cdrs.rerate import Recharger
from fs_cgr.cdrs.spool import Spool
from fs_cgr.cdrs.stream import iter_cdrs, pages
from fs_cgr.errors import (
    CGRError,
    InvalidArgument,
    NotFound,
    PartiallyExecuted,
    StorageUnavailable,
)
from fs_cgr.storage.cdr_query import parse_query

log = logging.getLogger(__name__)

CDRS_CONTEXT = "*cdrs"

SPOOL_REPLAY_INTERVAL = 5.0  # seconds between attempts to replay spooled CDRs


@dataclass
class CDROutcome:
    """What happened to one event: its rated CDRs and where they went."""

    cdrs: list[dict] = field(default_factory=list)
    stored: int = 0  # new rows in StorDB
    duplicates: int = 0  # runs already stored before: not priced, not charged
    spooled: int = 0  # waiting in the spool for StorDB
    error: CGRError | None = None  # the event as a whole was refused

    @property
    def failed_runs(self) -> list[dict]:
        return [cdr for cdr in self.cdrs if cdr["ExtraInfo"] and cdr["Cost"] < 0]


@dataclass
class CallCommit:
    """What a call's group commit does besides storing its CDRs, in the same StorDB call
    (for SQLite: the same crossing to its thread, fs_cgr.storage.sqlite_thread).

    ``session_costs`` are stored first (SessionService at terminate); ``costs_stored`` is
    True once all of them are, False when the StorDB refused one (logged; the CDR still
    carries the cost), None while not tried. ``look_ups``: ``*prepaid`` CDRs priced
    without their session cost (``CDRRater.rate(look_up=False)``); there, before they
    are stored, the ones with a session cost stored get it instead."""

    session_costs: list[dict] = field(default_factory=list)
    look_ups: list[dict] = field(default_factory=list)
    costs_stored: bool | None = None

    def reset(self) -> None:
        self.costs_stored = None


@dataclass
class RateReport:
    """What ``rate_cdrs`` did: CDRs priced anew, CDRs left alone since already charged."""

    rated: int = 0
    charged: int = 0


def _normalized_run(event: dict) -> dict:
    """A copy of an event ``normalize`` made (and a run's RunID): what ``_runs`` without
    chargers would make of it, for the checks that ``normalize`` does not repeat. Fields
    merged into it later (a session's hangup) may make its ExtraFields too long."""
    return check_storable(dict(event))


def _as_event(cdr: dict) -> dict:
    """A stored CDR as the event it came from (ExtraFields flat again), unpriced."""
    event = {k: v for k, v in cdr.items() if k not in ("ExtraFields", "Cost", "CostDetails")}
    event.update(cdr.get("ExtraFields") or {})
    return event


class CDRService:
    def __init__(self, node):
        self.node = node
        self.chargers = ChargerService(node)
        self.rater = CDRRater(node)
        self.recharger = Recharger(node, self.rater)
        self.batch = max(1, node.config.cdrs.store_batch)
        self.spool = Spool(node.config.cdrs.spool_dir, self.batch)
        self._stop = threading.Event()
        self._replayer: threading.Thread | None = None
        self._storer = ThreadPoolExecutor(1, thread_name_prefix="fs-cgr-cdr-store")
        self._commits = GroupCommit(self._commit, self.batch)

    # -- lifecycle: the spool replayer ----------------------------------------
    def start(self) -> None:
        """Replay spooled CDRs now and every SPOOL_REPLAY_INTERVAL seconds.

        A thread (a greenlet when gevent patched the process) so it runs
        whichever thread or hub started the node.
        """
        self._stop.clear()
        self._replayer = threading.Thread(
            target=self._replay_loop, name="fs-cgr-cdr-spool", daemon=True
        )
        self._replayer.start()

    def stop(self) -> None:
        self._commits.stop()
        self._stop.set()
        if self._replayer is not None:
            self._replayer.join(timeout=10)
            self._replayer = None

    def _replay_loop(self) -> None:
        while not self._stop.is_set():
            self.replay_spool()
            self._stop.wait(SPOOL_REPLAY_INTERVAL)

    def replay_spool(self) -> int:
        """Store what the spool holds; return new rows (0 while StorDB is still down)."""
        if not self.spool.pending():
            return 0
        try:
            return self.spool.replay(self.node.stordb.store_cdrs)
        except StorageUnavailable as exc:
            log.info("spooled CDRs wait for StorDB: %s", exc.message)
        except Exception:
            log.exception("replaying spooled CDRs failed; will retry")
        return 0

    # -- processing ------------------------------------------------------------
    def process_event(
        self, event: dict, use_chargers: bool = True, session_costs: dict | None = None
    ) -> CDROutcome:
        """Rate and store one event (see ``process_events``)."""
        return self.process_events([event], use_chargers, session_costs)[0]

    def process_events(
        self, events: list[dict], use_chargers: bool = True, session_costs: dict | None = None
    ) -> list[CDROutcome]:
        """Rate and store many events: per ``cdrs.store_batch`` events one duplicate check
        and one batched insert, the insert of a batch overlapping the rating of the next.

        ``use_chargers=False`` takes each event as a single run (its RunID or
        *default), as CGrateS does for ``*chargers:false``. ``session_costs``
        maps ``(CGRID, RunID)`` to a session cost document a caller already
        holds (the session service at terminate), sparing a StorDB read.
        """
        outcomes, storing = [], None
        for start in range(0, len(events), self.batch):
            chunk = events[start : start + self.batch]
            rated = self._rate(chunk, use_chargers, session_costs or {}, outcomes)
            if storing is not None:
                storing.result()
            if start + self.batch >= len(events):
                self._store(rated)  # the last (or only) batch: no hand-over needed
            else:
                storing = self._storer.submit(self._store, rated)
        return outcomes

    def process_call_events(
        self,
        events: list[dict],
        use_chargers: bool = True,
        session_costs: dict | None = None,
        commit: CallCommit | None = None,
        normalized: list[bool] | None = None,
        wait: float = 0.0,
    ) -> list[CDROutcome]:
        """``process_events`` for the call path: the runs are priced here, in the caller,
        then stored by the group commit together with other calls' CDRs.

        A run stored before is found only then, after pricing: its ``*postpaid``
        debit repeats the first one's idempotency key, so it charges nothing. So is the
        session cost of a ``*prepaid`` run not in ``session_costs``: the group commit
        looks it up in the same StorDB call. ``commit``: session costs to store there
        too, before the CDRs (its ``costs_stored`` tells how that went). ``normalized``
        (with ``use_chargers`` False), one flag an event: it is as ``normalize`` makes it
        (a session's run, SessionRun.as_normalized), so only checked as storable.
        ``wait``: seconds the CDRs may wait for other calls' to share their commit.
        """
        outcomes = []
        commit = CallCommit() if commit is None else commit
        runs = self._event_runs(events, use_chargers, outcomes, normalized)
        rated = self._priced(runs, session_costs or {}, commit.look_ups)
        extra = commit if commit.session_costs or commit.look_ups else None
        self._commits.store(rated, extra, wait)
        return outcomes

    def _commit(self, rated: list, commits: list) -> None:
        """The group commit's batch: the callers' session costs, one duplicate check, the
        session cost look-ups of the new ``*prepaid`` CDRs, one store; all in one
        ``StorDB.run``: where the StorDB has a thread of its own (SQLite,
        fs_cgr.storage.sqlite_thread) crossing to it once, on MySQL on one connection."""
        self.node.stordb.run(self._commit_here, rated, commits)

    def _commit_here(self, rated: list, commits: list) -> None:
        for commit in commits:
            if commit.session_costs:
                commit.costs_stored = self.store_session_costs(commit.session_costs)
        fresh = self._unstored(rated)
        self._look_up_session_costs(fresh, commits)
        self._store(fresh)

    def _look_up_session_costs(self, fresh: list, commits: list) -> None:
        """The session costs of the new ``*prepaid`` CDRs priced without theirs."""
        look_ups = {id(cdr) for commit in commits for cdr in commit.look_ups}
        if look_ups:
            for _, cdr in fresh:
                if id(cdr) in look_ups:
                    self.rater.look_up_session_cost(cdr)

    def store_session_costs(self, docs) -> bool:
        """Store session costs; False when one could not be stored (the CDR carries the
        cost; only later lookups miss it)."""
        stored = True
        for doc in docs:
            try:
                self.node.stordb.set_session_cost(doc)
            except CGRError as exc:
                log.error("session cost %s/%s not stored: %s", doc["CGRID"], doc["RunID"], exc)
                stored = False
        return stored

    def _rate(self, events, use_chargers, session_costs, outcomes) -> list:
        """Price the runs of ``events`` not stored before; [(outcome, CDR)]."""
        runs = self._unstored(self._event_runs(events, use_chargers, outcomes))
        return self._priced(runs, session_costs)

    def _event_runs(self, events, use_chargers, outcomes, normalized=None) -> list:
        """[(outcome, run event)]; one new outcome per event is appended to ``outcomes``."""
        runs = []
        for index, event in enumerate(events):
            outcome = CDROutcome()
            outcomes.append(outcome)
            try:
                if normalized and normalized[index]:
                    runs.append((outcome, _normalized_run(event)))
                else:
                    runs += [(outcome, run) for run in self._runs(event, use_chargers)]
            except CGRError as exc:
                outcome.error = exc
        return runs

    def _priced(self, runs, session_costs, look_ups: list | None = None) -> list:
        """[(outcome, CDR)]. ``look_ups``: where the ``*prepaid`` CDRs of calls without
        usage (not answered: pricing them costs little, and they seldom have a session
        cost) go when ``session_costs`` has none for them, priced as if none were stored;
        other ``*prepaid`` runs have theirs looked up here, before pricing."""
        rated = []
        for outcome, run in runs:
            session_cost = session_costs.get((run["CGRID"], run["RunID"]))
            if session_cost is None and look_ups is not None and not run.get("Usage"):
                cdr = self.rater.rate(run, look_up=False)
                if charging(cdr["RequestType"]) == PREPAID:
                    look_ups.append(cdr)
            else:
                cdr = self.rater.rate(run, session_cost)
            rated.append((outcome, cdr))
        return rated

    def _unstored(self, pairs: list) -> list:
        """The (outcome, run or CDR) pairs whose (CGRID, RunID) is not stored yet; the
        others count as duplicates, as does the same run twice among ``pairs``."""
        existing = self._stored_keys({doc["CGRID"] for _, doc in pairs})
        fresh = []
        for outcome, doc in pairs:
            key = (doc["CGRID"], doc["RunID"])
            if key in existing:
                outcome.duplicates += 1
                continue
            existing.add(key)
            fresh.append((outcome, doc))
        return fresh

    def _runs(self, event: dict, use_chargers: bool) -> list[dict]:
        if use_chargers and self.node.config.cdrs.attributes:
            event = self._altered(event)
        # no Destination (data, SMS): rated through *any destination rates, as CGrateS
        run = normalize(event, self.node.config.general, require=("Account",))
        if not use_chargers:
            run["RunID"] = run.get("RunID") or "*default"  # normalize checked the given one
            return [run]
        try:
            return self.chargers.runs(run)
        except NotFound:
            raise PartiallyExecuted() from None
        except (StorageUnavailable, InvalidArgument):
            raise  # the chargers could not be read, or a run could not be stored
        except CGRError as exc:
            log.warning("chargers failed for CGRID %s: %s", run["CGRID"], exc.message)
            raise PartiallyExecuted() from None

    def _altered(self, event: dict) -> dict:
        """Config ``cdrs.attributes``: the CDR as AttributeS (context ``*cdrs``) alters it,
        as CGrateS' CDRs with attributes_conns. Session CDRs skip it (CGrateS' SessionS
        sends them with ``*attributes:false``)."""
        tenant = event.get("Tenant") or self.node.config.general.default_tenant
        request = AttributeRequest(tenant=tenant, event=event, context=CDRS_CONTEXT)
        tenant, altered, _ = self.node.attributes.altered(request)
        return {**altered, "Tenant": tenant}

    def _stored_keys(self, cgrids: set[str]) -> set[tuple[str, str]]:
        """(CGRID, RunID) pairs already in StorDB; none known while it is down."""
        if not cgrids:
            return set()
        try:
            return self.node.stordb.stored_runs(list(cgrids))
        except StorageUnavailable:
            return set()

    def _store(self, rated: list) -> None:
        """Insert in batches; whatever StorDB refuses from the first failure on is spooled."""
        for outcome, cdr in rated:
            outcome.cdrs.append(cdr)
        for start in range(0, len(rated), self.batch):
            chunk = rated[start : start + self.batch]
            cdrs = [cdr for _, cdr in chunk]
            try:
                new = self.node.stordb.store_cdrs(cdrs)
            except StorageUnavailable:
                rest = [cdr for _, cdr in rated[start:]]
                self.spool.append(rest)
                for outcome, _ in rated[start:]:
                    outcome.spooled += 1
                return
            if new == len(cdrs):
                for outcome, _ in chunk:
                    outcome.stored += 1
            else:
                self._count_racing(chunk, new)

    def _count_racing(self, chunk, new: int) -> None:
        """Another node stored some of these meanwhile: count by what StorDB reports."""
        for index, (outcome, _) in enumerate(chunk):
            if index < new:
                outcome.stored += 1
            else:
                outcome.duplicates += 1

    # -- queries ---------------------------------------------------------------
    def store_cdrlog(self, effect) -> None:
        """Store the CDRs of a ``*cdrlog`` action (fs_cgr.cdrs.cdrlog); a StorDB failure
        raises to the account service, which logs it (the account change is written)."""
        cdrs = cdrlog_cdrs(effect)
        if cdrs:
            self.node.stordb.store_cdrs(cdrs)

    def get_cdrs(self, params: dict) -> list[dict]:
        return self.node.stordb.get_cdrs(parse_query(params))

    def count_cdrs(self, params: dict) -> int:
        return self.node.stordb.count_cdrs(parse_query(params))

    def iter_cdrs(self, params: dict):
        """The matching CDRs as a stream, in OrderID order (see fs_cgr.cdrs.stream)."""
        return iter_cdrs(self.node.stordb, parse_query(params))

    # -- re-rating -------------------------------------------------------------
    def rate_cdrs(self, params: dict, rerate: bool = False) -> RateReport:
        """Price the matching stored CDRs again (after a tariff fix) and update them.

        ``*rated``-like CDRs are priced by GetCost; ``*postpaid``/``*pseudoprepaid``
        ones never charged (Cost -1) are charged now. One already charged is left
        as it is unless ``rerate``: then its charge is refunded and the new price
        debited (fs_cgr.cdrs.rerate). ``*prepaid`` ones the session service charged
        are always left: their money moved during the call.
        """
        report = RateReport()
        for page in pages(self.iter_cdrs(params), self.batch):
            rated = []
            for cdr in page:
                mode, charged = charging(cdr["RequestType"]), cdr["Cost"] >= 0
                if charged and (mode == PREPAID or (mode in CHARGED_BY_CDR and not rerate)):
                    report.charged += 1
                elif mode in CHARGED_BY_CDR:
                    rated.append(self.recharger.recharge(_as_event(cdr)))
                else:
                    rated.append(self.rater.rate(_as_event(cdr)))
            if rated:
                self.node.stordb.update_cdrs(rated)
                report.rated += len(rated)
        return report
