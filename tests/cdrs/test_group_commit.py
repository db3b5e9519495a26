"""The call path's group commit: calls ending at once share one duplicate check and one
insert, yet each learns its own outcome, and nothing is lost or stored twice."""

import threading
import time
from decimal import Decimal
from pathlib import Path

from fs_cgr.cdrs import commit
from fs_cgr.errors import StorageUnavailable
from tests.cdrs.helpers import call, monetary, top_up


class HeldStore:
    """Wraps the StorDB's store_cdrs: counts the batches, holds the first until released."""

    def __init__(self, node, fail=None):
        self.store = node.stordb.store_cdrs
        self.fail = fail
        self.batches = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, cdrs):
        self.batches.append([cdr["OriginID"] for cdr in cdrs])
        self.entered.set()
        self.release.wait(10)
        if self.fail is not None:
            self.fail(cdrs)
        return self.store(cdrs)


def _end_calls(node, store, events) -> list:
    """One thread per event through ``process_call_events``; the others queue, in the
    events' order, while the first batch is held. The outcome (or exception) of each
    event, in order."""
    node.stordb.store_cdrs = store
    results = [None] * len(events)

    def end(index):
        try:
            results[index] = node.cdrs.process_call_events([events[index]])[0]
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=end, args=(index,)) for index in range(len(events))]
    threads[0].start()
    assert store.entered.wait(10)
    queue = node.cdrs._commits._queue
    for queued, thread in enumerate(threads[1:], start=1):
        thread.start()  # each queued before the next starts: the batch holds them in order
        while queue.qsize() < queued:
            threading.Event().wait(0.001)
    store.release.set()
    for thread in threads:
        thread.join(10)
    return results


def _postpaid(origin_id):
    return call(origin_id, RequestType="*postpaid", Usage="120s")


def test_waiting_calls_are_stored_in_one_batch_each_with_its_outcome(node):
    top_up(node, "1001", 10)
    assert node.cdrs.process_call_events([_postpaid("g0")])[0].stored == 1
    store = HeldStore(node)
    events = [_postpaid(f"g{n}") for n in range(1, 11)] + [_postpaid("g0"), _postpaid("g5")]
    results = _end_calls(node, store, events)
    assert [sorted(batch) for batch in store.batches] == [
        ["g1"],
        sorted(f"g{n}" for n in range(2, 11)),
    ]
    fresh, repeated = results[:10], results[10:]
    assert [(o.stored, o.duplicates, len(o.cdrs)) for o in fresh] == [(1, 0, 1)] * 10
    assert [(o.stored, o.duplicates, o.cdrs) for o in repeated] == [(0, 1, [])] * 2
    assert node.cdrs.count_cdrs({}) == 11
    assert monetary(node, "1001") == Decimal(10) - 11 * Decimal("0.7002")  # g0, g5 charged once


def test_a_batch_stordb_refuses_is_spooled_for_every_waiter(embedded):
    def unavailable(cdrs):
        raise StorageUnavailable("stordb down")

    events = [call(f"s{n}", RequestType="*rated", Usage="60s") for n in range(5)]
    results = _end_calls(embedded, HeldStore(embedded, unavailable), events)
    assert [(o.stored, o.spooled) for o in results] == [(0, 1)] * 5
    assert len(Path(embedded.cdrs.spool.path).read_text().splitlines()) == 5
    del embedded.stordb.store_cdrs  # StorDB is back
    assert embedded.cdrs.replay_spool() == 5
    assert embedded.cdrs.replay_spool() == 0
    assert embedded.cdrs.count_cdrs({}) == 5


def test_one_callers_bad_cdr_fails_only_that_caller(embedded):
    def refuse_bad(cdrs):
        if any(cdr["OriginID"] == "bad" for cdr in cdrs):
            raise ValueError("bad CDR")

    events = [call(f"b{n}", RequestType="*rated", Usage="60s") for n in range(3)]
    events.insert(2, call("bad", RequestType="*rated", Usage="60s"))
    results = _end_calls(embedded, HeldStore(embedded, refuse_bad), events)
    assert isinstance(results.pop(2), ValueError)
    assert [(o.stored, o.duplicates, len(o.cdrs)) for o in results] == [(1, 0, 1)] * 3
    stored = embedded.cdrs.get_cdrs({})
    assert sorted(cdr["OriginID"] for cdr in stored) == ["b0", "b1", "b2"]


