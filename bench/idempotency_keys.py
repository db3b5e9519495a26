"""What the idempotency records of settled calls keep in the DataDB.

    python bench/idempotency_keys.py [--calls 10000] [--redis redis://127.0.0.1:6379/13]

Every money write of a call (its debits, refunds, rounding) stores its answer under an
idempotency key. ``--calls`` prepaid calls go through the session service one after
the other, each like a 55 s call debited every 10 s: initiated (debit 1), five updates
(debits 2-6), terminated (a refund of the unused 5 s); each stores its CDR. Then the
DataDB's records are counted: on the embedded DataDB the number and the bytes they
hold (keys, answers and the table, summed with sys.getsizeof), on Redis (``--redis``,
under a prefix of its own, removed afterwards) the keys and their MEMORY USAGE.

The script only reads the store's ``_idempotency`` table, so it runs unchanged on an
older checkout (``PYTHONPATH=<checkout> python bench/idempotency_keys.py``): before
and after a change are compared on the same calls.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import redis

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: see above

from fs_cgr.app import Node  # noqa: E402
from fs_cgr.config import load_config  # noqa: E402
from tests.cdrs.helpers import TENANT, call, write_plan  # noqa: E402

PREFIX = "fs_cgr_bench_idem"


def _node(tmp: Path, redis_url: str | None) -> Node:
    overrides = {"general.data_dir": str(tmp / "data"), "stordb.url": f"sqlite:///{tmp}/s.db"}
    if redis_url:
        overrides["datadb.url"] = f"{redis_url}?prefix={PREFIX}"
    node = Node(load_config(overrides=overrides, env={}))
    node.datadb.flush()
    node.tariffplans.load_folder(write_plan(tmp / "plan"))
    node.accounts.set_account(TENANT, "1001")
    node.accounts.add_balance(TENANT, "1001", "*monetary", "1000000", {"ID": "main"})
    return node


def _calls(node: Node, calls: int) -> None:
    for n in range(calls):
        fields = {"RequestType": "*prepaid", "CGRDebitInterval": "0s", "Usage": "10s"}
        event = call(f"idem{n}", destination="1003", **fields)  # per 100 ms: each debit 10 s
        node.sessions.initiate(event)
        for _ in range(5):
            node.sessions.update(dict(event, Usage="10s"))
        node.sessions.terminate(dict(event, Usage="55s"))


def _memory_records(db) -> tuple[int, int]:
    """(records, bytes): the table plus each key tuple, its strings and the stored answer."""
    table = db._idempotency
    size = sys.getsizeof(table)
    for key, value in table.items():
        size += sys.getsizeof(key) + sum(sys.getsizeof(part) for part in key)
        size += sys.getsizeof(value) + sum(sys.getsizeof(part) for part in value)
    return len(table), size


def _redis_records(url: str) -> tuple[int, int]:
    """(keys, bytes) of the records; then every key under the prefix is removed."""
    raw = redis.Redis.from_url(url)
    keys = list(raw.scan_iter(match=f"{PREFIX}:*:idem:*", count=1000))
    pipe = raw.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key)
    size = sum(pipe.execute()) if keys else 0
    every = list(raw.scan_iter(match=f"{PREFIX}:*", count=1000))
    for start in range(0, len(every), 1000):
        raw.unlink(*every[start : start + 1000])
    raw.close()
    return len(keys), size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--redis", help="a Redis URL: count there instead of in memory")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        node = _node(Path(tmp), args.redis)
        started = time.process_time()
        _calls(node, args.calls)
        cpu = time.process_time() - started
        where = "redis" if args.redis else "embedded"
        if args.redis:
            records, size = _redis_records(args.redis)
        else:
            records, size = _memory_records(node.datadb)
        node.stop()
    print(
        f"{where}: {args.calls} settled calls ({args.calls * 7} keyed money writes), "
        f"{records} idempotency records held, {size / 1e6:.2f} MB, "
        f"CPU {cpu / args.calls * 1e3:.2f} ms/call"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
