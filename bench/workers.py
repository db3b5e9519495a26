"""GetCost over HTTP against ``fs-cgr serve --workers N``: 1 worker against N, side by side.

    python bench/workers.py [--workers 1,2] [--case getcost|authorize] [--runs 3]
                            [--flags seed]
                            [--seconds 3] [--client wrk|python] [--clients 8]
                            [--client-processes 2] [--pipeline 1]
                            [--redis redis://127.0.0.1:6379/15]

For each worker count, a real ``fs-cgr serve --workers N`` (Redis DataDB under its own
key prefix, SQLite StorDB in a temporary folder, examples/tariffplan loaded) is started;
then each server in turn (runs alternating, so the machine's load falls on all alike) is
hammered with the same request over keep-alive connections: ``--case getcost`` (1001
calling a German mobile for 2m30s) or ``--case authorize`` (SessionSv1.AuthorizeEvent
of a *prepaid call by 1001, GetMaxUsage, as the embedded handler sends it; with
``--flags seed`` as it sends it for the seeds' cgr_flags: GetRoutes, GetAttributes and
AuthorizeResources too, against a route, an attribute and a resource profile the call
matches), by one of two clients:

- ``--client wrk`` (the default when ``wrk`` is installed; Debian package ``wrk``): a C
  client, ``--client-processes`` threads of ``--clients`` connections each, sending
  ``--pipeline`` requests at a time on each; it costs ~0.013 ms of CPU per request
  (mostly the kernel's loopback TCP), so the server's CPU is what limits the rate;
- ``--client python``: ``--client-processes`` processes of ``--clients`` gevent
  connections each; it costs ~0.15 ms of CPU per request, as much as the server.

Printed per worker count, median of ``--runs``: requests per second, server CPU
(supervisor and workers, from /proc) per request, how that CPU spread over the server's
processes, and the client's CPU per request. Every reply is checked (a failed request
stops the run). With ``CGRATES_URL`` set (a running CGrateS whose DataDB holds the same
plan), the same client measures it too, in the same alternation, and prints it
alongside; ``CGRATES_PID`` adds its CPU per request.

On a 2-core machine the client shares the cores: with server CPU ``s`` and client CPU
``c`` per request, one worker is bound by one core (1/s) and two by both (2/(s + c)),
so two workers can show at most 2s/(s + c) times one.
"""

import argparse
import json
import multiprocessing
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {  # examples/tariffplan: 1001 calling a German mobile
    "getcost": {
        "method": "APIerSv1.GetCost",
        "params": [
            {
                "Tenant": "cgrates.org",
                "Category": "call",
                "Subject": "1001",
                "Destination": "4915112345678",
                "AnswerTime": "2024-06-03T10:00:00Z",
                "Usage": "2m30s",
            }
        ],
        "id": 1,
    },
    "authorize": {  # as the embedded handler and CGrateS' FreeSWITCH agent send it
        "method": "SessionSv1.AuthorizeEvent",
        "params": [
            {
                "GetMaxUsage": True,
                "Tenant": "cgrates.org",
                "ID": "bench-authorize",
                "Event": {
                    "Tenant": "cgrates.org",
                    "Category": "call",
                    "ToR": "*voice",
                    "OriginID": "bench-call-1",
                    "OriginHost": "fs-bench",
                    "Source": "FS_CHANNEL_PARK",
                    "RequestType": "*prepaid",
                    "Account": "1001",
                    "Subject": "1001",
                    "Destination": "4915112345678",
                    "SetupTime": "2024-06-03T10:00:00Z",
                    "AnswerTime": "2024-06-03T10:00:00Z",
                    "Usage": "3h",
                },
            }
        ],
        "id": 1,
    },
}


# the seeds' cgr_flags (*resources;*attributes;*routes ...): what the embedded handler asks
SEED_ARGS = {"GetRoutes": True, "GetAttributes": True, "AuthorizeResources": True,
             "ResourcesOptional": True}  # fmt: skip
# ... and what they find (as bench/calls.py's add_subsystem_profiles, plus a route profile)
SEED_PROFILES = (
    ("APIerSv1.SetResourceProfile",
     {"Tenant": "cgrates.org", "ID": "RES_BENCH", "FilterIDs": ["*string:~*req.Account:1001"],
      "UsageTTL": "1h", "Limit": 10**9, "Weight": 10}),
    ("APIerSv1.SetAttributeProfile",
     {"Tenant": "cgrates.org", "ID": "ATTR_BENCH", "Contexts": ["*sessions"],
      "FilterIDs": ["*string:~*req.Account:1001"],
      "Attributes": [{"Path": "*req.Destination", "Type": "*variable",
                      "Value": "~*req.Destination:s/^00(\\d+)$/${1}/"}], "Weight": 10}),
    ("APIerSv1.SetRouteProfile",
     {"Tenant": "cgrates.org", "ID": "ROUTES_DE", "Sorting": "*weight", "Weight": 10,
      "Routes": [{"ID": "supplier1", "Weight": 10}, {"ID": "supplier2", "Weight": 20}]}),
)  # fmt: skip


