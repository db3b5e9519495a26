"""CDRs stored per second into the StorDB, by size of the batch handed to store_cdrs.

    python bench/cdrs_store.py [--url mysql://root@127.0.0.1:3306/test] [--count 20000]
                               [--batches 500,1] [--runs 3]

Each CDR carries an EventCost-like CostDetails (about 2 KB of JSON), as a rated
call does. Rows go to tables prefixed ``fscgrbench_``, emptied before and after.
Batch size 1 stores at most 2,000 CDRs (one statement and commit each).
Each figure is printed as the median and the best of ``--runs`` runs: on a
shared machine the best shows what the code can do, the median what it did; then the
CPU per CDR of this process and of a local MariaDB server (bench/mariadb_cpu.py).
"""

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import mariadb_cpu  # noqa: E402
from fs_cgr.storage import open_stordb  # noqa: E402

T0 = datetime(2024, 6, 3, 7, 30, tzinfo=timezone.utc)
SECOND = 1_000_000_000
SINGLE_CDR_CAP = 2_000


def make_cdr(number: int) -> dict:
    """A rated *prepaid voice CDR with a realistic cost breakdown."""
    usage = (30 + number % 600) * SECOND
    increments = [
        {
            "Usage": 60 * SECOND,
            "Cost": Decimal("0.01"),
            "AccountingID": f"acc{k}",
            "CompressFactor": 1,
        }
        for k in range(4)
    ]
    return {
        "CGRID": f"{number:040x}",
        "RunID": "*default",
        "OriginHost": "10.0.0.1",
        "Source": "FS_CHANNEL_HANGUP_COMPLETE",
        "OriginID": f"3c4b1f36-1d3c-4a4b-9cde-{number:012d}",
        "ToR": "*voice",
        "RequestType": "*prepaid",
        "Tenant": "cgrates.org",
        "Category": "call",
        "Account": str(1000 + number % 500),
        "Subject": str(1000 + number % 500),
        "Destination": f"49151{number % 1000000:07d}",
        "SetupTime": T0 + timedelta(seconds=number),
        "AnswerTime": T0 + timedelta(seconds=number + 2),
        "Usage": usage,
        "ExtraFields": {"Hangup": "NORMAL_CLEARING", "sip_user_agent": "Zoiper rv2.10"},
        "CostSource": "*sessions",
        "Cost": Decimal("0.0123") * (usage // SECOND),
        "CostDetails": {
            "CGRID": f"{number:040x}",
            "RunID": "*default",
            "StartTime": (T0 + timedelta(seconds=number)).isoformat(),
            "Usage": usage,
            "Cost": Decimal("0.0123") * (usage // SECOND),
            "Charges": [
                {"RatingID": f"r{k}", "Increments": increments, "CompressFactor": 1}
                for k in range(3)
            ],
            "Rating": {
                f"r{k}": {
                    "ConnectFee": Decimal("0.1"),
                    "RoundingMethod": "*up",
                    "RoundingDecimals": 4,
                    "MaxCost": 0,
                    "MaxCostStrategy": "",
                    "TimingID": "t1",
                    "RatesID": "rt1",
                    "RatingFiltersID": "rf1",
                }
                for k in range(3)
            },
            "Accounting": {},
            "RatingFilters": {"rf1": {"DestinationID": "DST_DE_MOBILE", "RatingPlanID": "RP_1"}},
            "Rates": {"rt1": [{"GroupIntervalStart": 0, "Value": Decimal("0.0123")}]},
            "Timings": {"t1": {"Years": [], "Months": [], "WeekDays": [], "StartTime": "00:00:00"}},
        },
        "ExtraInfo": "",
    }


def run(stordb, cdrs: list[dict], batch: int, server: int | None) -> tuple[float, float, float]:
    """(CDRs per second, CPU µs per CDR of this process, of the server or NaN)."""
    stordb.flush()
    started, cpu = time.perf_counter(), time.process_time()
    server_cpu = mariadb_cpu.cpu_seconds(server)
    stored = 0
    for start in range(0, len(cdrs), batch):
        stored += stordb.store_cdrs(cdrs[start : start + batch])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if stored != len(cdrs):
        raise SystemExit(f"stored {stored} of {len(cdrs)}")
    server_used = mariadb_cpu.cpu_seconds(server)
    server_used = float("nan") if server_cpu is None else server_used - server_cpu
    return len(cdrs) / elapsed, cpu / len(cdrs) * 1e6, server_used / len(cdrs) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mysql://root@127.0.0.1:3306/test")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--batches", default="500,1")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stordb = open_stordb(args.url, table_prefix="fscgrbench_")
    server = mariadb_cpu.server_pid(args.url) if args.url.startswith("mysql") else None
    cdrs = [make_cdr(number) for number in range(args.count)]
    try:
        for batch in (int(size) for size in args.batches.split(",")):
            sample = cdrs if batch > 1 else cdrs[:SINGLE_CDR_CAP]
            rates, cpus, server_cpus = zip(
                *(run(stordb, sample, batch, server) for _ in range(args.runs)), strict=True
            )
            print(
                f"batch {batch:>5}: {len(sample):>6} CDRs  median {statistics.median(rates):>7,.0f}"
                f"  best {max(rates):>7,.0f} CDRs/s  CPU {statistics.median(cpus):.1f} µs/CDR"
                f" + server {statistics.median(server_cpus):.1f} µs  ({args.url})"
            )
    finally:
        stordb.flush()
        stordb.close()


if __name__ == "__main__":
    main()
