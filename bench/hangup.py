"""CPU of the hangup path alone, one call at a time (no batching, as at ~100 calls/s).

    python bench/hangup.py [--calls 2000] [--runs 3] [--stordb sqlite:///...]

A gevent-patched process (as the server and the agent): a Node with the memory DataDB
and a SQLite file StorDB (in its own thread, fs_cgr.storage.sqlite_thread). Each call is
initiated (``*prepaid``, debit interval 0) and then measured:

terminate_cpu_ms   SessionService.terminate of the answered call: refund beyond usage,
                   session cost, journal, CDR through the group commit, keys dropped.
unanswered_cdr_cpu_ms  SessionService.process_cdr of an unanswered ``*prepaid`` call (the
                   socket set-ups hung up before answer: bench/calls.py --only setups).

CPU is the process's (both threads: the loop's and SQLite's), per call; the median of
``--runs``. On a shared machine compare against another checkout in alternating runs:

    cd ../main && .venv/bin/python ../wt/bench/hangup.py   # the other checkout's fs_cgr
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.append(str(Path(__file__).resolve().parent.parent))  # last: an installed fs_cgr wins

USAGE = 17_500_000_000  # ns: the final usage; 30 s were asked (the rest is refunded)


def one_run(calls: int, stordb: str) -> dict:
    from fs_cgr.app import Node
    from fs_cgr.config import load_config
    from fs_cgr.times import now
    from tests.agents.lab import DE, TENANT, write_plan

    tmp = tempfile.mkdtemp(prefix="fs-cgr-hangup-")
    overrides = {
        "general.data_dir": tmp,
        "stordb.url": stordb or f"sqlite:///{tmp}/stordb.sqlite",
        "sessions.debit_interval": 0,
    }
    node = Node(load_config(overrides=overrides, env={}))
    node.stordb.flush()
    node.tariffplans.load_folder(write_plan(Path(tmp)))
    node.rating.refresh()
    node.start()
    node.accounts.add_balance(TENANT, "1001", "*monetary", "1000000")

    def event(index: int, answered: bool) -> dict:
        ev = {
            "Tenant": TENANT,
            "Category": "call",
            "OriginID": f"hangup-{index}-{answered}",
            "OriginHost": "bench",
            "RequestType": "*prepaid",
            "Account": "1001",
            "Subject": "1001",
            "Destination": DE,
            "SetupTime": now(),
            "Usage": 0,
        }
        if answered:
            ev.update(AnswerTime=now(), Usage=30_000_000_000)
        return ev

    terminate = unanswered = 0.0
    try:
        for index in range(calls):
            answered = event(index, True)
            node.sessions.initiate(answered)
            started = time.process_time()
            node.sessions.terminate(dict(answered, Usage=USAGE))
            terminate += time.process_time() - started
            started = time.process_time()
            node.sessions.process_cdr(event(index, False))
            unanswered += time.process_time() - started
        stored = node.stordb.count_cdrs({})
        if stored != 2 * calls:
            raise RuntimeError(f"{stored} CDRs stored, {2 * calls} expected")
    finally:
        node.stop()
    return {
        "terminate_cpu_ms": terminate * 1000 / calls,
        "unanswered_cdr_cpu_ms": unanswered * 1000 / calls,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stordb", default="", help="a StorDB URL (default: a SQLite file)")
    args = parser.parse_args(argv)
    runs = []
    for _ in range(args.runs):
        runs.append(one_run(args.calls, args.stordb))
        print(" ".join(f"{key} {value:.3f}" for key, value in runs[-1].items()), flush=True)
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print("median " + " ".join(f"{key} {value:.3f}" for key, value in median.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
