"""Rating benchmarks: GetCost and longest-prefix lookups in process, memory, GetCost over HTTP.

    python bench/rating.py [--runs 3] [--seconds 2]

Each figure is the median of ``--runs`` runs; rates are given per wall-clock second
and per CPU second (of this process, or of the HTTP server process). Plans are
generated (deterministic seed): 2,000 prefixes for GetCost, 100,000 for lookups and memory.
"""

import argparse
import datetime as dt
import gc
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fs_cgr.rating import CallDescriptor, RatingEngine  # noqa: E402
from fs_cgr.rating.callcost import to_ns  # noqa: E402

START = dt.datetime(2024, 6, 3, 7, 30, tzinfo=dt.timezone.utc)  # Monday, around peak start
TENANT, CATEGORY = "cgrates.org", "call"


def generate_live(prefix_count: int, seed: int = 7) -> dict:
    """A plan of ``prefix_count`` destinations (one prefix each), every fourth rated with
    peak/off-peak timings, the rest flat; rates mix connect fees, per-second, per-minute
    and two-tier slots."""
    rnd = random.Random(seed)
    prefixes = set()
    while len(prefixes) < prefix_count:
        digits = rnd.choices("0123456789", k=rnd.randint(2, 7))
        prefixes.add(str(rnd.randint(1, 9)) + "".join(digits))
    destinations, rates, dest_rates_any, dest_rates_peak, dest_rates_off = {}, {}, [], [], []
    for index, prefix in enumerate(sorted(prefixes)):
        dest_id, rate_id = f"DST_{index}", f"RT_{index}"
        destinations[dest_id] = {"ID": dest_id, "Prefixes": [prefix]}
        rates[rate_id] = {"ID": rate_id, "RateSlots": _slots(rnd, index)}
        row = {"DestinationId": dest_id, "RateId": rate_id, "RoundingMethod": "*up"}
        row["RoundingDecimals"] = 4
        if index % 4 == 0:
            rates[rate_id + "_OFF"] = {"ID": rate_id + "_OFF", "RateSlots": _slots(rnd, index)}
            dest_rates_peak.append(row)
            dest_rates_off.append({**row, "RateId": rate_id + "_OFF"})
        else:
            dest_rates_any.append(row)
    bindings = [
        {"DestinationRatesId": "DR_ANY", "TimingId": "*any", "Weight": 10},
        {"DestinationRatesId": "DR_PEAK", "TimingId": "PEAK", "Weight": 10},
        {"DestinationRatesId": "DR_OFF", "TimingId": "OFFPEAK", "Weight": 10},
    ]
    return {
        "destinations": destinations,
        "timings": {
            "PEAK": {"ID": "PEAK", "WeekDays": "1;2;3;4;5", "Time": "08:00:00"},
            "OFFPEAK": {"ID": "OFFPEAK", "Time": "00:00:00"},
        },
        "rates": rates,
        "destination_rates": {
            "DR_ANY": {"ID": "DR_ANY", "DestinationRates": dest_rates_any},
            "DR_PEAK": {"ID": "DR_PEAK", "DestinationRates": dest_rates_peak},
            "DR_OFF": {"ID": "DR_OFF", "DestinationRates": dest_rates_off},
        },
        "rating_plans": {"RP_BENCH": {"ID": "RP_BENCH", "RatingPlanBindings": bindings}},
        "rating_profiles": {
            f"{TENANT}:{CATEGORY}:*any": {
                "Tenant": TENANT,
                "Category": CATEGORY,
                "Subject": "*any",
                "RatingPlanActivations": [
                    {"ActivationTime": "2014-01-01T00:00:00Z", "RatingPlanId": "RP_BENCH"}
                ],
            }
        },
    }


