"""A gevent process for test_redis_datadb: callers of one compare-and-set batch, one stopped.

It patches the standard library before anything opens a socket (so nothing
Redis-related is imported at the top), and writes its findings to a JSON file.
"""


def run(port: int, report_path: str) -> None:
    """One caller sends to a server that never answers, a second waits and is stopped, a
    third waits: the third must still get its turn, and its timeout."""
    from gevent import monkey

    monkey.patch_all()

    import json
    import time

    import gevent

    from fs_cgr.errors import StorageUnavailable
    from fs_cgr.storage import open_datadb

    db = open_datadb(f"redis://127.0.0.1:{port}/0?timeout=0.5")
    outcomes = {}

    def cas(name: str):
        try:
            db.cas_account("t", name, 1, {})
            outcomes[name] = "answered"
        except StorageUnavailable:
            outcomes[name] = "unavailable"

    started = time.monotonic()
    sender = gevent.spawn(cas, "a")
    gevent.sleep(0.1)
    stopped, waiter = gevent.spawn(cas, "b"), gevent.spawn(cas, "c")
    gevent.sleep(0.1)
    stopped.kill()
    gevent.joinall([sender, waiter], timeout=10)
    with open(report_path, "w") as out:
        json.dump({"outcomes": outcomes, "elapsed": time.monotonic() - started}, out)
