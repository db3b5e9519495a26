"""The scheduler: runs the timed action plans for every account bound to them.

Each node runs one ``Scheduler`` (started with the node, in ``fs-cgr serve``).
Every ``interval`` seconds it looks at every scheduled timing of every live
plan. All its state lives in the DataDB, so any number of nodes share the work
and a restarted node goes on where the cluster stands:

- ``sched:anchor:<timing>``: when the timing was first seen (predefined timings
  such as ``*monthly`` repeat from there);
- ``sched:done:<timing>``: the due time of the last run that completed; the next
  run is the first occurrence after it, so a run missed while every node was
  down is done on start (older missed runs too, at most MAX_CATCH_UP);
- a lease per run (``DataDB.claim``): of several nodes finding a run due, one
  runs it; another takes over only when the holder's lease lapses (it died);
- each account's run is a keyed change (``AccountService.run_scheduled``): an
  account already done by a node that died mid-run is not charged twice.

``clock`` is injectable: tests drive months of schedule in a second.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from fs_cgr import times
from fs_cgr.accounts import actions as acts
from fs_cgr.accounts.service import plan_index
from fs_cgr.errors import CGRError
from fs_cgr.scheduler.plans import PlanTiming, plan_timings
from fs_cgr.storage.base import ACTION_PLANS, ACTIONS, TIMINGS

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between looks for due runs
LEASE = 60.0  # seconds a run's lease lasts; renewed while the run goes on
BATCH = 50  # accounts a run's worker reads at once (one pipelined read), then changes
WORKERS = 128  # a run's workers (greenlets under gevent): batches changed at once
MAX_CATCH_UP = 100  # missed runs of one timing done after a long outage
_SCHEDULE_KINDS = (ACTION_PLANS, TIMINGS, ACTIONS)  # what the scheduler reads of the live plan


def run_name(timing: PlanTiming, due: datetime) -> str:
    """The id of one run of a timing: its lease and its accounts' idempotency keys."""
    return f"{timing.uuid}@{times.format_time(due)}"


class Scheduler:
    def __init__(self, node, clock: Callable[[], datetime] = times.now, interval: float = INTERVAL):
        self.node = node
        self.clock = clock
        self.interval = interval
        self.node_id = f"{uuid.uuid4()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live_version: int | None = None
        self._timings: list[PlanTiming] = []
        self._live: dict = {}

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("scheduler: a pass failed; trying again in %ss", self.interval)

    # -- one pass ----------------------------------------------------------------------
    def tick(self) -> int:
        """Run every due run of every scheduled timing; returns how many ran here."""
        now = self.clock()
        ran = 0
        for timing in self.timings():
            ran += self._run_due(timing, now)
        return ran

    def timings(self) -> list[PlanTiming]:
        """Every scheduled (non-*asap) timing of the live plans (re-read when they change)."""
        version = self.node.datadb.live_version()
        if version != self._live_version:
            live = self.node.datadb.read_live(_SCHEDULE_KINDS)  # not a big plan's rating kinds
            found = []
            for plan_id, doc in sorted(live.get(ACTION_PLANS, {}).items()):
                try:
                    found.extend(t for t in plan_timings(plan_id, doc, live) if not t.is_asap)
                except CGRError as exc:
                    log.error("scheduler: action plan %s skipped: %s", plan_id, exc.message)
            self._timings, self._live, self._live_version = found, live, version
        return self._timings

    def next_run(self, timing: PlanTiming) -> datetime | None:
        """When ``timing`` runs next (its anchor is fixed on first sight)."""
        anchor = self._anchor(timing)
        done = self.node.datadb.get_value(f"sched:done:{timing.uuid}")
        last = times.parse_time(done) if done else anchor
        return timing.schedule(anchor).next_after(last)

    def _anchor(self, timing: PlanTiming) -> datetime:
        name = f"sched:anchor:{timing.uuid}"
        datadb = self.node.datadb
        text = datadb.get_value(name)
        if text is None and datadb.claim(f"{name}:set", self.node_id, LEASE):
            text = datadb.get_value(name)  # another node may have set it meanwhile
            if text is None:
                text = times.format_time(self.clock())
                datadb.set_value(name, text)
        return times.parse_time(text) if text else self.clock()

    def _run_due(self, timing: PlanTiming, now: datetime) -> int:
        ran = 0
        due = self.next_run(timing)
        while due is not None and due <= now and ran < MAX_CATCH_UP:
            run_id = run_name(timing, due)
            if not self.node.datadb.claim(f"sched:run:{run_id}", self.node_id, LEASE):
                break  # another node runs it; its done mark moves us on later
            self._run(timing, run_id)
            self.node.datadb.set_value(f"sched:done:{timing.uuid}", times.format_time(due))
            ran += 1
            due = timing.schedule(self._anchor(timing)).next_after(due)
        return ran

    def _run(self, timing: PlanTiming, run_id: str) -> None:
        """The timing's actions on every account bound to its plan, each account once."""
        doc = self._live.get(ACTIONS, {}).get(timing.actions_id)
        if doc is None:
            log.error("scheduler: plan %s: no actions %s", timing.plan_id, timing.actions_id)
            return
        actions = acts.parse_actions(doc)
        accounts = sorted(self.node.datadb.set_members(plan_index(timing.plan_id)))
        log.info(
            "scheduler: %s: actions %s on %d accounts", run_id, timing.actions_id, len(accounts)
        )

        batches = iter([accounts[i : i + BATCH] for i in range(0, len(accounts), BATCH)])
        renewed = [time.monotonic()]

        def work() -> None:  # each worker takes the next batch until none is left
            for batch in batches:
                if time.monotonic() - renewed[0] > LEASE / 3:
                    renewed[0] = time.monotonic()
                    self.node.datadb.claim(f"sched:run:{run_id}", self.node_id, LEASE)
                self.node.accounts.prefetch([tuple(key.split(":", 1)) for key in batch])
                for key in batch:
                    self._run_on(key, actions, run_id)

        workers = [
            threading.Thread(target=work, name="scheduler-run", daemon=True)
            for _ in range(min(WORKERS, (len(accounts) + BATCH - 1) // BATCH))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _run_on(self, key: str, actions: list, run_id: str) -> None:
        tenant, _, account = key.partition(":")
        try:
            self.node.accounts.run_scheduled(tenant, account, actions, f"sched:{run_id}")
        except CGRError as exc:
            log.warning("scheduler: %s on %s: %s", run_id, key, exc.message)

    def scheduled_actions(
        self,
        tenant: str | None = None,
        account: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[dict]:
        """CGrateS' GetScheduledActions: one entry per scheduled timing whose next run is
        in [start, end) and, when tenant/account are given, that runs for such an account."""
        found = []
        for timing in self.timings():
            next_run = self.next_run(timing)
            accounts = self.node.datadb.set_members(plan_index(timing.plan_id))
            if start is not None and (next_run is None or next_run < start):
                continue
            if end is not None and (next_run is None or next_run >= end):
                continue
            if (tenant is not None or account is not None) and not any(
                _is_account(key, tenant, account) for key in accounts
            ):
                continue
            found.append(
                {
                    "NextRunTime": times.format_time(next_run),
                    "Accounts": len(accounts),
                    "ActionPlanID": timing.plan_id,
                    "ActionTimingUUID": timing.uuid,
                    "ActionsID": timing.actions_id,
                }
            )
        return found


def _is_account(key: str, tenant: str | None, account: str | None) -> bool:
    key_tenant, _, key_account = key.partition(":")
    return (tenant is None or tenant == key_tenant) and (account is None or account == key_account)
