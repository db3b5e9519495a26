"""Benchmark of the FreeSWITCH agent: the simulator (tests/fssim, in a child process, so
it takes neither CPU nor memory from fs_cgr) drives an in-process agent and Node.

    python bench/calls.py                       # all three, embedded databases
    python bench/calls.py --only setups --runs 3
    python bench/calls.py --datadb redis://127.0.0.1:6379/5 \
        --stordb mysql://root@127.0.0.1:3306/test_setups
    python bench/calls.py --only setups --flags seed    # the seeds' full cgr_flags list
    python bench/calls.py --only setups --flags "*sessions;*accounts"
    python bench/calls.py --only money --calls 300 --like-freeswitch --flags seed
    valgrind --tool=callgrind python bench/calls.py --only setups --closed-only --setups N

``--closed-only``: a fixed amount of work (the 500 warm-up set-ups, then ``--setups`` per
run, no open loop), so instruction counts compare: callgrind's Ir of a run of 1,500 less
one of 500, over 1,000, is fs_cgr's per set-up (the simulator's process is not traced).
It never sheds (``shed_after`` 0): under callgrind every call waits past it.

setups   call set-ups per second (closed loop, ``--concurrency`` callers) and the
         connect -> uuid_transfer latency FreeSWITCH sees (p50/p99); each call is then
         hung up before answer (the CDR path runs too).
hold     ``--hold`` answered *prepaid calls held at once with a 10 s debit interval, kept
         ``--hold-for`` seconds: bytes per call (RSS; tracemalloc with ``--tracemalloc``),
         how late each debit came (worst, median), then the money check below.
         ``--embedded``: the calls are the mod_python3 handler's, followed over the inbound
         link (no socket per call; the socket path needs one file descriptor a call).
money    ``--calls`` calls (prepaid and postpaid, some accounts running dry mid-call):
         debits - refunds + adjustments = sum of CDR costs = start - end balances, read
         once every call has its CDR (a session leaves the active list when its settling
         starts; its CDR is stored last), so ``drift`` is money without a CDR, not a run
         read too early.
         ``--embedded``: the calls are authorized by the mod_python3 handler
         (fs_cgr.embedded, over the node's JSON-RPC) and followed over the inbound link.
         ``--like-freeswitch`` (= ``--embedded --sofia --call-rate 50``): as a real
         FreeSWITCH offers them in bench/freeswitch_calls.py: calls arrive spread out (no
         batching of events, requests and commits: each costs its own wake-up) and carry
         a SIP leg's variables (events ~6 and ~10 KB). ``--flags`` applies to these calls
         too. ``refused`` counts the calls not authorized (the JSON-RPC server's
         per-client connection limit, the handler's ``--rpc-timeout`` running out, ...),
         which would make a run look cheaper.
"""

import argparse
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "cgrates.org"
DESTINATION = "4912345"
SEED_FLAGS = "*resources;*attributes;*sessions;*routes;*thresholds;*stats;*accounts"


# -- the FreeSWITCH side (child process) --------------------------------------------------
def sim_worker() -> None:
    """Serve commands (one JSON object per line on stdin) with a FreeSwitchSim."""
    from gevent import monkey

    monkey.patch_all()
    import gevent
    from gevent.fileobject import FileObjectPosix

    from tests.agents.lab import WallClock
    from tests.fssim.sim import FreeSwitchSim, SimCall

    def log(call, command: str) -> None:
        """When FreeSWITCH received each command (``api`` ones by their api name)."""
        words = command.split(" ", 2)
        name = words[1] if words[0] == "api" and len(words) > 1 else words[0]
        call.__dict__.setdefault("times", {}).setdefault(name, time.perf_counter())

    SimCall.log = log
    sim = FreeSwitchSim(WallClock())
    inbound = sim.listen_inbound()
    reply({"inbound": list(inbound), "password": sim.password})
    worker = SimWorker(sim, gevent)
    for line in FileObjectPosix(sys.stdin.fileno(), "rb"):
        request = json.loads(line)
        reply(getattr(worker, request.pop("op"))(**request))


def reply(data: dict) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


