"""The scheduler on a fake clock: two nodes on one Redis run a *monthly plan exactly once a
month, a node restarted mid-way included, and a run a dead node left half done is
finished by the other without charging anyone twice."""

import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from fs_cgr.accounts.actions import parse_actions
from fs_cgr.app import Node
from fs_cgr.config import load_config
from fs_cgr.scheduler import service as scheduler_service
from fs_cgr.scheduler.service import run_name
from fs_cgr.storage.base import ACTION_PLANS, ACTIONS
from tests.storage.conftest import wipe_redis_prefix

TENANT = "cgrates.org"
ACCOUNTS = ("2001", "2002", "2003")
START = datetime(2025, 1, 10, 8, 0, tzinfo=timezone.utc)
LIVE = [
    (
        ACTIONS,
        "ACT_MONTHLY_FEE",
        {
            "ID": "ACT_MONTHLY_FEE",
            "Actions": [
                {
                    "Identifier": "*debit",
                    "BalanceId": "fees",
                    "BalanceType": "*monetary",
                    "Units": "1.5",
                    "Weight": 10,
                }
            ],
        },
    ),
    (
        ACTION_PLANS,
        "AP_MONTHLY_FEE",
        {
            "ID": "AP_MONTHLY_FEE",
            "ActionPlan": [{"ActionsId": "ACT_MONTHLY_FEE", "TimingId": "*monthly", "Weight": 10}],
        },
    ),
]


class FakeClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def redis_prefix(redis_url):
    prefix = "fs_cgr_scheduler_test"
    wipe_redis_prefix(redis_url, prefix)
    yield prefix
    wipe_redis_prefix(redis_url, prefix)


def make_node(redis_url, prefix, tmp_path, name, clock) -> Node:
    config = load_config(
        overrides={
            "general.data_dir": str(tmp_path / name),
            "datadb.url": f"{redis_url}?prefix={prefix}",
            "stordb.url": f"sqlite:///{tmp_path}/{name}.sqlite",
        },
        env={},
    )
    node = Node(config)
    node.scheduler.clock = clock
    return node


def two_nodes(redis_url, prefix, tmp_path, names, clock) -> list[Node]:
    """Two nodes on one Redis, the plan live and ACCOUNTS bound to it."""
    nodes = [make_node(redis_url, prefix, tmp_path, name, clock) for name in names]
    nodes[0].tariffplans.apply_live(LIVE)
    for account in ACCOUNTS:
        nodes[0].accounts.set_account(TENANT, account, action_plan_ids=["AP_MONTHLY_FEE"])
    return nodes


def fees(node: Node, account: str) -> Decimal:
    balances = node.accounts.get_account(TENANT, account).balances["*monetary"]
    return next(b.value for b in balances if b.id == "fees")


def test_two_nodes_run_a_monthly_plan_fourteen_times_across_a_restart(
    redis_url, redis_prefix, tmp_path
):
    clock = FakeClock(START)
    node_a, node_b = two_nodes(redis_url, redis_prefix, tmp_path, ("a", "b"), clock)
    ran = {"a": 0, "b": 0}

    def tick(name: str, node: Node) -> None:
        ran[name] += node.scheduler.tick()

    step = 0
    while clock.now < datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc):
        awake = [("a", node_a), ("b", node_b)]
        if 440 <= step < 520:  # node a is busy (or down) for 40 days: node b runs alone
            awake = awake[1:]
        workers = [threading.Thread(target=tick, args=pair) for pair in awake]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if step == 420:  # seven months in, node b restarts: a new process, same DataDB
            node_b.stop()
            node_b = make_node(redis_url, redis_prefix, tmp_path, "b2", clock)
        clock.now += timedelta(hours=12)
        step += 1

    assert ran["a"] + ran["b"] == 14  # Feb 2025 .. Mar 2026, each 10th at 08:00
    assert ran["b"] >= 1  # the restarted node b took its turn (alone, at least)
    for account in ACCOUNTS:
        assert fees(node_a, account) == Decimal("-21")  # 14 x 1.5, not one more or less
    [scheduled] = node_a.scheduler.scheduled_actions()
    assert scheduled["NextRunTime"] == "2026-04-10T08:00:00Z" and scheduled["Accounts"] == 3
    node_a.stop()
    node_b.stop()


def test_a_run_left_half_done_by_a_dead_node_is_finished_once(
    redis_url, redis_prefix, tmp_path, monkeypatch
):
    monkeypatch.setattr(scheduler_service, "LEASE", 0.3)
    clock = FakeClock(START)
    dead, alive = two_nodes(redis_url, redis_prefix, tmp_path, ("dead", "alive"), clock)
    assert dead.scheduler.tick() == 0  # fixes the anchor: 10th of each month, 08:00
    clock.now = datetime(2025, 2, 10, 8, 0, 1, tzinfo=timezone.utc)

    # the dead node claimed February's run and charged two accounts, then died
    [timing] = dead.scheduler.timings()
    run_id = run_name(timing, dead.scheduler.next_run(timing))
    assert dead.datadb.claim(f"sched:run:{run_id}", dead.scheduler.node_id, 0.3)
    actions = parse_actions(LIVE[0][2])
    for account in ACCOUNTS[:2]:
        dead.accounts.run_scheduled(TENANT, account, actions, f"sched:{run_id}")
    dead.stop()

    assert alive.scheduler.tick() == 0  # the lease still holds: not run twice at once
    time.sleep(0.4)
    assert alive.scheduler.tick() == 1
    assert [fees(alive, a) for a in ACCOUNTS] == [Decimal("-1.5")] * 3
    assert alive.scheduler.tick() == 0  # done: not again
    alive.stop()
