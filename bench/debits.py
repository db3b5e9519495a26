"""Debits per second against Redis from one process, their latency, and their CPU cost.

    python bench/debits.py [--redis redis://127.0.0.1:6379/15] [--runs 3] [--seconds 3]
                           [--accounts 200] [--greenlets 64] [--kind debit|adjust]
                           [--triggers 0..3]
                           [--wait-replicas N] [--wait-timeout 0.5]

One gevent process, ``--greenlets`` greenlets each charging random accounts of
``--accounts`` through AccountService: ``debit`` rates a 30 s call (connect fee,
then per-second increments) and charges it; ``adjust`` takes a fixed amount of
money (no rating). Every charge carries its own idempotency key. The service
remembers the accounts it wrote, so each charge is one compare-and-set, and
concurrent ones share Redis round trips. Figures are the median of ``--runs``
runs; "CPU" is this process's CPU time (user + system) per charge, which stays
meaningful when other jobs load the machine. Keys live under their own prefix
and are removed afterwards.

``--triggers 3`` gives every account three action triggers that every charge is
checked against (``*min_balance``, ``*max_balance`` and ``*balance_expired`` on
its monetary balance, none of which fires): the cost of the "account changed"
listener. A run ends when the listener has checked every change it made.

``--processes N`` runs N such processes at once on the same accounts (as the workers of
``fs-cgr serve --workers N`` share them): the figures are the sum of their charges per
second and their CPU per charge. A process's remembered copy of an account is stale
once another process wrote it, so such a charge takes a second compare-and-set (the
conflict reply carries the current account); ``--disjoint`` gives each process accounts
of its own (each account's calls in one worker), the case without those conflicts.
Every line also gives the Redis server's own CPU per charge (INFO cpu), meaningful when
nothing else uses that server (start one of your own).

``--wait-replicas N`` opens the DataDB with ``wait_replicas=N`` (every money write waits
for N replicas, docs/redis.md): point ``--redis`` at a master that has replicas to
measure what that costs; the line then also says how many writes stood unconfirmed.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import gevent  # noqa: E402
import redis  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fs_cgr.accounts import triggers  # noqa: E402
from fs_cgr.accounts.model import MONETARY  # noqa: E402
from fs_cgr.accounts.service import AccountService  # noqa: E402
from fs_cgr.app import LiveRating  # noqa: E402
from fs_cgr.durations import SECOND  # noqa: E402
from fs_cgr.rating import CallDescriptor  # noqa: E402
from fs_cgr.storage import open_datadb  # noqa: E402

TENANT = "cgrates.org"
START = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)
LIVE = {
    "destinations": {"DST_49": {"ID": "DST_49", "Prefixes": ["49"]}},
    "rates": {
        "RT_49": {
            "ID": "RT_49",
            "RateSlots": [
                {"ConnectFee": "0.05", "Rate": "0.06", "RateUnit": "60s", "RateIncrement": "1s"}
            ],
        }
    },
    "destination_rates": {
        "DR_49": {
            "ID": "DR_49",
            "DestinationRates": [{"DestinationId": "DST_49", "RateId": "RT_49"}],
        }
    },
    "rating_plans": {
        "RP": {
            "ID": "RP",
            "RatingPlanBindings": [{"DestinationRatesId": "DR_49", "TimingId": "*any"}],
        }
    },
    "rating_profiles": {
        "cgrates.org:call:*any": {
            "Tenant": TENANT,
            "Category": "call",
            "Subject": "*any",
            "RatingPlanActivations": [
                {"ActivationTime": "2024-01-01T00:00:00Z", "RatingPlanId": "RP"}
            ],
        }
    },
}


WATCHING = [  # (ThresholdType, ThresholdValue): checked on every charge, never crossed
    ("*min_balance", "-1"),
    ("*max_balance", "1e12"),
    ("*balance_expired", "0"),
]


def build(url: str, accounts: int, trigger_count: int = 0) -> AccountService:
    datadb = open_datadb(url)
    datadb.flush()
    datadb.write_live((kind, i, doc) for kind, objs in LIVE.items() for i, doc in objs.items())
    service = AccountService(SimpleNamespace(datadb=datadb, rating=LiveRating(datadb)))
    watching = [
        triggers.trigger_from_params(
            "BENCH",
            {
                "UniqueID": kind,
                "ThresholdType": kind,
                "ThresholdValue": value,
                "BalanceType": MONETARY,
                "ActionsID": "NONE",
            },
        )
        for kind, value in WATCHING[:trigger_count]
    ]
    for index in range(accounts):
        service.add_balance(TENANT, f"acc{index}", MONETARY, Decimal(10**9), {"ID": "main"})
        if watching:
            service.change_triggers(
                TENANT, f"acc{index}", lambda docs: [t.to_doc() for t in watching]
            )
    service.changes.wait(timeout=60)
    return service


def one_run(service, args, run: int, start: float | None = None) -> dict:
    """One timed run (from ``start``, a time.time(), when given): charges, seconds, CPU
    seconds of this process, and the latencies' p50 and p99 in ms."""
    latencies: list[float] = []
    if start is not None:
        gevent.sleep(max(0.0, start - time.time()))
    deadline = time.perf_counter() + args.seconds
    share = args.processes if args.disjoint and args.child else 1

    def pick(rng) -> int:  # --disjoint: child n charges accounts n-1, n-1+N, n-1+2N, ...
        return rng.randrange(args.accounts // share) * share + (args.child - 1) % share

    def worker(index: int):
        rng = random.Random(f"{args.start}:{run}:{args.child}:{index}")
        sequence = 0
        while time.perf_counter() < deadline:
            account = f"acc{pick(rng)}"
            key = f"r{run}:{args.start}:p{args.child}:g{index}:{sequence}"
            began = time.perf_counter()
            if args.kind == "debit":
                cd = CallDescriptor(
                    TENANT, "call", account, "4915", START, account=account, usage=30 * SECOND
                )
                service.debit(cd, key)
            else:
                service.adjust(TENANT, account, Decimal("0.01"), key)
            latencies.append(time.perf_counter() - began)
            sequence += 1

    began, cpu_began = time.perf_counter(), time.process_time()
    gevent.joinall([gevent.spawn(worker, index) for index in range(args.greenlets)])
    service.changes.wait(timeout=60)  # the listeners' work is part of the cost
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    latencies.sort()
    return {
        "charges": len(latencies),
        "seconds": elapsed,
        "cpu": cpu,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def server_cpu(url: str) -> float:
    """CPU seconds the Redis server used so far (all its clients)."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def child_runs(args, url: str) -> None:
    """A ``--processes`` child: its runs from the parent's ``--start``, one JSON line each."""
    datadb = open_datadb(url)
    service = AccountService(SimpleNamespace(datadb=datadb, rating=LiveRating(datadb)))
    # remembered as the single process remembers the accounts it created
    service.prefetch([(TENANT, f"acc{index}") for index in range(args.accounts)])
    try:
        for run in range(args.runs):
            result = one_run(service, args, run, args.start + run * (args.seconds + GAP))
            print(json.dumps(result), flush=True)
    finally:
        service.datadb.close()


GAP = 2.0  # seconds between two runs of the processes (the listeners finish)


def parallel_runs(args) -> list[dict]:
    """``--processes`` children on the same accounts; per run, their sum."""
    start = time.time() + 3.0  # every child imported and connected by then
    command = [sys.executable, __file__, *sys.argv[1:], "--prefix", args.prefix]
    command += ["--runs", "1", "--start", str(start)]
    children = [
        subprocess.Popen([*command, "--child", str(n)], stdout=subprocess.PIPE, text=True)
        for n in range(1, args.processes + 1)
    ]
    lines = [child.communicate(timeout=60 + args.runs * (args.seconds + GAP) * 5)[0]
             for child in children]  # fmt: skip
    if any(child.returncode for child in children):
        raise SystemExit("a bench process failed")
    per_child = [[json.loads(line) for line in out.splitlines()] for out in lines]
    return [
        {
            "charges": sum(r["charges"] for r in runs),
            "seconds": max(r["seconds"] for r in runs),
            "cpu": sum(r["cpu"] for r in runs),
            "p50": statistics.median(r["p50"] for r in runs),
            "p99": max(r["p99"] for r in runs),
        }
        for runs in zip(*per_child, strict=True)
    ]


def remove_keys(url: str, prefix: str) -> None:
    """Every key of the run, account version counters too (``flush`` keeps those)."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        for key in client.scan_iter(match=f"{prefix}:*", count=500):
            client.unlink(key)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--redis", default=os.environ.get("FS_CGR_TEST_REDIS", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--greenlets", type=int, default=64)
    parser.add_argument("--kind", choices=("debit", "adjust"), default="debit")
    parser.add_argument("--triggers", type=int, choices=range(len(WATCHING) + 1), default=0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--disjoint", action="store_true", help="each process its own accounts")
    parser.add_argument("--wait-replicas", type=int, default=0)
    parser.add_argument("--wait-timeout", type=float, default=0.5)
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default=f"fs_cgr_bench_debits_{os.getpid()}",
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    url = f"{args.redis}?prefix={args.prefix}"
    if args.wait_replicas:
        url += f"&wait_replicas={args.wait_replicas}&wait_timeout={args.wait_timeout}"
    if args.child:
        child_runs(args, url)
        return
    service = build(url, args.accounts, args.triggers)
    try:
        results = []
        for run in range(args.runs):
            server_began = server_cpu(args.redis)
            if args.processes > 1:
                [result] = parallel_runs(args)
            else:
                result = one_run(service, args, run)
            result["server"] = server_cpu(args.redis) - server_began
            results.append(result)
        unconfirmed = service.datadb.under_replicated
    finally:
        service.datadb.close()
        remove_keys(args.redis, args.prefix)
    print(summary(args, results, unconfirmed))


def summary(args, results: list[dict], unconfirmed: int) -> str:
    def median(figure) -> float:
        return statistics.median(figure(r) for r in results)

    return (
        f"{args.kind}: {median(lambda r: r['charges'] / r['seconds']):,.0f}/s"
        f"  p50 {median(lambda r: r['p50']):.2f} ms  p99 {median(lambda r: r['p99']):.2f} ms"
        f"  CPU {median(lambda r: r['cpu'] / r['charges'] * 1000):.3f} ms/{args.kind}"
        f" + Redis server {median(lambda r: r['server'] / r['charges'] * 1000):.3f} ms"
        f"  ({args.processes} process(es){' on disjoint accounts' if args.disjoint else ''}"
        f" x {args.greenlets} greenlets, {args.accounts} accounts,"
        f" {args.triggers} triggers each, median of {args.runs})"
        + (
            f"  wait_replicas={args.wait_replicas}: {unconfirmed} unconfirmed"
            if args.wait_replicas
            else ""
        )
    )


if __name__ == "__main__":
    main()