def case_request(args) -> dict:
    """The JSON-RPC request of ``--case`` (with ``--flags``)."""
    request = json.loads(json.dumps(CASES[args.case]))
    if args.flags == "seed" and args.case == "authorize":
        request["params"][0].update(SEED_ARGS)
    return request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rpc(url: str, method: str, params: dict) -> dict:
    body = json.dumps({"method": method, "params": [params], "id": 1}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


class Server:
    """``fs-cgr serve --workers N`` with the example tariff plan loaded."""

    def __init__(self, workers: int, redis_url: str, folder: str, flags: str = ""):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/jsonrpc"
        self.prefix = f"fs_cgr_bench_workers_{os.getpid()}_{workers}"
        command = [
            sys.executable, "-m", "fs_cgr.api.cli", "serve", "--workers", str(workers),
            "--api", f"127.0.0.1:{port}", "--esl", f"127.0.0.1:{free_port()}",
            "--fs", f"127.0.0.1:{free_port()}", "--log-level", "WARNING",
            "--datadb", f"{redis_url}?prefix={self.prefix}",
            "--stordb", f"sqlite:///{folder}/stordb{workers}.sqlite",
        ]  # fmt: skip
        env = {**os.environ, "FS_CGR_DATA_DIR": folder}
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_workers(workers)
        plan = {"FolderPath": str(ROOT / "examples" / "tariffplan")}
        assert rpc(self.url, "APIerSv1.LoadTariffPlanFromFolder", plan)["error"] is None
        for method, profile in SEED_PROFILES if flags == "seed" else ():
            assert rpc(self.url, method, profile)["error"] is None, method

    def _wait_workers(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if rpc(self.url, "APIerSv1.Ping", {})["result"] == "Pong" and (
                    count == 1 or len(self.workers()) == count
                ):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("fs-cgr serve did not start")

    def workers(self) -> list[int]:
        pid = self.process.pid
        path = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in path.read_text().split()] or [pid]

    def cpu_by_process(self) -> dict[int, float]:
        """CPU seconds (user + system) of the supervisor and of each worker."""
        return process_cpu({self.process.pid, *self.workers()})

    def stop(self, redis_url: str) -> None:
        self.process.terminate()
        self.process.wait(30)
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{self.prefix}:*", count=500):
            client.unlink(key)
        client.close()


def process_cpu(pids) -> dict[int, float]:
    """CPU seconds (user + system) of each process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


class CGrateS:
    """A running CGrateS at ``CGRATES_URL`` (its CPU from ``CGRATES_PID`` when given)."""

    def __init__(self, url: str, pid: str):
        self.url = url
        self.pid = int(pid) if pid else None

    def cpu_by_process(self) -> dict[int, float]:
        return process_cpu([self.pid]) if self.pid else {}


def python_clients(url: str, args, started) -> tuple[int, float]:
    """(requests answered, client CPU seconds) of ``--client-processes`` gevent processes."""
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    counts = [spawn.Value("q", -1, lock=False) for _ in range(args.client_processes)]
    cpus = [spawn.Value("d", 0.0, lock=False) for _ in counts]
    clients = [
        spawn.Process(
            target=client_process,
            args=(url, case_request(args), args.clients, args.seconds, start, count, cpu),
        )
        for count, cpu in zip(counts, cpus, strict=True)
    ]
    for client in clients:
        client.start()
    time.sleep(1.0)  # the clients import gevent and connect before the clock starts
    started()
    start.set()
    for client in clients:
        client.join(args.seconds + 60)
    if any(count.value < 0 for count in counts):
        raise RuntimeError("a client process failed (see its traceback above)")
    return sum(count.value for count in counts), sum(cpu.value for cpu in cpus)


def client_process(url, request, connections: int, seconds: float, start, answered, cpu) -> None:
    """``connections`` keep-alive greenlets sending GetCost until the time is up; the
    count goes to ``answered`` and this process's CPU seconds to ``cpu`` (shared memory:
    no queue thread under gevent)."""
    from gevent import monkey

    monkey.patch_all()
    import http.client
    from urllib.parse import urlsplit

    import gevent

    address = urlsplit(url)
    body = json.dumps(request).encode()
    case = request["method"]
    done = [0]

    def loop(until: float) -> None:
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.monotonic() < until:
            conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
            reply = conn.getresponse().read()
            if b'"error":null' not in reply:
                raise RuntimeError(f"{case} failed: {reply[:200]!r}")
            done[0] += 1
        conn.close()

    start.wait()
    began = time.process_time()
    until = time.monotonic() + seconds
    gevent.joinall([gevent.spawn(loop, until) for _ in range(connections)], raise_error=True)
    cpu.value = time.process_time() - began
    answered.value = done[0]


# wrk sends the body of WRK_BODY, WRK_PIPELINE requests at a time on each connection, and
# checks every reply: a failed one is counted.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open(os.getenv("WRK_BODY"), "rb")
wrk.body = file:read("*a")
file:close()
local depth = tonumber(os.getenv("WRK_PIPELINE"))
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
    failed = 0
    local batch = {}
    for i = 1, depth do batch[i] = wrk.format() end
    pipelined = table.concat(batch)
end
function request() return pipelined end
function response(status, headers, body)
    if status ~= 200 or not string.find(body, '"error":null', 1, true) then
        failed = failed + 1
    end
end
function done(summary, latency, requests)
    local total = 0
    for _, thread in ipairs(threads) do total = total + thread:get("failed") end
    io.write(string.format("failed %d\\n", total))
end
"""