class SimWorker:
    def __init__(self, sim, gevent):
        self.sim = sim
        self.gevent = gevent
        self.agent = None
        self.held = []  # the calls ``hold`` left up

    def target(self, agent, rpc_url: str = "", rpc_timeout: float = 0) -> dict:
        self.agent = tuple(agent)
        self.rpc_url = rpc_url
        self.rpc_timeout = rpc_timeout
        return {}

    def _call(self, variables: dict):
        """Place a call and wait for its verdict; None when none came. ``"sofia": True`` in
        ``variables``: the channel carries a real SIP leg's variables (event sizes)."""
        from tests.fssim.embedded import SOFIA

        variables = dict(variables)
        sofia = variables.pop("sofia", False)
        if sofia:
            variables = {**dict(SOFIA["answer"]), **variables}
        call = self.sim.place_call(self.agent, variables, destination=DESTINATION)
        if sofia:
            call.channel.reporting_vars = [tuple(pair) for pair in SOFIA["hangup"]]
        self.gevent.wait([call.channel.transferred, call.closed_flag], timeout=10, count=1)
        return call if call.channel.transferred_to or call.closed else None

    def _run(self, count: int, concurrency: int, one_call, rate: float = 0) -> float:
        """``count`` calls, at most ``concurrency`` at once; ``rate`` > 0: started at that
        many per second (open loop) instead of as soon as a caller is free."""
        from gevent.pool import Pool

        pool = Pool(concurrency)
        gc.disable()  # a full collection over thousands of sim calls stalls it 100+ ms
        try:
            started = time.perf_counter()
            for index in range(count):
                if rate:
                    self.gevent.sleep(max(0.0, started + index / rate - time.perf_counter()))
                pool.spawn(one_call, index)
            pool.join()
            return time.perf_counter() - started
        finally:
            gc.enable()
            gc.collect()

    def setups(self, count: int, concurrency: int, variables: dict, rate: float = 0) -> dict:
        latencies, failed = [], []

        def one_call(index: int) -> None:
            call = self._call(variables)
            if call is None or "uuid_transfer" not in call.times:
                failed.append(call)  # no verdict in time: fs_cgr killed the call
                return
            times = call.times
            latencies.append((times["uuid_transfer"] - times["connect"]) * 1000)
            call.hangup("ORIGINATOR_CANCEL")
            call.wait_closed(10)

        cpu = cpu_seconds()
        elapsed = self._run(count, concurrency, one_call, rate)
        self.sim.calls.clear()
        return {
            "elapsed": elapsed,
            "latencies_ms": latencies,
            "failed": len(failed),
            "cpu_s": cpu_seconds() - cpu,
        }

    def hold(self, count: int, concurrency: int, variables: list) -> dict:
        """``count`` answered calls, left up; ``variables[i]`` for call i (socket calls, or
        embedded ones when a JSON-RPC URL was given)."""
        answered = []

        place = self._embedded if self.rpc_url else self._call

        def one_call(index: int) -> None:
            call = place(variables[index])
            if call is not None and call.vars.get("cgr_notify") == "+AUTH_OK":
                call.answer()
                answered.append(call)

        elapsed = self._run(count, concurrency, one_call)
        self.held = answered
        return {"answered": len(answered), "elapsed": elapsed}

    def _embedded(self, variables: dict, sofia: bool = False):
        """A call authorized by the mod_python3 handler; no socket to fs_cgr. ``sofia``: it
        carries a real SIP leg's variables (event sizes)."""
        from fs_cgr.embedded.handler import handler
        from tests.fssim.embedded import EmbeddedChannel

        call = EmbeddedChannel(self.sim, variables, DESTINATION, sofia=sofia)
        settings = {"fs_cgr_rpc_url": self.rpc_url}
        if self.rpc_timeout:
            settings["fs_cgr_rpc_timeout"] = str(self.rpc_timeout)
        return call.run(handler, settings, native=False)

    def alive(self) -> dict:
        return {"alive": sum(1 for call in self.held if call.channel.alive)}

    def hangup_all(self) -> dict:
        calls = [call for call in self.held if call.channel.alive]
        for call in calls:
            call.hangup()
        for call in calls:
            if hasattr(call, "wait_closed"):
                call.wait_closed(30)
        self.sim.calls.clear()
        self.held = []
        return {"hung_up": len(calls)}

    def traffic(
        self, count: int, concurrency: int, variables: list, talk: list, rate=0, sofia=False
    ) -> dict:
        """Each call answered, then hung up after ``talk[i]`` seconds unless fs_cgr cut it;
        ``sofia``: embedded calls carry a real SIP leg's variables (event sizes)."""
        cut, refused = [], []

        def one_call(index: int) -> None:
            if self.rpc_url:
                return embedded_call(index)
            call = self._call(variables[index])
            if call is None:
                return
            if call.vars.get("cgr_notify") == "+AUTH_OK":
                call.answer()
                call.closed_flag.wait(talk[index])
            if call.channel.alive:
                call.hangup()
            else:
                cut.append(call.uuid)
            call.wait_closed(30)

        def embedded_call(index: int) -> None:
            call = self._embedded(variables[index], sofia)
            if call.vars.get("cgr_notify") != "+AUTH_OK":
                refused.append(call.vars.get("cgr_notify"))
            else:
                call.answer()
                if call.wait_hangup(talk[index]):
                    cut.append(call.uuid)
            if call.channel.alive:
                call.hangup()

        elapsed = self._run(count, concurrency, one_call, rate)
        self.sim.calls.clear()
        return {"elapsed": elapsed, "cut": len(cut), "refused": Counter(refused)}