def _slots(rnd: random.Random, index: int) -> list:
    rate = f"{rnd.randint(1, 500) / 1000:.3f}"
    kind = index % 3
    if kind == 0:  # per second with a connect fee
        return [_slot(rnd.choice(["0", "0.05", "0.1"]), rate, "60s", "1s", "0s")]
    if kind == 1:  # per started minute
        return [_slot("0", rate, "60s", "60s", "0s")]
    return [_slot("0.2", rate, "60s", "60s", "0s"), _slot("0", rate, "60s", "1s", "60s")]


def _slot(fee, rate, unit, increment, start) -> dict:
    return {
        "ConnectFee": fee,
        "Rate": rate,
        "RateUnit": unit,
        "RateIncrement": increment,
        "GroupIntervalStart": start,
    }


def numbers_for(live: dict, count: int, seed: int = 11) -> list[str]:
    rnd = random.Random(seed)
    prefixes = [doc["Prefixes"][0] for doc in live["destinations"].values()]
    return [
        rnd.choice(prefixes) + "".join(rnd.choices("0123456789", k=rnd.randint(2, 6)))
        for _ in range(count)
    ]


def timed_rate(work, items: list, seconds: float) -> tuple[float, float]:
    """Calls of ``work(item)`` per wall-clock second and per CPU second of this process,
    cycling through ``items`` for ``seconds`` (the CPU figure shows the code's own cost
    when other processes load the machine)."""
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for item in items:
            work(item)
        done += len(items)
    return done / (time.perf_counter() - started), done / (time.process_time() - cpu)


def rates(name: str, rate: tuple[float, float]) -> dict:
    """A timed_rate result as two figures."""
    wall, cpu = rate
    return {f"{name} per second": wall, f"{name} per CPU second": cpu}


# -- sections -------------------------------------------------------------------------------


def bench_get_cost(seconds: float) -> dict:
    live = generate_live(2_000)
    engine = RatingEngine.compile(live)
    rnd = random.Random(3)
    calls = [
        CallDescriptor(
            TENANT,
            CATEGORY,
            "1001",
            number,
            START + dt.timedelta(minutes=rnd.randint(0, 60)),
            usage=rnd.randint(1, 600) * 1_000_000_000,
        )
        for number in numbers_for(live, 5_000)
    ]
    return rates("GetCost (2,000 prefixes)", timed_rate(engine.get_cost, calls, seconds))


def bench_prefixes(seconds: float) -> dict:
    live = generate_live(100_000)
    gc.collect()
    tracemalloc.start()
    engine = RatingEngine.compile(live)
    gc.collect()
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    numbers = numbers_for(live, 20_000)
    plan = engine.data.plans["RP_BENCH"]
    at = to_ns(START)
    lookups = timed_rate(engine.longest_prefix, numbers, seconds)
    matches = timed_rate(lambda number: plan.match(number, at), numbers, seconds)
    return {
        **rates("longest-prefix lookups (100,000 prefixes)", lookups),
        **rates("plan matches (100,000 prefixes)", matches),
        "memory held by the compiled 100,000-prefix plan, MiB": retained / 2**20,
    }


