"""A real Sentinel group (master, replica, 3 sentinels): money writes that wait for the
replica, and a master killed under traffic.

The failover test is the promise to operators: debits carrying idempotency keys, retried
by their client on any error, are each applied exactly once across the failover, and
requests succeed again within the failover time (docs/redis.md says what the node shows
meanwhile).
"""

import threading
import time
from decimal import Decimal

import pytest

from fs_cgr.accounts.model import MONETARY
from fs_cgr.storage import open_datadb
from tests.accounts.conftest import service_on
from tests.storage.conftest import wipe_redis_prefix

PREFIX = "fscgrsentinel"
WAIT_TIMEOUT = 0.3  # seconds a money write waits for the replica in these tests
START = Decimal("1000")
STEP = Decimal("0.01")


@pytest.fixture
def sentinel_url(redis_sentinel):
    url = f"{redis_sentinel.url}?prefix={PREFIX}&wait_replicas=1&wait_timeout={WAIT_TIMEOUT}"
    wipe_redis_prefix(redis_sentinel.url, PREFIX)
    # a test before may have failed the master over: its replica linked and caught up first
    redis_sentinel.wait_replicated()
    yield url
    redis_sentinel.heal()
    wipe_redis_prefix(redis_sentinel.url, PREFIX)


def _replica(group):
    return group.replica if group.master_port() == group.master.port else group.master


def test_a_money_write_is_on_the_replica_when_its_reply_comes(sentinel_url, redis_sentinel):
    datadb = open_datadb(sentinel_url)
    try:
        with _replica(redis_sentinel).client() as replica:
            for number in range(20):
                assert datadb.cas_account("t", "a", number, {"n": number + 1}, f"k{number}").applied
                # read at once from the replica, no waiting: the write is already there
                assert replica.hget(f"{PREFIX}:{{acc:t:a}}", "v") == str(number + 1)
        assert datadb.under_replicated == 0
    finally:
        datadb.close()


def test_a_replica_that_does_not_confirm_in_time_leaves_the_write_standing(
    sentinel_url, redis_sentinel
):
    datadb = open_datadb(sentinel_url)
    stalled = threading.Thread(
        target=lambda: (
            _replica(redis_sentinel).client(socket_timeout=5).execute_command("DEBUG", "SLEEP", "2")
        )
    )
    try:
        stalled.start()
        time.sleep(0.3)  # the replica now sleeps and acknowledges nothing
        started = time.monotonic()
        assert datadb.cas_account("t", "b", 0, {"n": 1}, "k1").applied
        waited = time.monotonic() - started
        assert WAIT_TIMEOUT * 0.9 <= waited < 1.5  # gave up after wait_timeout, not later
        assert datadb.under_replicated == 1
        assert datadb.get_account("t", "b") == ({"n": 1}, 1)  # the write stood
        assert datadb.cas_account("t", "b", 1, {"n": 2}, "k1").duplicate  # and its key
    finally:
        stalled.join()
        datadb.close()


class _Client:
    """One client thread: debits of STEP, each with its own key, retried on any error
    until it is answered, until ``stop`` is set; it records what was granted and its
    longest run of errors."""

    def __init__(self, service, name: str, stop: threading.Event):
        self.service, self.name, self.stop = service, name, stop
        self.granted: dict[str, Decimal] = {}
        self.errors = 0
        self.longest_outage = 0.0
        self.thread = threading.Thread(target=self.run)

    def run(self):
        number = 0
        while not self.stop.is_set():
            number += 1
            key = f"{self.name}:{number}"
            failing_since = None
            while True:
                try:
                    done = self.service.adjust("cgrates.org", "hot", STEP, key)
                    break
                except Exception:  # StorageUnavailable, AccountBusy...: send it again
                    self.errors += 1
                    failing_since = failing_since or time.monotonic()
                    if time.monotonic() - failing_since > 60:
                        raise
                    time.sleep(0.05)
            if failing_since is not None:
                outage = time.monotonic() - failing_since
                self.longest_outage = max(self.longest_outage, outage)
            self.granted[key] = done.amount


def test_master_killed_mid_traffic_loses_no_debit_and_applies_none_twice(
    sentinel_url, redis_sentinel
):
    datadb = open_datadb(sentinel_url)
    service = service_on(datadb)
    service.add_balance("cgrates.org", "hot", MONETARY, START, {"ID": "main"})
    stop = threading.Event()
    clients = [_Client(service, f"c{n}", stop) for n in range(4)]
    old_master = redis_sentinel.master_port()
    try:
        for client in clients:
            client.thread.start()
        time.sleep(0.5)  # traffic flows
        acknowledged_before_kill = sum(len(c.granted) for c in clients)
        under_replicated_before_kill = datadb.under_replicated
        dying = redis_sentinel.master if old_master == redis_sentinel.master.port else None
        (dying or redis_sentinel.replica).kill()
        killed_at = time.monotonic()
        new_master = redis_sentinel.wait_failover(old_master)
        failover_seconds = time.monotonic() - killed_at
        time.sleep(1)  # traffic on the new master
        stop.set()
        for client in clients:
            client.thread.join(120)
            assert not client.thread.is_alive()
        granted = {key: amount for c in clients for key, amount in c.granted.items()}

        assert new_master != old_master
        assert acknowledged_before_kill > 0 and under_replicated_before_kill == 0
        assert sum(c.errors for c in clients) > 0  # the clients really saw the failover
        assert len(granted) > acknowledged_before_kill and set(granted.values()) == {STEP}
        balance = service.get_account("cgrates.org", "hot").balances[MONETARY][0].value
        assert balance == START - STEP * len(granted)  # nothing lost, nothing applied twice
        for key in list(granted)[::37]:  # the keys survived too: a retry changes nothing
            assert service.adjust("cgrates.org", "hot", STEP, key).amount == STEP
        assert service.get_account("cgrates.org", "hot").balances[MONETARY][0].value == balance
        longest = max(c.longest_outage for c in clients)
        assert longest < failover_seconds + 5  # answered again as soon as the master is back
        print(
            f"failover {failover_seconds:.1f}s, longest client outage {longest:.1f}s, "
            f"{len(granted)} debits ({acknowledged_before_kill} before the kill), "
            f"{sum(c.errors for c in clients)} errors retried"
        )
    finally:
        datadb.close()
