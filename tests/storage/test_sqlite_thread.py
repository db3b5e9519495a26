"""SQLite in a thread of its own: the gevent loop runs on while SQLite waits or works."""

import os
import sqlite3
import subprocess
import sys
import threading

import gevent
import pytest

from fs_cgr.errors import StorageUnavailable
from fs_cgr.storage import open_stordb
from fs_cgr.storage.sqlite_thread import SWITCH_INTERVAL, ThreadedStorDB
from tests.storage.test_stordb_contract import make_cdr


@pytest.fixture
def locked_sqlite(tmp_path):
    """A SQLite file StorDB (in its thread, waiting at most 1 s for a lock) and another
    connection holding the file's write lock until the test rolls it back."""
    path = tmp_path / "stordb.sqlite"
    stordb = ThreadedStorDB(open_stordb(f"sqlite:///{path}?busy_timeout=1"))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    yield stordb, blocker
    blocker.close()
    stordb.close()


def ticks_during(seconds: float) -> int:
    """How often a greenlet sleeping 10 ms got to run in ``seconds``."""
    ticks = 0

    def tick():
        nonlocal ticks
        while True:
            ticks += 1
            gevent.sleep(0.01)

    ticker = gevent.spawn(tick)
    gevent.sleep(seconds)
    ticker.kill()
    return ticks


def test_the_loop_runs_while_a_cdr_waits_for_the_lock(locked_sqlite):
    stordb, blocker = locked_sqlite
    default_interval = sys.getswitchinterval()
    writer = gevent.spawn(stordb.store_cdrs, [make_cdr("c1")])
    assert ticks_during(0.3) >= 10  # in the loop's thread SQLite would hold it 1 s
    assert not writer.ready()
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)  # the thread gets the GIL
    blocker.rollback()
    assert writer.get(timeout=5) == 1
    assert sys.getswitchinterval() == default_interval
    assert [cdr["CGRID"] for cdr in stordb.get_cdrs({})] == ["c1"]


def test_a_lock_held_past_busy_timeout_is_storage_unavailable_in_the_caller(locked_sqlite):
    stordb, _ = locked_sqlite
    with pytest.raises(StorageUnavailable, match="locked"):
        stordb.store_cdrs([make_cdr("c1")])
    assert stordb.url.endswith("stordb.sqlite")  # plain attributes read through


def test_calls_keep_their_order_from_many_greenlets(tmp_path):
    stordb = ThreadedStorDB(open_stordb(f"sqlite:///{tmp_path}/s.sqlite"))
    try:
        gevent.joinall(
            [gevent.spawn(stordb.store_cdrs, [make_cdr(f"c{n}")]) for n in range(200)],
            raise_error=True,
        )
        assert stordb.count_cdrs({}) == 200
        assert len(stordb.stored_runs([f"c{n}" for n in range(300)])) == 200
    finally:
        stordb.close()


def test_a_gevent_patched_process_opens_sqlite_in_its_thread_and_mysql_as_it_is():
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "from fs_cgr.storage import open_stordb\n"
        "print(type(open_stordb('internal://')).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ThreadedStorDB"]
    assert type(open_stordb("internal://")).__name__ == "SQLStorDB"  # this process: unpatched


def test_run_makes_several_calls_in_one_crossing(tmp_path):
    stordb = ThreadedStorDB(open_stordb(f"sqlite:///{tmp_path}/s.sqlite"))
    native = threading.get_ident  # this process is not patched: native thread ids

    def check_and_store(cdrs):
        fresh = [c for c in cdrs if not stordb.stored_runs([c["CGRID"]])]  # nested: direct
        return native(), stordb.store_cdrs(fresh)

    try:
        assert stordb.run(check_and_store, [make_cdr("c1")])[1] == 1
        thread, stored = stordb.run(check_and_store, [make_cdr("c1"), make_cdr("c2")])
        assert stored == 1
        assert thread != native()
        assert stordb.run(native) == thread  # the one thread every call runs in
    finally:
        stordb.close()


def test_a_caller_killed_while_waiting_leaves_the_thread_serving_the_next(tmp_path):
    stordb = ThreadedStorDB(open_stordb(f"sqlite:///{tmp_path}/s.sqlite"))
    started, release = threading.Event(), threading.Event()

    def slow_store(cdrs):
        started.set()
        release.wait(5)
        return stordb.store_cdrs(cdrs)

    try:
        caller = gevent.spawn(stordb.run, slow_store, [make_cdr("c1")])
        gevent.sleep(0)
        assert started.wait(5)
        caller.kill()  # its outcome comes back to nobody
        release.set()
        assert stordb.store_cdrs([make_cdr("c2")]) == 1  # queued behind it, in order
        assert sorted(cdr["CGRID"] for cdr in stordb.get_cdrs({})) == ["c1", "c2"]
    finally:
        stordb.close()


def test_callers_in_several_native_threads_each_get_their_own_outcome(tmp_path):
    stordb = ThreadedStorDB(open_stordb(f"sqlite:///{tmp_path}/s.sqlite"))
    outcomes = {}

    def store(name):
        outcomes[name] = [stordb.store_cdrs([make_cdr(f"{name}-{n}")]) for n in range(20)]

    try:
        threads = [threading.Thread(target=store, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert outcomes == {f"t{n}": [1] * 20 for n in range(4)}
        assert stordb.count_cdrs({}) == 80
        with pytest.raises(ValueError):  # an error raised there is raised here
            stordb.store_cdrs([{"CGRID": ""}])
    finally:
        stordb.close()


def test_a_forked_child_gets_a_thread_of_its_own(tmp_path):
    stordb = ThreadedStorDB(open_stordb(f"sqlite:///{tmp_path}/s.sqlite"))
    try:
        assert stordb.store_cdrs([make_cdr("parent")]) == 1
        pid = os.fork()
        if pid == 0:  # the child: the parent's thread did not come along
            code = 0 if stordb.count_cdrs({}) == 1 else 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert stordb.count_cdrs({}) == 1  # the parent's thread still serves it
    finally:
        stordb.close()
