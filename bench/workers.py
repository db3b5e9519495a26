"""GetCost over HTTP against ``fs-cgr serve --workers N``: 1 worker against N, side by side.

    python bench/workers.py [--workers 1,2] [--runs 3] [--seconds 3] [--clients 8]
                            [--client-processes 2] [--redis redis://127.0.0.1:6379/15]

For each worker count, a real ``fs-cgr serve --workers N`` (Redis DataDB under its own
key prefix, SQLite StorDB in a temporary folder, examples/tariffplan loaded) is started
and hammered by ``--client-processes`` processes of ``--clients`` keep-alive gevent
connections each, all sending the same GetCost (examples/tariffplan: 1001 calling a
German mobile for 2m30s). Printed per worker count, median of ``--runs``: requests per
second, server CPU (supervisor and workers, from /proc) per request, and how the
requests spread over the workers. The clients run on the same machine: on 2 cores they
compete with the workers for CPU, which the figures show rather than hide.
"""

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GET_COST = {
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
}


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

    def __init__(self, workers: int, redis_url: str, folder: str):
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
        ticks = os.sysconf("SC_CLK_TCK")
        found = {}
        for pid in {self.process.pid, *self.workers()}:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks
        return found

    def stop(self, redis_url: str) -> None:
        self.process.terminate()
        self.process.wait(30)
        import redis

        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{self.prefix}:*", count=500):
            client.unlink(key)
        client.close()


def client_process(url, connections: int, seconds: float, start, answered, cpu) -> None:
    """``connections`` keep-alive greenlets sending GetCost until the time is up; the
    count goes to ``answered`` and this process's CPU seconds to ``cpu`` (shared memory:
    no queue thread under gevent)."""
    from gevent import monkey

    monkey.patch_all()
    import http.client
    from urllib.parse import urlsplit

    import gevent

    address = urlsplit(url)
    body = json.dumps(GET_COST).encode()
    done = [0]

    def loop(until: float) -> None:
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.monotonic() < until:
            conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
            reply = conn.getresponse().read()
            if b'"error":null' not in reply:
                raise RuntimeError(f"GetCost failed: {reply[:200]!r}")
            done[0] += 1
        conn.close()

    start.wait()
    began = time.process_time()
    until = time.monotonic() + seconds
    gevent.joinall([gevent.spawn(loop, until) for _ in range(connections)], raise_error=True)
    cpu.value = time.process_time() - began
    answered.value = done[0]


def one_run(server: Server, args) -> tuple[float, float, list[float], float]:
    """(requests/s, server CPU ms per request, each process's share of the server CPU,
    client CPU ms per request)."""
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    counts = [spawn.Value("q", -1, lock=False) for _ in range(args.client_processes)]
    cpus = [spawn.Value("d", 0.0, lock=False) for _ in counts]
    clients = [
        spawn.Process(
            target=client_process,
            args=(server.url, args.clients, args.seconds, start, count, cpu),
        )
        for count, cpu in zip(counts, cpus, strict=True)
    ]
    for client in clients:
        client.start()
    time.sleep(1.0)  # the clients import gevent and connect before the clock starts
    cpu_before = server.cpu_by_process()
    start.set()
    for client in clients:
        client.join(args.seconds + 60)
    cpu_after = server.cpu_by_process()
    if any(count.value < 0 for count in counts):
        raise RuntimeError("a client process failed (see its traceback above)")
    total = sum(count.value for count in counts)
    used = {pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in cpu_after}
    cpu = sum(used.values())
    shares = sorted((u / cpu if cpu else 0.0 for u in used.values()), reverse=True)
    client_cpu = sum(c.value for c in cpus) / total * 1000
    return total / args.seconds, cpu / total * 1000, shares, client_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=8, help="connections per client process")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--redis", default=os.environ.get("FS_CGR_TEST_REDIS", "redis://127.0.0.1:6379/15")
    )
    args = parser.parse_args()
    baseline = None
    with tempfile.TemporaryDirectory() as folder:
        for workers in (int(n) for n in args.workers.split(",")):
            server = Server(workers, args.redis, folder)
            try:
                results = [one_run(server, args) for _ in range(args.runs)]
            finally:
                server.stop(args.redis)
            rates, cpus, shares, client_cpus = zip(*results, strict=True)
            rate = statistics.median(rates)
            baseline = baseline or rate
            spread = " / ".join(f"{share:.0%}" for share in shares[len(shares) // 2])
            print(
                f"{workers} worker(s): GetCost {rate:,.0f}/s ({rate / baseline:.2f}x)"
                f"  server CPU {statistics.median(cpus):.3f} ms/request"
                f"  CPU spread {spread}"
                f"  client CPU {statistics.median(client_cpus):.3f} ms/request"
                f"  ({args.client_processes}x{args.clients} keep-alive clients,"
                f" median of {args.runs} x {args.seconds:g}s)"
            )


if __name__ == "__main__":
    main()