def bench_http(seconds: float, clients: int = 8) -> dict:
    """APIerSv1.GetCost over HTTP on loopback: latency of sequential requests, then of
    ``clients`` concurrent keep-alive clients (greenlets of this process). The server is a
    process of its own, as ``fs-cgr serve`` runs (gevent, monkey-patched), so clients and
    server do not share a GIL; its CPU time gives requests per server CPU second."""
    import http.client
    import json
    import subprocess
    from urllib.parse import urlsplit

    import gevent
    import gevent.socket

    class GreenConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = gevent.socket.create_connection((self.host, self.port), self.timeout)
            self.sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)

    live = generate_live(2_000)
    bodies = [
        json.dumps(
            {
                "id": index,
                "method": "APIerSv1.GetCost",
                "params": [
                    {
                        "Tenant": TENANT,
                        "Category": CATEGORY,
                        "Subject": "1001",
                        "Destination": number,
                        "AnswerTime": START.isoformat(),
                        "Usage": f"{60 + index % 540}s",
                    }
                ],
            }
        ).encode()
        for index, number in enumerate(numbers_for(live, 1_000))
    ]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-http"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def server_cpu() -> float:
        """Seconds of CPU the server used since the last call."""
        server.stdin.write("cpu\n")
        server.stdin.flush()
        return float(server.stdout.readline())

    def client_loop(latencies: list, until: float) -> None:
        connection = GreenConnection(address.hostname, address.port, timeout=10)
        index = 0
        while time.perf_counter() < until and len(latencies) < 200_000:
            started = time.perf_counter()
            connection.request("POST", "/jsonrpc", bodies[index % len(bodies)])
            reply = connection.getresponse().read()
            latencies.append(time.perf_counter() - started)
            if b'"error":null' not in reply:
                raise RuntimeError(f"GetCost failed: {reply[:200]!r}")
            index += 1
        connection.close()

    try:
        address = urlsplit(server.stdout.readline().strip())
        server_cpu()
        sequential: list[float] = []
        client_loop(sequential, time.perf_counter() + seconds)
        sequential_cpu = server_cpu()
        concurrent: list[list[float]] = [[] for _ in range(clients)]
        until = time.perf_counter() + seconds
        greenlets = [gevent.spawn(client_loop, latencies, until) for latencies in concurrent]
        gevent.joinall(greenlets, raise_error=True)
        concurrent_cpu = server_cpu()
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    together = sorted(value for latencies in concurrent for value in latencies)
    sequential.sort()
    return {
        "HTTP GetCost sequential p50, ms": _percentile(sequential, 50) * 1000,
        "HTTP GetCost sequential p99, ms": _percentile(sequential, 99) * 1000,
        "HTTP GetCost sequential per server CPU second": len(sequential) / sequential_cpu,
        f"HTTP GetCost {clients} concurrent clients p50, ms": _percentile(together, 50) * 1000,
        f"HTTP GetCost {clients} concurrent clients p99, ms": _percentile(together, 99) * 1000,
        f"HTTP GetCost per second, {clients} concurrent clients": len(together) / seconds,
        f"HTTP GetCost per server CPU second, {clients} concurrent clients": (
            len(together) / concurrent_cpu
        ),
    }


def serve_http() -> None:
    """The server of bench_http: prints its URL, answers each "cpu" line on stdin with the
    CPU seconds used since the last one, stops at the end of stdin."""
    from gevent import monkey

    monkey.patch_all()
    import tempfile

    import gevent.select

    from fs_cgr.api.server import ApiServer
    from fs_cgr.app import Node
    from fs_cgr.config import load_config

    live = generate_live(2_000)
    with tempfile.TemporaryDirectory() as data_dir:
        node = Node(load_config(overrides={"general.data_dir": data_dir}, env={}))
        node.tariffplans.apply_live(
            (kind, key, doc) for kind, docs in live.items() for key, doc in docs.items()
        )
        server = ApiServer(node, "127.0.0.1:0")
        server.start()
        print(server.url, flush=True)
        cpu = time.process_time()
        while True:
            gevent.select.select([sys.stdin], [], [])
            if not sys.stdin.readline():
                break
            print(time.process_time() - cpu, flush=True)
            cpu = time.process_time()
        server.stop()
        node.stop()


def _percentile(sorted_values: list[float], percent: float) -> float:
    index = min(len(sorted_values) - 1, round(percent / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


SECTIONS = [bench_get_cost, bench_prefixes, bench_http]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each rate run")
    parser.add_argument("--serve-http", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_http:
        serve_http()
        return
    for section in SECTIONS:
        runs = [section(args.seconds) for _ in range(args.runs)]
        for name in runs[0]:
            values = [run[name] for run in runs]
            each = ", ".join(f"{value:,.1f}" for value in values)
            print(f"{name}: {statistics.median(values):,.1f}  (runs: {each})")


if __name__ == "__main__":
    main()