def test_an_idle_writer_ends_and_the_next_call_starts_another(embedded, monkeypatch):
    monkeypatch.setattr(commit, "IDLE_EXIT", 0.3)
    commits = embedded.cdrs._commits
    assert embedded.cdrs.process_call_events([call("i0", Usage="60s")])[0].stored == 1
    first = commits._writer
    first.join(5)
    assert not first.is_alive() and commits._writer is None
    assert embedded.cdrs.process_call_events([call("i1", Usage="60s")])[0].stored == 1
    assert commits._writer is not first
    assert embedded.cdrs.count_cdrs({}) == 2


def test_terminate_hands_its_session_cost_to_the_cdr_without_a_stordb_read(embedded):
    top_up(embedded, "1001", 10)
    event = call("t1", RequestType="*prepaid", Usage="120s", CGRDebitInterval="0s")
    embedded.sessions.initiate(event)
    reads = []
    embedded.stordb.get_session_cost = lambda *key: reads.append(key)
    result = embedded.sessions.terminate(dict(event, Usage="90s"))
    assert reads == []
    (outcome,) = result.cdr
    assert outcome.stored == 1
    assert (outcome.cdrs[0]["Cost"], outcome.cdrs[0]["CostSource"]) == (
        Decimal("0.6501"),
        "*sessions",
    )


class CountedStore:
    """Wraps the StorDB's store_cdrs: the OriginIDs of each batch it was given."""

    def __init__(self, node):
        self.store = node.stordb.store_cdrs
        self.batches = []
        node.stordb.store_cdrs = self

    def __call__(self, cdrs):
        self.batches.append(sorted(cdr["OriginID"] for cdr in cdrs))
        return self.store(cdrs)


def _end_apart(node, waits, gap=0.05) -> tuple[list, list]:
    """One thread per wait, each ending a *rated call ``gap`` s after the previous one
    with that ``wait``; their outcomes and seconds each took, in order."""
    outcomes, took = [None] * len(waits), [None] * len(waits)

    def end(index):
        started = time.monotonic()
        event = call(f"w{index}", RequestType="*rated", Usage="60s")
        outcomes[index] = node.cdrs.process_call_events([event], wait=waits[index])[0]
        took[index] = time.monotonic() - started

    threads = [threading.Thread(target=end, args=(index,)) for index in range(len(waits))]
    for thread in threads:
        thread.start()
        time.sleep(gap)
    for thread in threads:
        thread.join(10)
    return outcomes, took


def test_calls_ending_apart_share_a_commit_when_they_may_wait(embedded):
    store = CountedStore(embedded)
    outcomes, took = _end_apart(embedded, [2.0, 2.0, 2.0])
    assert [o.stored for o in outcomes] == [1, 1, 1]
    assert store.batches == [["w0", "w1", "w2"]]  # held for the first call's 2 s
    assert 1.5 < took[0] < 5
    assert embedded.cdrs.count_cdrs({}) == 3


def test_calls_ending_apart_are_committed_apart_without_a_wait(embedded):
    store = CountedStore(embedded)
    outcomes, took = _end_apart(embedded, [0.0, 0.0, 0.0])
    assert [o.stored for o in outcomes] == [1, 1, 1]
    assert store.batches == [["w0"], ["w1"], ["w2"]]
    assert max(took) < 1


def test_a_caller_that_may_not_wait_ends_the_batchs_wait(embedded):
    store = CountedStore(embedded)
    outcomes, took = _end_apart(embedded, [30.0, 0.0], gap=0.2)
    assert [o.stored for o in outcomes] == [1, 1]
    assert store.batches == [["w0", "w1"]]
    assert took[0] < 5 and took[1] < 1  # neither waited out w0's 30 s


def test_stopping_commits_a_waiting_batch_at_once(embedded):
    store = CountedStore(embedded)
    thread = threading.Thread(
        target=embedded.cdrs.process_call_events,
        args=([call("s0", RequestType="*rated", Usage="60s")],),
        kwargs={"wait": 30.0},
    )
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    embedded.cdrs._commits.stop()
    thread.join(10)
    assert time.monotonic() - started < 5
    assert store.batches == [["s0"]]
    assert embedded.cdrs.count_cdrs({}) == 1
