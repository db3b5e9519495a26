"""CPU of one SessionSv1.AuthorizeEvent as the embedded handler sends it (seed cgr_flags).

    python bench/authorize_cpu.py                # --mode calls: inside bench/calls.py
    python bench/authorize_cpu.py --mode hot     # the same request in a tight loop

``--mode calls`` runs ``bench/calls.py --only money --like-freeswitch --flags seed``
(``--calls``, ``--call-rate``) and times, in the node's thread, every JSON-RPC request
the node answers: in that bench each is one call's AuthorizeEvent (the handler's), so
the figure is the node's CPU to authorize a call among everything else a call costs
(caches as cold as they are between calls), without the HTTP read and write around it.
It prints calls.py's report and ``authorize_cpu_us_per_request``.

``--mode hot``: a node of calls.py's plan and profiles (embedded DataDB) answers the same
request body (the handler's, for accounts m0..m19, which no attribute or resource profile
matches, and 1001, which both match) ``--requests`` times in a row, ``--repeats`` times:
CPU per request, median and minimum. Hot caches: what the code costs, not the machine.

``--mode http``: the same node behind its HTTP/1.1 API (a server thread with its own gevent
hub) and, in this process's main thread (no gevent), the embedded handler's own code:
``fs_cgr.embedded.authorize.authorize`` over a ``NodeClient`` for a channel as the
handler reads it (the seed's cgr_flags), ``--requests`` times in a row, ``--repeats``
times. CPU per request of each side: the node's thread (HTTP read, JSON-RPC, the
method, the reply) and the client's (what FreeSWITCH's call thread spends), medians.

Run it from a checkout to measure that checkout (A/B: the same command in each).
"""

import argparse
import contextlib
import json
import runpy
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "cgrates.org"
SETUP_TIME = "2026-12-06T08:17:57+00:00"
SEED_FLAGS = "*resources;*attributes;*sessions;*routes;*thresholds;*stats;*accounts"


def timed_calls(args) -> None:
    from fs_cgr.api import jsonrpc

    answer = jsonrpc.handle
    spent = [0, 0.0]

    def handle(node, body):
        began = time.thread_time()
        try:
            return answer(node, body)
        finally:
            spent[0] += 1
            spent[1] += time.thread_time() - began

    jsonrpc.handle = handle  # the API server looks it up on the module for each request
    sys.argv = [
        "calls.py", "--only", "money", "--calls", str(args.calls), "--like-freeswitch",
        "--call-rate", str(args.call_rate), "--flags", "seed",
    ]  # fmt: skip
    with contextlib.suppress(SystemExit):  # calls.py ends with sys.exit
        runpy.run_path(str(ROOT / "bench" / "calls.py"), run_name="__main__")
    per_request = spent[1] / max(1, spent[0]) * 1e6
    print(json.dumps({"requests": spent[0], "authorize_cpu_us_per_request": round(per_request)}))


def request_bodies() -> list[bytes]:
    """The embedded handler's AuthorizeEvent for the seed flags (bench/calls.py's calls)."""
    bodies = []
    for account in [f"m{i}" for i in range(20)] + ["1001"]:
        event = {
            "RequestType": "*prepaid", "Account": account, "Subject": account,
            "Destination": "004912345" if account == "1001" else "4912345",
            "OriginID": f"bench-{account}", "Source": "FreeSWITCHAgent", "ToR": "*voice",
            "SetupTime": SETUP_TIME,
        }  # fmt: skip
        params = {
            "Tenant": "", "ID": f"bench-{account}", "Event": event, "GetMaxUsage": True,
            "GetRoutes": True, "GetAttributes": True, "AuthorizeResources": True,
            "ResourcesOptional": True,
        }  # fmt: skip
        request = {"jsonrpc": "2.0", "id": 1, "method": "SessionSv1.AuthorizeEvent"}
        bodies.append(json.dumps({**request, "params": [params]}).encode())
    return bodies


