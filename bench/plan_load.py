"""A big tariff plan loading through the API while Ping keeps being asked.

    python bench/plan_load.py [--rows 200000] [--datadb internal://]

Writes a folder of ``--rows`` destinations (one prefix each), one rate per 10 of them,
one DestinationRates row per destination, one rating plan and profile (about 2.1 x rows
CSV rows), starts a node and its API on loopback, and sends LoadTariffPlanFromFolder
while another thread pings every 20 ms. Prints the load time, Ping latency during the
load (median, 99th percentile, max) and the process's peak RSS.
"""

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fs_cgr.api.client import RpcClient  # noqa: E402
from fs_cgr.api.server import ServerThread  # noqa: E402
from fs_cgr.app import Node  # noqa: E402
from fs_cgr.config import load_config  # noqa: E402


def write_big_plan(folder: Path, rows: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "Destinations.csv", "w") as out:
        out.writelines(f"DST_{n},49{n:08d}\n" for n in range(rows))
    with open(folder / "Rates.csv", "w") as out:
        out.writelines(f"RT_{n},0,0.{n % 90 + 10},60s,1s,0s\n" for n in range(rows // 10 + 1))
    with open(folder / "DestinationRates.csv", "w") as out:
        out.writelines(f"DR_BIG,DST_{n},RT_{n // 10},*up,4,0,\n" for n in range(rows))
    (folder / "RatingPlans.csv").write_text("RP_BIG,DR_BIG,*any,10\n")
    (folder / "RatingProfiles.csv").write_text(
        "cgrates.org,call,*any,2014-01-01T00:00:00Z,RP_BIG,\n"
    )
    return folder


def ping_during(url: str, busy: threading.Event, latencies: list) -> None:
    client = RpcClient(url, timeout=60)
    while busy.is_set():
        started = time.monotonic()
        client.call("APIerSv1.Ping")
        latencies.append(time.monotonic() - started)
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--datadb", default="internal://")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plan = write_big_plan(Path(tmp) / "plan", args.rows)
        config = load_config(
            overrides={
                "general.data_dir": tmp,
                "datadb.url": args.datadb,
                "listen.http": "127.0.0.1:0",
                "tariffplans.base_dirs": [tmp],
            },
            env={},
        )
        node = Node(config).start()
        server = ServerThread(node).start()
        latencies: list[float] = []
        busy = threading.Event()
        busy.set()
        pinger = threading.Thread(target=ping_during, args=(server.url, busy, latencies))
        pinger.start()
        started = time.monotonic()
        RpcClient(server.url, timeout=600).call(
            "APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(plan)}
        )
        took = time.monotonic() - started
        busy.clear()
        pinger.join()
        server.stop()
        node.stop()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows {args.rows} (+{args.rows // 10 + 1} rates): loaded in {took:.1f} s")
    print(
        f"Ping during the load: {len(latencies)} answers, median"
        f" {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms,"
        f" max {latencies[-1] * 1000:.1f} ms"
    )
    print(f"peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
