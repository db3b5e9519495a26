"""One scheduled run of a *monthly action plan over many accounts, against Redis.

    python bench/scheduler.py [--redis redis://127.0.0.1:6379/15] [--accounts 100000]

One gevent process (as ``fs-cgr serve``): ``--accounts`` accounts bound to one plan
whose *monthly timing debits 1.5 from each. The scheduler's clock is moved a month
on and one pass (``Scheduler.tick``) is timed: every account charged once, each
with its own idempotency key (so a node dying mid-run charges nobody twice).
Prints the run's time, accounts per second and this process's CPU per account.
The accounts are created beforehand by plain compare-and-sets (not timed); keys
live under their own prefix and are removed afterwards.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.pool  # noqa: E402
import redis  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fs_cgr.accounts.model import MONETARY, Account, Balance, new_uuid  # noqa: E402
from fs_cgr.accounts.service import plan_index  # noqa: E402
from fs_cgr.app import Node  # noqa: E402
from fs_cgr.config import load_config  # noqa: E402
from fs_cgr.storage.base import ACTION_PLANS, ACTIONS  # noqa: E402

TENANT = "cgrates.org"
PLAN = "AP_MONTHLY_BENCH"
START = datetime(2025, 1, 10, 8, 0, tzinfo=timezone.utc)
LIVE = [
    (
        ACTIONS,
        "ACT_FEE",
        {
            "ID": "ACT_FEE",
            "Actions": [
                {
                    "Identifier": "*debit",
                    "BalanceId": "main",
                    "BalanceType": MONETARY,
                    "Units": "1.5",
                    "Weight": 10,
                }
            ],
        },
    ),
    (
        ACTION_PLANS,
        PLAN,
        {
            "ID": PLAN,
            "ActionPlan": [{"ActionsId": "ACT_FEE", "TimingId": "*monthly", "Weight": 10}],
        },
    ),
]


def create_accounts(node: Node, count: int) -> None:
    pool = gevent.pool.Pool(16)

    def create(index: int) -> None:
        account = Account(TENANT, f"b{index}", action_plan_ids=[PLAN])
        account.add_balance(Balance(new_uuid(), MONETARY, "main", 100))
        node.datadb.cas_account(TENANT, account.id, 0, account.to_doc())

    for index in range(count):
        pool.spawn(create, index)
    pool.join(raise_error=True)
    assert len(node.datadb.account_ids(TENANT)) == count
    names = [f"{TENANT}:b{index}" for index in range(count)]
    for start in range(0, count, 10_000):
        node.datadb.set_add(plan_index(PLAN), names[start : start + 10_000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--redis", default=os.environ.get("FS_CGR_TEST_REDIS", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()
    prefix = f"fs_cgr_bench_scheduler_{os.getpid()}"
    clock = [START]
    node = Node(
        load_config(
            overrides={
                "general.data_dir": f"/tmp/{prefix}",
                "datadb.url": f"{args.redis}?prefix={prefix}",
                "stordb.url": f"sqlite:////tmp/{prefix}.sqlite",
            },
            env={},
        )
    )
    node.scheduler.clock = lambda: clock[0]
    try:
        node.tariffplans.apply_live(LIVE)
        began = time.perf_counter()
        create_accounts(node, args.accounts)
        print(f"created {args.accounts:,} accounts in {time.perf_counter() - began:.1f} s")
        assert node.scheduler.tick() == 0  # the anchor: the 10th of each month, 08:00
        clock[0] = START + timedelta(days=31)
        began, cpu_began = time.perf_counter(), time.process_time()
        ran = node.scheduler.tick()
        node.accounts.changes.wait(timeout=600)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        charged = node.accounts.get_account(TENANT, f"b{args.accounts - 1}")
        assert ran == 1 and charged.balances[MONETARY][0].value == 98.5
        print(
            f"*monthly run over {args.accounts:,} accounts: {elapsed:.1f} s"
            f"  ({args.accounts / elapsed:,.0f} accounts/s,"
            f" CPU {cpu / args.accounts * 1000:.3f} ms/account)"
            f"  -> 100,000 accounts: ~{100_000 / args.accounts * elapsed:.0f} s"
        )
    finally:
        node.stop()
        client = redis.Redis.from_url(args.redis, socket_timeout=5)
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.unlink(key)
        client.close()


if __name__ == "__main__":
    main()