def bench_node(bodies: list[bytes]):
    """A node of calls.py's plan and profiles whose accounts can pay ``bodies``' calls."""
    sys.path.insert(0, str(ROOT / "bench"))
    from calls import add_subsystem_profiles

    from fs_cgr.api import jsonrpc
    from fs_cgr.api.registry import load_method_modules
    from tests.agents.lab import plan_node

    load_method_modules()
    node = plan_node("fs-cgr-authorize-")
    add_subsystem_profiles(node)
    for body in bodies:
        account = json.loads(body)["params"][0]["Event"]["Account"]
        node.accounts.add_balance(TENANT, account, "*monetary", "30")
        reply = json.loads(jsonrpc.handle(node, body))
        if reply["error"] is not None:
            raise RuntimeError(f"AuthorizeEvent failed: {reply['error']}")
    return node


def hot(args) -> None:
    from gevent import monkey

    monkey.patch_all()
    from fs_cgr.api import jsonrpc

    bodies = request_bodies()
    node = bench_node(bodies)
    runs = []
    for _ in range(args.repeats):
        began = time.process_time()
        for index in range(args.requests):
            jsonrpc.handle(node, bodies[index % len(bodies)])
        runs.append((time.process_time() - began) / args.requests * 1e6)
    node.stop()
    print(json.dumps({
        "cpu_us_per_request_median": round(statistics.median(runs), 1),
        "cpu_us_per_request_min": round(min(runs), 1),
        "runs": [round(run, 1) for run in runs],
    }))  # fmt: skip


def channel_variables() -> list[dict]:
    """What the handler reads of request_bodies()' calls, as FreeSWITCH's getVariable has it."""
    created = int(datetime.fromisoformat(SETUP_TIME).timestamp() * 1e6)
    return [
        {  # fmt: skip
            "uuid": f"bench-{account}",
            "username": account,
            "context": "default",
            "destination_number": "004912345" if account == "1001" else "4912345",
            "dialplan": "XML",
            "created_time": str(created),
            "cgr_reqtype": "*prepaid",
            "cgr_account": account,
            "cgr_flags": SEED_FLAGS,
        }
        for account in [f"m{i}" for i in range(20)] + ["1001"]
    ]


def over_http(args) -> None:
    """Both sides of the embedded handler's request: node thread and client thread CPU."""
    from fs_cgr.api.server import ServerThread
    from fs_cgr.embedded.authorize import authorize
    from fs_cgr.embedded.rpc import NodeClient
    from fs_cgr.fschannel import FSEvent

    node = bench_node(request_bodies())
    server = ServerThread(node).start()
    server_clock = time.pthread_getcpuclockid(server._thread.ident)
    client = NodeClient(server.url, timeout=5)
    channels = channel_variables()
    served, asked = [], []
    for _ in range(args.repeats):
        began, began_server = time.thread_time(), time.clock_gettime(server_clock)
        for index in range(args.requests):
            channel = FSEvent.from_channel(channels[index % len(channels)].get)
            verdict = authorize(client, channel)
            if not verdict.allowed:
                raise RuntimeError(f"refused: {verdict}")
        asked.append((time.thread_time() - began) / args.requests * 1e6)
        served.append((time.clock_gettime(server_clock) - began_server) / args.requests * 1e6)
    client.close()
    server.stop()
    node.stop()
    print(json.dumps({
        "node_cpu_us_per_request_median": round(statistics.median(served), 1),
        "client_cpu_us_per_request_median": round(statistics.median(asked), 1),
        "node_runs": [round(run, 1) for run in served],
        "client_runs": [round(run, 1) for run in asked],
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("calls", "hot", "http"), default="calls")
    parser.add_argument("--calls", type=int, default=600, help="calls: calls of the bench")
    parser.add_argument("--call-rate", type=float, default=100, help="calls: calls per second")
    parser.add_argument("--requests", type=int, default=3000, help="hot, http: requests per repeat")
    parser.add_argument("--repeats", type=int, default=7, help="hot, http: repeats")
    args = parser.parse_args()
    if args.mode == "hot":
        hot(args)
    elif args.mode == "http":
        over_http(args)
    else:
        timed_calls(args)


if __name__ == "__main__":
    main()
