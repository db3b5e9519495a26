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

``--wait-replicas N`` opens the DataDB with ``wait_replicas=N`` (every money write waits
for N replicas, docs/redis.md): point ``--redis`` at a master that has replicas to
measure what that costs; the line then also says how many writes stood unconfirmed.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
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


def one_run(service, args, run: int) -> tuple[float, float, float, float]:
    """(charges per second, p50 ms, p99 ms, CPU ms per charge) of one timed run."""
    latencies: list[float] = []
    deadline = time.perf_counter() + args.seconds

    def worker(index: int):
        rng = random.Random(run * 10_000 + index)
        sequence = 0
        while time.perf_counter() < deadline:
            account = f"acc{rng.randrange(args.accounts)}"
            key = f"r{run}:g{index}:{sequence}"
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
    return (
        len(latencies) / elapsed,
        latencies[len(latencies) // 2] * 1000,
        latencies[int(len(latencies) * 0.99)] * 1000,
        cpu / len(latencies) * 1000,
    )


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
    parser.add_argument("--wait-replicas", type=int, default=0)
    parser.add_argument("--wait-timeout", type=float, default=0.5)
    args = parser.parse_args()
    prefix = f"fs_cgr_bench_debits_{os.getpid()}"
    url = f"{args.redis}?prefix={prefix}"
    if args.wait_replicas:
        url += f"&wait_replicas={args.wait_replicas}&wait_timeout={args.wait_timeout}"
    service = build(url, args.accounts, args.triggers)
    try:
        results = [one_run(service, args, run) for run in range(args.runs)]
        unconfirmed = service.datadb.under_replicated
    finally:
        service.datadb.close()
        remove_keys(args.redis, prefix)
    rates, p50s, p99s, cpus = zip(*results, strict=True)
    print(
        f"{args.kind}: {statistics.median(rates):,.0f}/s"
        f"  p50 {statistics.median(p50s):.2f} ms  p99 {statistics.median(p99s):.2f} ms"
        f"  CPU {statistics.median(cpus):.3f} ms/{args.kind}"
        f"  ({args.greenlets} greenlets, {args.accounts} accounts, {args.triggers} triggers"
        f" each, median of {args.runs})"
        + (
            f"  wait_replicas={args.wait_replicas}: {unconfirmed} unconfirmed"
            if args.wait_replicas
            else ""
        )
    )


if __name__ == "__main__":
    main()
