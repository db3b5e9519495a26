"""StatS events per second (each one a finished call entering its queues), and latency.

    python bench/stats.py [--backend memory|redis] [--redis redis://127.0.0.1:6379/15]
                          [--seconds 3] [--greenlets 16] [--queues 1]

One gevent process, ``--greenlets`` greenlets feeding call events through
``node.stats.process_event``. Each event enters one of ``--queues`` stat queues
(QueueLength 100, metrics *asr *acd *tcd *acc *tcc *ddc), and each queue update raises a
StatUpdate event to ThresholdS, where one threshold watches the ASR. With one queue every
greenlet updates the same queue: compare-and-set conflicts and their retries are part of
the figure. Keys live under their own Redis prefix and are removed afterwards.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import redis  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fs_cgr.app import Node  # noqa: E402
from fs_cgr.config import load_config  # noqa: E402

TENANT = "cgrates.org"
PREFIX = "fscgr_bench_stats"
METRICS = ["*asr", "*acd", "*tcd", "*acc", "*tcc", "*ddc"]


def make_node(args, data_dir: str) -> Node:
    overrides = {"general.data_dir": data_dir, "stordb.url": "sqlite://:memory:"}
    if args.backend == "redis":
        overrides["datadb.url"] = f"{args.redis}?prefix={PREFIX}"
    node = Node(load_config(overrides=overrides, env={})).start()
    for index in range(args.queues):
        node.stats.set_profile(
            {
                "Tenant": TENANT,
                "ID": f"SQ_{index}",
                "FilterIDs": [f"*string:~*req.Carrier:C{index}"],
                "QueueLength": 100,
                "TTL": -1,
                "Metrics": [{"MetricID": m} for m in METRICS],
                "Weight": 10,
            }
        )
    node.thresholds.set_profile(
        {
            "Tenant": TENANT,
            "ID": "TH_LOW_ASR",
            "FilterIDs": ["*string:~*req.EventType:StatUpdate", "*lt:~*req.*asr:30"],
            "MaxHits": -1,
            "MinHits": 1,
            "MinSleep": "1m",
        }
    )
    return node


def feed(node, args, worker: int, deadline: float, latencies: list) -> None:
    count = 0
    while time.perf_counter() < deadline:
        count += 1
        event = {
            "Carrier": f"C{count % args.queues}",
            "Destination": f"49{count % 50}",
            "Usage": "60s" if count % 3 else "0s",
            "Cost": "0.12" if count % 3 else "0",
        }
        if count % 3:
            event["AnswerTime"] = "2026-01-01T10:00:00Z"
        started = time.perf_counter()
        node.stats.process_event({"Tenant": TENANT, "ID": f"{worker}-{count}", "Event": event})
        latencies.append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("memory", "redis"), default="memory")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--greenlets", type=int, default=16)
    parser.add_argument("--queues", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        node = make_node(args, data_dir)
        try:
            latencies: list[float] = []
            deadline = time.perf_counter() + args.seconds
            cpu = time.process_time()
            gevent.joinall(
                [
                    gevent.spawn(feed, node, args, worker, deadline, latencies)
                    for worker in range(args.greenlets)
                ]
            )
            cpu = time.process_time() - cpu
            metrics = node.stats.string_metrics(TENANT, "SQ_0")
        finally:
            node.stop()
            if args.backend == "redis":
                client = redis.Redis.from_url(args.redis)
                keys = list(client.scan_iter(match=f"{PREFIX}:*"))
                if keys:
                    client.delete(*keys)
    latencies.sort()
    print(
        f"backend={args.backend} greenlets={args.greenlets} queues={args.queues}:"
        f" {len(latencies) / args.seconds:.0f} events/s,"
        f" p50 {statistics.median(latencies) * 1000:.2f} ms,"
        f" p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms,"
        f" CPU {cpu / len(latencies) * 1e6:.0f} us/event; SQ_0 {metrics}"
    )


if __name__ == "__main__":
    main()