# -- the fs_cgr side (this process) -------------------------------------------------------
class Bench:
    def __init__(self, args):
        from fs_cgr.agents.freeswitch import FreeSwitchAgent
        from fs_cgr.app import Node
        from fs_cgr.config import load_config
        from tests.agents.lab import RecordingAccounts, write_plan

        self.args = args
        self.child = subprocess.Popen(
            [sys.executable, __file__, "--sim-worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self.recv()
        host, port = ready["inbound"]
        self.tmp = tempfile.mkdtemp(prefix="fs-cgr-bench-")
        overrides = {
            "general.data_dir": self.tmp,
            "stordb.url": f"sqlite:///{self.tmp}/stordb.sqlite",
            "sessions.debit_interval": args.debit_interval,
            "freeswitch_agent.listen": "127.0.0.1:0",
            "freeswitch_agent.event_socket_conns": [
                {"address": f"{host}:{port}", "password": ready["password"], "alias": "bench"}
            ],
        }
        if args.no_cdr:
            overrides["freeswitch_agent.create_cdr"] = False
        if args.closed_only:  # under callgrind every call waits past shed_after: rate them all
            overrides["freeswitch_agent.shed_after"] = 0
        if args.datadb:
            overrides["datadb.url"] = args.datadb
        if args.stordb:
            overrides["stordb.url"] = args.stordb
        self.node = Node(load_config(overrides=overrides, env={}))
        self.node.datadb.flush()
        self.node.stordb.flush()
        self.node.accounts = RecordingAccounts(self.node)
        self.node.tariffplans.load_folder(write_plan(Path(self.tmp)))
        self.node.rating.refresh()
        if args.flags:
            add_subsystem_profiles(self.node)
        self.node.start()
        self.agent = FreeSwitchAgent(self.node).start()
        self.api = None
        if args.embedded:
            from fs_cgr.api.server import ApiServer

            self.api = ApiServer(self.node, "127.0.0.1:0")
            self.api.start()
        self.ask(
            "target", agent=list(self.agent.address), rpc_url=self.api.url if self.api else "",
            rpc_timeout=args.rpc_timeout,
        )  # fmt: skip

    def recv(self) -> dict:
        line = self.child.stdout.readline()  # cooperative: gevent patched subprocess
        if not line:
            raise RuntimeError("the simulator process died")
        return json.loads(line)

    def ask(self, op: str, **params) -> dict:
        self.child.stdin.write(json.dumps({"op": op, **params}) + "\n")
        self.child.stdin.flush()
        return self.recv()

    def close(self) -> None:
        self.agent.stop(hangup=False)
        self.node.stop()
        self.child.kill()

    def topup(self, accounts, amount: str) -> None:
        for account in accounts:
            self.node.accounts.add_balance(TENANT, account, "*monetary", amount)

    def balance(self, account: str) -> Decimal:
        found = self.node.accounts.get_account(TENANT, account)
        return sum((b.value for b in found.balances.get("*monetary", ())), Decimal(0))

    def wait_idle(self, timeout: float = 180) -> None:
        import gevent

        deadline = time.monotonic() + timeout
        sessions = self.node.sessions
        while sessions.active() or sessions.settling() or self.agent.calls:
            if time.monotonic() > deadline:
                raise RuntimeError("sessions still active")
            gevent.sleep(0.1)

    def wait_settled(self, calls: int, timeout: float = 60) -> None:
        """Wait until the money of ``calls`` finished calls has settled (each has its CDR);
        one whose CDR never comes shows in the figures (``cdrs`` < ``calls``, a drift)."""
        import gevent

        from tests.agents.lab import settled

        deadline = time.monotonic() + timeout
        while not settled(self.node, calls) and time.monotonic() < deadline:
            gevent.sleep(0.1)

    # -- the three measurements -------------------------------------------------------
    def setups(self) -> dict:
        """Max set-ups per second (closed loop), the CPU each costs fs_cgr, and the latency
        at ``--rate`` set-ups per second (open loop)."""
        self.topup(["1001"], "1000000")
        variables = {"cgr_reqtype": "*prepaid", "cgr_account": "1001"}
        if self.args.flags:
            variables["cgr_flags"] = self.args.flags
        if self.args.sofia:
            variables["sofia"] = True  # the simulator's SIP-leg variables (SimWorker._call)
        self.ask("setups", count=500, concurrency=self.args.concurrency, variables=variables)
        placed, runs = 500, []
        for _ in range(self.args.runs):
            cpu = cpu_seconds()
            closed = self.ask(
                "setups", count=self.args.setups, concurrency=self.args.concurrency,
                variables=variables,
            )  # fmt: skip
            cpu = cpu_seconds() - cpu
            done = len(closed["latencies_ms"])
            max_rate = done / closed["elapsed"]
            self.wait_idle()
            if self.args.closed_only:
                placed += self.args.setups
                runs.append(
                    {
                        "max_setups_per_s": max_rate,
                        "fs_cgr_cpu_ms_per_setup": cpu * 1000 / done,
                        "failed": closed["failed"],
                    }
                )
                continue
            # latency under load, not under queueing: at most 80% of what this box sustains
            rate = min(self.args.rate, int(max_rate * 0.8))
            watch = LoopWatch()
            opened = self.ask(
                "setups", count=rate * 10, concurrency=1000, variables=variables, rate=rate
            )
            stalls = watch.stop()
            latencies = sorted(opened["latencies_ms"])
            placed += self.args.setups + rate * 10
            runs.append(
                {
                    "max_setups_per_s": max_rate,
                    "fs_cgr_cpu_ms_per_setup": cpu * 1000 / done,
                    "simulator_cpu_ms_per_setup": closed["cpu_s"] * 1000 / done,
                    "open_loop_rate": rate,
                    "achieved_per_s": len(latencies) / opened["elapsed"],
                    "p50_ms": statistics.median(latencies),
                    "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
                    "failed": closed["failed"] + opened["failed"],
                    "loop_stall_p99_ms": stalls[int(len(stalls) * 0.99) - 1],
                    "loop_stall_max_ms": stalls[-1],
                }
            )
            self.wait_idle()
        self.wait_settled(0 if self.args.no_cdr else placed)  # the last CDRs may be on their way
        return {
            "runs": runs,
            **{key: _median(runs, key) for key in runs[0]},
            "calls_placed": placed,
            "cdrs_stored": self.node.stordb.count_cdrs({}),  # one a call (none: --no-cdr)
        }

    def hold(self) -> dict:
        """Answered *prepaid calls held through several debit intervals: bytes per call
        (RSS, and tracemalloc with ``--tracemalloc``), how late each debit came, and the
        money of the whole hold (charged = balances' change = CDR costs)."""
        import gevent

        count = self.args.hold
        accounts = [f"h{n}" for n in range(count)]
        self.topup(accounts, "100")
        start = sum(self.balance(a) for a in accounts)
        self.node.stordb.flush()
        self.node.accounts.reset()
        variables = [{"cgr_reqtype": "*prepaid", "cgr_account": a} for a in accounts]
        gc.collect()
        gevent.sleep(1)
        traced = tracing(self.args.tracemalloc)
        before = rss_bytes()
        # embedded calls each hold an HTTP connection while authorized (64 at most)
        concurrency = 40 if self.args.embedded else 200
        result = self.ask("hold", count=count, concurrency=concurrency, variables=variables)
        deadline = time.monotonic() + 60
        while len(self.node.sessions.active()) < result["answered"] and time.monotonic() < deadline:
            gevent.sleep(0.1)
        sessions = len(self.node.sessions.active())
        gevent.sleep(1)
        gc.collect()
        after = rss_bytes()
        per_call = {"rss_bytes_per_call": (after - before) // max(1, sessions)}
        if traced is not None:
            per_call.update(traced(sessions))
        lags = record_debit_lags(self.node)
        cpu = cpu_seconds()
        unpaid = 0.0
        held_until = time.monotonic() + self.args.hold_for
        while time.monotonic() < held_until:  # is any call ever talking on unpaid time?
            gevent.sleep(min(5.0, max(0.0, held_until - time.monotonic())))  # 20k calls: 0.2 s
            unpaid = max([unpaid, *(unpaid_seconds(s) for s in self.node.sessions.active())])
        ended = time.monotonic()
        lags, last = sorted(lag for _, lag in lags), [lag for at, lag in lags if at > ended - 10]
        cpu = cpu_seconds() - cpu
        alive = self.ask("alive")["alive"]
        self.ask("hangup_all")
        self.wait_idle(300)
        return {
            "answered": result["answered"],
            "sessions": sessions,
            "alive_at_end": alive,
            "set_up_in_s": result["elapsed"],
            "rss_delta_mb": (after - before) / 2**20,
            **per_call,
            "debits_in_hold": len(lags),
            # the node's CPU while holding (debits and the sampling above) per debit
            "cpu_ms_per_debit": round(cpu * 1000 / max(1, len(lags)), 3),
            # seconds from the end of the paid time to the next debit (< 0: debited ahead)
            "debit_lag_worst_s": round(lags[-1], 3) if lags else None,
            "debit_lag_median_s": round(statistics.median(lags), 3) if lags else None,
            # the same over the hold's last 10 s: once a burst of set-ups is over
            "debit_lag_worst_last_10s": round(max(last), 3) if last else None,
            "max_unpaid_s": round(unpaid, 3),  # a call talking past its paid time, sampled
            **self.drift(accounts, start),
        }

    def drift(self, accounts: list[str], start: Decimal) -> dict:
        """Money in = money out: what the accounts lost, what was debited net of refunds and
        adjustments, and what the CDRs cost."""
        end = sum(self.balance(a) for a in accounts)
        cdrs = self.node.stordb.get_cdrs({})
        cost = sum((Decimal(cdr["Cost"]) for cdr in cdrs if cdr["Cost"] >= 0), Decimal(0))
        net = self.node.accounts.net
        return {
            "cdrs": len(cdrs),
            "unrated_cdrs": sum(1 for cdr in cdrs if cdr["Cost"] < 0),
            "sum_cdr_costs": str(cost),
            "debits_minus_refunds": str(net),
            "start_minus_end": str(start - end),
            "drift": str(max(abs(cost - net), abs(net - (start - end)))),
        }

    def money(self) -> dict:
        count = self.args.calls
        rng = random.Random(42)
        accounts = [f"m{n}" for n in range(200)]
        dry = set(accounts[:20])  # 0.03: their calls get cut after 3 s
        self.topup([a for a in accounts if a not in dry], "50")
        self.topup(sorted(dry), "0.03")
        start = sum(self.balance(a) for a in accounts)
        self.node.stordb.flush()  # only this phase's CDRs and money movements count
        self.node.accounts.reset()
        variables, talk = [], []
        for index in range(count):
            account = accounts[index % len(accounts)]
            reqtype = "*prepaid" if account in dry or index % 3 else "*postpaid"
            variables.append({"cgr_reqtype": reqtype, "cgr_account": account})
            if self.args.flags:
                variables[-1]["cgr_flags"] = self.args.flags
            talk.append(rng.choice((0, 0.4, 1.3, 2.2, 4.5)))
        cpu = cpu_seconds()
        result = self.ask(
            "traffic", count=count, concurrency=self.args.concurrency * 4,
            variables=variables, talk=talk, rate=self.args.call_rate, sofia=self.args.sofia,
        )  # fmt: skip
        self.wait_idle()
        self.wait_settled(0 if self.args.no_cdr else count)
        cpu = cpu_seconds() - cpu
        return {
            "calls": count,
            "cut_by_fs_cgr": result["cut"],
            "refused": result.get("refused", {}),
            "elapsed_s": result["elapsed"],
            "fs_cgr_cpu_ms_per_call": cpu * 1000 / count,
            **self.drift(accounts, start),
        }


class LoopWatch:
    """How late this process's event loop wakes a greenlet sleeping ``TICK``, less the time
    the OS kept the loop's thread waiting for a CPU meanwhile (/proc schedstat): the stalls
    fs_cgr causes itself (a blocking StorDB write, a long computation), told apart from
    the load of a shared machine, which the connect -> transfer latencies include."""

    TICK = 0.001

    def __init__(self):
        import gevent

        self.stalls_ms: list[float] = []
        self._schedstat = open("/proc/thread-self/schedstat", "rb")  # noqa: SIM115
        self._greenlet = gevent.spawn(self._run, gevent.sleep)

    def _waited(self) -> int:
        """Nanoseconds this thread has spent runnable but not running, so far."""
        self._schedstat.seek(0)
        return int(self._schedstat.read().split()[1])

    def _run(self, sleep) -> None:
        while True:
            started, waited = time.perf_counter(), self._waited()
            sleep(self.TICK)
            late = time.perf_counter() - started - self.TICK
            self.stalls_ms.append(max(0.0, late - (self._waited() - waited) / 1e9) * 1000)

    def stop(self) -> list[float]:
        """The stalls seen, sorted."""
        self._greenlet.kill()
        self._schedstat.close()
        return sorted(self.stalls_ms)


def add_subsystem_profiles(node) -> None:
    """What the seed's flags find: a concurrent-call limit (high enough never to refuse) and
    a number-normalising attribute profile, so each call allocates, rewrites and releases."""
    node.resources.set_profile(
        {"Tenant": TENANT, "ID": "RES_BENCH", "FilterIDs": ["*string:~*req.Account:1001"],
         "UsageTTL": "1h", "Limit": 10**9, "Weight": 10}
    )  # fmt: skip
    node.attributes.set_profile(
        {"Tenant": TENANT, "ID": "ATTR_BENCH", "Contexts": ["*sessions"],
         "FilterIDs": ["*string:~*req.Account:1001"],
         "Attributes": [{"Path": "*req.Destination", "Type": "*variable",
                         "Value": "~*req.Destination:s/^00(\\d+)$/${1}/"}], "Weight": 10}
    )  # fmt: skip


def record_debit_lags(node) -> list[tuple[float, float]]:
    """From now on, for every debit of a running call: (when, seconds between the end of its
    paid time and the debit; negative: ahead of use). A call's first debit is not counted."""
    lags = []
    debit = node.accounts.debit

    def recording(cd, key=None, **kwargs):
        session = node.sessions.get((key or "").split(":")[0])
        if session is not None and session.paid_usage:
            lags.append((time.monotonic(), -ahead_seconds(session)))
        return debit(cd, key, **kwargs)

    node.accounts.debit = recording
    return lags


def tracing(enabled: bool):
    """With ``enabled``: start tracemalloc and return ``report(calls)``, which gives the
    traced bytes per call and prints where they were allocated (grouped by traceback)."""
    if not enabled:
        return None
    import tracemalloc

    tracemalloc.start(10)
    first = tracemalloc.take_snapshot()

    def report(calls: int) -> dict:
        stats = tracemalloc.take_snapshot().compare_to(first, "traceback")
        tracemalloc.stop()
        for stat in stats[:12]:
            print(f"{stat.size_diff / calls:8.0f} B/call", file=sys.stderr)
            print("\n".join(stat.traceback.format()[-6:]), file=sys.stderr)
        return {"traced_bytes_per_call": sum(s.size_diff for s in stats) // max(1, calls)}

    return report


def ahead_seconds(session) -> float:
    """How long the session's paid time still runs (negative: over while the call goes on)."""
    from fs_cgr.times import add_ns, diff_ns
    from fs_cgr.times import now as utc_now

    return diff_ns(add_ns(session.anchor, session.paid_usage or 0), utc_now()) / 1e9


def unpaid_seconds(session) -> float:
    """How long the session's paid time has been over while the call goes on (0: paid)."""
    return max(0.0, -ahead_seconds(session))


def _median(runs: list[dict], key: str):
    return statistics.median(run[key] for run in runs)


def cpu_seconds() -> float:
    """CPU time (user + system) this process used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("setups", "hold", "money"), action="append")
    parser.add_argument(
        "--datadb", default="", help="DataDB URL, flushed first (default: the embedded one)"
    )
    parser.add_argument(
        "--stordb", default="", help="StorDB URL, flushed first (default: SQLite in a temp dir)"
    )
    parser.add_argument("--runs", type=int, default=3, help="set-up runs (the median is shown)")
    parser.add_argument("--setups", type=int, default=3000, help="calls per set-up run")
    parser.add_argument("--concurrency", type=int, default=50, help="callers at once")
    parser.add_argument("--rate", type=int, default=300, help="set-ups per second (latency)")
    parser.add_argument(
        "--closed-only", action="store_true",
        help="setups: the closed loop only, a fixed amount of work (callgrind before/after)",
    )  # fmt: skip
    parser.add_argument("--hold", type=int, default=5000, help="answered calls held at once")
    parser.add_argument("--debit-interval", default="10s", help="sessions.debit_interval")
    parser.add_argument("--hold-for", type=float, default=32, help="seconds the calls are held")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="hold: trace allocations (slows set-up)"
    )
    parser.add_argument("--calls", type=int, default=10000, help="calls of the money check")
    parser.add_argument(
        "--call-rate", type=float, default=0,
        help="money: calls started per second (default: as fast as the callers go)",
    )  # fmt: skip
    parser.add_argument(
        "--sofia", action="store_true", help="setups, money --embedded: SIP-sized channel variables"
    )
    parser.add_argument(
        "--like-freeswitch", action="store_true",
        help="money --embedded as bench/freeswitch_calls.py meets it: --call-rate 50 --sofia",
    )  # fmt: skip
    parser.add_argument(
        "--no-cdr", action="store_true", help="create_cdr off: the agent without the CDR path"
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="hold, money: calls authorized by the embedded handler, followed over the link",
    )
    parser.add_argument(
        "--rpc-timeout", type=float, default=0,
        help="money --embedded: the handler's fs_cgr_rpc_timeout in s (default: its own, 1)",
    )  # fmt: skip
    parser.add_argument(
        "--flags", default="", help="cgr_flags of the set-up and money calls (default: none set)"
    )
    parser.add_argument("--sim-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.flags == "seed":
        args.flags = SEED_FLAGS
    if args.like_freeswitch:
        args.embedded, args.sofia, args.call_rate = True, True, args.call_rate or 50
    if args.sim_worker:
        sim_worker()
        return 0
    from gevent import monkey

    monkey.patch_all()
    import logging

    logging.basicConfig(level=logging.WARNING)
    bench = Bench(args)
    try:
        for name in args.only or ("setups", "hold", "money"):
            print(name, json.dumps(getattr(bench, name)(), indent=2), flush=True)
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