def wrk_clients(url: str, args, started) -> tuple[int, float]:
    """(requests answered, client CPU seconds) of one wrk run: ``--client-processes``
    threads of ``--clients`` keep-alive connections each, ``--pipeline`` requests at a time."""
    with tempfile.TemporaryDirectory() as folder:
        script, body = Path(folder, "getcost.lua"), Path(folder, "getcost.json")
        script.write_text(WRK_SCRIPT)
        body.write_text(json.dumps(case_request(args)))
        threads, connections = args.client_processes, args.client_processes * args.clients
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(args.seconds))}s",
                   "--timeout", "30s",
                   "-s", str(script), url]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started()
        done = subprocess.run(
            command,
            env={**os.environ, "WRK_BODY": str(body), "WRK_PIPELINE": str(args.pipeline)},
            capture_output=True,
            text=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"(\d+) requests in", done.stdout)
    failed = re.search(r"failed (\d+)", done.stdout)
    if done.returncode or not found or not failed:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    if int(failed.group(1)) or "Socket errors" in done.stdout:
        raise RuntimeError(f"{args.case} failed under wrk: {done.stdout}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return int(found.group(1)), cpu


def one_run(server, args) -> tuple[float, float | None, list[float], float]:
    """(requests/s, server CPU ms per request or None when unknown, each process's share
    of the server CPU, client CPU ms per request)."""
    drive = wrk_clients if args.client == "wrk" else python_clients
    cpu_before = {}
    began = [0.0]

    def started() -> None:
        cpu_before.update(server.cpu_by_process())
        began[0] = time.monotonic()

    total, client_cpu = drive(server.url, args, started)
    elapsed = time.monotonic() - began[0] if args.client == "wrk" else args.seconds
    cpu_after = server.cpu_by_process()
    used = {pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after}
    cpu = sum(used.values())
    shares = sorted((u / cpu if cpu else 0.0 for u in used.values()), reverse=True)
    server_ms = cpu / total * 1000 if used else None
    return total / elapsed, server_ms, shares, client_cpu / total * 1000


def report(name: str, results: list, baseline: float | None, args) -> float:
    """Print the median of ``results`` for ``name``; returns its rate."""
    rates, cpus, shares, client_cpus = zip(*results, strict=True)
    rate = statistics.median(rates)
    ratio = f" ({rate / baseline:.2f}x)" if baseline else ""
    known = [cpu for cpu in cpus if cpu is not None]
    server = f"{statistics.median(known):.3f} ms/request" if known else "n/a (no CGRATES_PID)"
    spread = " / ".join(f"{share:.0%}" for share in shares[len(shares) // 2]) or "n/a"
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    print(
        f"{name}: {args.case} {rate:,.0f}/s{ratio}  server CPU {server}  CPU spread {spread}"
        f"  client CPU {statistics.median(client_cpus):.3f} ms/request  (runs: {runs})",
        flush=True,
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--case", choices=sorted(CASES), default="getcost")
    parser.add_argument(
        "--flags", choices=("", "seed"), default="",
        help="authorize: the seeds' cgr_flags (routes, attributes, resources) and profiles",
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python"
    )
    parser.add_argument("--clients", type=int, default=8, help="connections per client process")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--pipeline", type=int, default=1, help="requests in flight per wrk connection"
    )
    parser.add_argument(
        "--redis", default=os.environ.get("FS_CGR_TEST_REDIS", "redis://127.0.0.1:6379/15")
    )
    args = parser.parse_args()
    print(
        f"{args.client}, {args.client_processes}x{args.clients} keep-alive connections"
        f"{f', pipelined by {args.pipeline}' if args.pipeline > 1 else ''}; median of"
        f" {args.runs} runs of {args.seconds:g} s, the servers' runs alternating;"
        f" load average {os.getloadavg()[0]:.2f} at the start"
        f"{'; seed flags' if args.flags else ''}",
        flush=True,
    )
    targets = {}
    if os.environ.get("CGRATES_URL"):
        targets["CGrateS"] = CGrateS(os.environ["CGRATES_URL"], os.environ.get("CGRATES_PID", ""))
    with tempfile.TemporaryDirectory() as folder:
        try:
            for workers in (int(n) for n in args.workers.split(",")):
                targets[f"fs_cgr {workers} worker(s)"] = Server(
                    workers, args.redis, folder, args.flags
                )
            results = {name: [] for name in targets}
            for _ in range(args.runs):
                for name, target in targets.items():
                    results[name].append(one_run(target, args))
        finally:
            for target in targets.values():
                if isinstance(target, Server):
                    target.stop(args.redis)
    baseline = None
    for name in sorted(results, key=lambda name: name == "CGrateS"):
        rate = report(name, results[name], baseline, args)
        baseline = baseline or rate
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
