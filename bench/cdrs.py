"""CDRs processed and stored per second through CDRService, into MariaDB.

    python bench/cdrs.py [--stordb mysql://root@127.0.0.1:3306/test] [--count 20000]
                         [--batch 500] [--call 5000] [--request-type *rated] [--runs 3]

Each CDR goes the whole way: neutral event, chargers (one *default run), rating
(with EventCost), duplicate check, batched INSERT (``--batch`` rows, overlapping the
rating of the next batch; ``--call`` events per process_events call). ``--request-type *postpaid``
also debits an account per CDR (memory DataDB; ``--datadb redis://...`` for
Redis). Tables are prefixed ``fscgrbench_cdrs_`` and emptied before each run.
Prints each run and the median, wall clock and per CPU second of this process (the
latter shows what fs_cgr itself costs when the machine is shared), and the CPU a local
MariaDB server spent per CDR (bench/mariadb_cpu.py: meaningful while only this bench
uses it). ``--processes N`` runs N such processes at once (tables of their own) and
adds up their CDRs per second.

    python bench/cdrs.py --watched-folder [--lines 100000] [--runs 1]

The Mediator instead (fs_cgr.cdrc): one mod_cdr_csv file of ``--lines`` calls is
rotated into a watched folder and imported (parse, chargers, rating, duplicate
check, INSERT, checkpoint per batch, move to out_dir). Prints the import rate and
the process's peak RSS before and after: flat memory means the peak does not grow
with the file's size.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import mariadb_cpu  # noqa: E402
from fs_cgr.app import Node  # noqa: E402
from fs_cgr.config import load_config  # noqa: E402

T0 = datetime(2024, 6, 3, 7, 30, tzinfo=timezone.utc)
PLAN = {
    "Destinations.csv": "#Id,Prefix\nDST_DE,49\nDST_DE_MOB,4917\n",
    "Rates.csv": "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n"
    "RT_FIX,0.02,0.03,60s,60s,0s\nRT_FIX,0,0.01,60s,1s,60s\nRT_MOB,0,0.12,60s,1s,0s\n",
    "DestinationRates.csv": "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,"
    "MaxCost,MaxCostStrategy\nDR_DE,DST_DE,RT_FIX,*up,4,0,\nDR_MOB,DST_DE_MOB,RT_MOB,*up,4,0,\n",
    "RatingPlans.csv": "#Id,DestinationRatesId,TimingTag,Weight\n"
    "RP,DR_DE,*any,10\nRP,DR_MOB,*any,10\n",
    "RatingProfiles.csv": "#Tenant,Category,Subject,ActivationTime,RatingPlanId,"
    "RatesFallbackSubject\ncgrates.org,call,*any,2014-01-01T00:00:00Z,RP,\n",
    "Chargers.csv": "#Tenant,ID,FilterIDs,ActivationInterval,RunID,AttributeIDs,Weight\n"
    "cgrates.org,DEFAULT,,,*default,*none,0\n",
}


def make_event(run: int, number: int, request_type: str) -> dict:
    answer = T0 + timedelta(seconds=number)
    return {
        "OriginID": f"bench-{run}-{number}",
        "OriginHost": "bench",
        "RequestType": request_type,
        "Account": f"10{number % 100:02d}",
        "Destination": f"49{17 if number % 3 == 0 else 30}{number:07d}",
        "SetupTime": answer,
        "AnswerTime": answer,
        "Usage": f"{30 + number % 600}s",
    }


def build_node(args, data_dir: Path) -> Node:
    config = load_config(
        overrides={
            "general.data_dir": str(data_dir),
            "datadb.url": args.datadb,
            "stordb.url": args.stordb,
            "cdrs.store_batch": args.batch,
        },
        env={},
    )
    node = Node(config)
    plan = data_dir / "plan"
    plan.mkdir()
    for name, text in PLAN.items():
        (plan / name).write_text(text)
    node.datadb.flush()
    node.tariffplans.load_folder(plan)
    for number in range(100):
        node.accounts.add_balance("cgrates.org", f"10{number:02d}", "*monetary", "1000000")
    return node


def one_run(node: Node, run: int, args) -> tuple[float, float, float]:
    """(CDRs per wall-clock second, CDRs per CPU second of this process, server CPU µs
    per CDR or NaN)."""
    node.stordb.flush()
    events = [make_event(run, n, args.request_type) for n in range(args.count)]
    if args.start:
        time.sleep(max(0.0, args.start + run * args.interval - time.time()))
    started, cpu = time.perf_counter(), time.process_time()
    server_cpu = mariadb_cpu.cpu_seconds(args.server)
    stored = 0
    for start in range(0, len(events), args.call):
        outcomes = node.cdrs.process_events(events[start : start + args.call])
        stored += sum(outcome.stored for outcome in outcomes)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    server = per_cdr(server_cpu, mariadb_cpu.cpu_seconds(args.server), args.count)
    if stored != args.count or node.stordb.count_cdrs({}) != args.count:
        raise SystemExit(f"run {run}: stored {stored} of {args.count}")
    return args.count / elapsed, args.count / cpu, server


def per_cdr(before: float | None, after: float | None, count: int) -> float:
    return float("nan") if before is None or after is None else (after - before) / count * 1e6


def parallel_runs(args) -> list[tuple[float, float, float]]:
    """``--processes`` bench processes at once, each on tables of its own; per run: their
    CDRs per second added up, the median of their CDRs per CPU second, and the server's
    CPU per CDR over all of them."""
    start = time.time() + 15.0  # every process has its tariff plan loaded by then
    interval = args.count / 500 + 5.0  # seconds from one run's start to the next
    command = [sys.executable, __file__, *sys.argv[1:], "--processes", "1"]
    command += ["--start", str(start), "--interval", str(interval)]
    server_cpu = [mariadb_cpu.cpu_seconds(args.server)]
    joiner = "&" if "?" in args.stordb else "?"
    children = [
        subprocess.Popen(
            [*command, "--stordb", f"{args.stordb}{joiner}table_prefix=fscgrbench_cdrs_p{n}_"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(args.processes)
    ]
    outputs = [child.communicate()[0] for child in children]
    server_cpu.append(mariadb_cpu.cpu_seconds(args.server))
    if any(child.returncode for child in children):
        raise SystemExit("a bench process failed")
    runs = [[line.split("\t") for line in out.splitlines() if "\t" in line] for out in outputs]
    server = per_cdr(*server_cpu, args.count * args.runs * args.processes)
    return [
        (
            sum(float(r[0]) for r in per_run),
            statistics.median(float(r[1]) for r in per_run),
            server,
        )
        for per_run in zip(*runs, strict=True)
    ]


def write_cdr_file(path: Path, run: int, lines: int, request_type: str) -> None:
    """A mod_cdr_csv file (the cdrc test template's columns) of ``lines`` calls."""
    with open(path, "w") as stream:
        for number in range(lines):
            event = make_event(run, number, request_type)
            answer = event["AnswerTime"].strftime("%Y-%m-%d %H:%M:%S")
            seconds = event["Usage"][:-1]
            stream.write(
                f'"{event["OriginID"]}","{request_type}","{event["Account"]}",'
                f'"{event["Destination"]}","{answer}","{answer}","{answer}","{seconds}"\n'
            )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_run(node: Node, run: int, args, work: Path) -> tuple[float, float, float]:
    """Import one rotated file through the Mediator: (CDRs per second, per CPU second,
    server CPU µs per CDR or NaN)."""
    from fs_cgr.cdrc.service import FolderMediator
    from fs_cgr.config import CdrcConfig

    node.stordb.flush()
    in_dir, out_dir = work / f"in{run}", work / f"out{run}"
    in_dir.mkdir()
    aside = work / f"Master.csv.{run}"
    write_cdr_file(aside, run, args.lines, args.request_type)
    template = "uuid,cgr_reqtype,accountcode,destination_number,start_stamp,answer_stamp,"
    spec = CdrcConfig(str(in_dir), str(out_dir), template=template + "end_stamp,billsec")
    spec.settle = 0
    folder = FolderMediator(node, spec, threading.Event())
    os.replace(aside, in_dir / aside.name)
    started, cpu = time.perf_counter(), time.process_time()
    server_cpu = mariadb_cpu.cpu_seconds(args.server)
    if folder.run_once() != 1:
        raise SystemExit(f"run {run}: the file was not imported")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    server = per_cdr(server_cpu, mariadb_cpu.cpu_seconds(args.server), args.lines)
    if node.stordb.count_cdrs({}) != args.lines:
        raise SystemExit(f"run {run}: stored {node.stordb.count_cdrs({})} of {args.lines}")
    return args.lines / elapsed, args.lines / cpu, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stordb", default="mysql://root@127.0.0.1:3306/test")
    parser.add_argument("--datadb", default="internal://")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500, help="cdrs.store_batch")
    parser.add_argument("--call", type=int, default=5000, help="events per process_events")
    parser.add_argument("--request-type", default="*rated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--watched-folder", action="store_true", help="through the Mediator")
    parser.add_argument("--lines", type=int, default=100000, help="CDRs per watched file")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--start", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.server = mariadb_cpu.server_pid(args.stordb) if args.stordb.startswith("mysql") else None
    if args.processes > 1:
        report(args, parallel_runs(args), None)
        return
    if args.stordb.startswith("mysql") and "table_prefix" not in args.stordb:
        args.stordb += ("&" if "?" in args.stordb else "?") + "table_prefix=fscgrbench_cdrs_"
    with tempfile.TemporaryDirectory() as data_dir:
        node = build_node(args, Path(data_dir))
        try:
            results = []
            before = peak_rss_mb()
            for run in range(args.runs):
                if args.watched_folder:
                    result = folder_run(node, run, args, Path(data_dir))
                else:
                    result = one_run(node, run, args)
                results.append(result)
                rate, cpu_rate, server = result
                print(
                    f"run {run + 1}: {rate:,.0f} CDRs/s ({cpu_rate:,.0f} per CPU second;"
                    f" server {server:.1f} µs/CDR)"
                )
                if args.start:  # a --processes child: the parent reads these
                    print(f"{rate}\t{cpu_rate}\t{server}", flush=True)
            node.stordb.flush()
        finally:
            node.stop()
    report(args, results, (before, peak_rss_mb()))


def report(args, results: list, rss: tuple[float, float] | None) -> None:
    rates, cpu_rates, servers = zip(*results, strict=True)
    figures = (
        f"median {statistics.median(rates):,.0f} CDRs/s"
        f" ({statistics.median(cpu_rates):,.0f} per CPU second of fs_cgr;"
        f" MariaDB server {statistics.median(servers):.1f} µs CPU per CDR)"
    )
    if args.watched_folder:
        print(
            f"{args.request_type} CDRs imported from a watched file of {args.lines} lines,"
            f" batch {args.batch}: {figures}"
            + (f"; peak RSS {rss[0]:,.0f} MB before, {rss[1]:,.0f} MB after" if rss else "")
        )
        return
    print(
        f"{args.request_type} CDRs processed+stored, batch {args.batch}, {args.count} per run,"
        f" {args.processes} process(es): {figures}"
    )


if __name__ == "__main__":
    main()
