"""No lost update: concurrent get_account + cas_account retry loops count exactly.

Each worker adds 1 to a counter in one account document, retrying on
conflict. The final counter must equal the number of applied CAS steps; a
read-modify-write that slipped past the version check would leave it lower.
"""

import multiprocessing
import threading

import gevent

from fs_cgr.storage import open_datadb

TENANT, ACCOUNT = "cgrates.org", "counter"


def increment(datadb, times: int, pause=lambda: None) -> tuple[int, int]:
    """Add 1 ``times`` times; return (applied CAS steps, conflicts met)."""
    applied = conflicts = 0
    for _ in range(times):
        while True:
            doc, version = datadb.get_account(TENANT, ACCOUNT)
            pause()  # let the others read the same version
            result = datadb.cas_account(TENANT, ACCOUNT, version, {"n": doc["n"] + 1})
            if result.applied:
                applied += 1
                break
            assert result.conflict
            conflicts += 1
    return applied, conflicts


def _create_counter(datadb):
    assert datadb.cas_account(TENANT, ACCOUNT, 0, {"n": 0}).applied


def test_greenlets_lose_no_update(datadb):
    _create_counter(datadb)
    workers = [gevent.spawn(increment, datadb, 20, lambda: gevent.sleep(0)) for _ in range(25)]
    gevent.joinall(workers, raise_error=True)
    applied = sum(worker.value[0] for worker in workers)
    conflicts = sum(worker.value[1] for worker in workers)
    assert applied == 25 * 20
    assert conflicts > 0  # the greenlets really raced
    doc, version = datadb.get_account(TENANT, ACCOUNT)
    assert doc["n"] == applied
    assert version == applied + 1


def test_threads_lose_no_update(datadb):
    _create_counter(datadb)
    results = []
    barrier = threading.Barrier(8)

    def work():
        barrier.wait()
        results.append(increment(datadb, 50))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    applied = sum(result[0] for result in results)
    assert applied == 8 * 50
    assert datadb.get_account(TENANT, ACCOUNT)[0]["n"] == applied


def _process_worker(url: str, prefix: str, times: int, start, results) -> None:
    datadb = open_datadb(url, prefix=prefix)
    start.wait()
    results.put(increment(datadb, times))
    datadb.close()


def test_processes_lose_no_update(redis_url, redis_prefix):
    """Two OS processes share only Redis (the memory backend lives in one process)."""
    datadb = open_datadb(redis_url, prefix=redis_prefix)
    datadb.flush()
    _create_counter(datadb)
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=_process_worker, args=(redis_url, redis_prefix, 300, start, results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    applied = sum(outcome[0] for outcome in outcomes)
    assert applied == 2 * 300
    assert datadb.get_account(TENANT, ACCOUNT)[0]["n"] == applied
    datadb.flush()
    datadb.close()


def test_one_idempotency_key_applies_once_under_contention(datadb):
    _create_counter(datadb)
    outcomes = {}

    def debit(worker: int):
        while True:
            doc, version = datadb.get_account(TENANT, ACCOUNT)
            gevent.sleep(0)
            result = datadb.cas_account(
                TENANT, ACCOUNT, version, {"n": doc["n"] + 1}, "debit-42", {"by": worker}
            )
            if not result.conflict:
                outcomes[worker] = result
                return

    gevent.joinall([gevent.spawn(debit, worker) for worker in range(30)], raise_error=True)
    winners = [worker for worker, result in outcomes.items() if result.applied]
    assert len(winners) == 1
    duplicates = [result for result in outcomes.values() if result.duplicate]
    assert len(duplicates) == 29
    assert all(result.stored == {"by": winners[0]} for result in duplicates)
    assert datadb.get_account(TENANT, ACCOUNT)[0]["n"] == 1
