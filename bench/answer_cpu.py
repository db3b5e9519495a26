"""CPU of the answer of a charged call alone: what an embedded call's CHANNEL_ANSWER costs
fs-cgr once its event is built (EmbeddedCalls._initiate after AttributeS).

    python bench/answer_cpu.py [--calls 2000] [--runs 3] [--datadb redis://127.0.0.1:6379/5]

A gevent-patched process (as the server and the agent): a Node of bench/calls.py's plan
(tests.agents.lab.write_plan) with its seed profiles (a resource profile the calls do not
match), 200 accounts with money, debit interval 10 s. Each call is answered as the
agent does it (measured):

answer_cpu_us   the resource unit (``FreeSwitchAgent.allocate``: no profile matches) and
                ``SessionService.initiate`` of a ``*prepaid`` call: charger
                runs, journal record, the first debit (10 s) and its journal note, the
                wheel timer.

then hung up (not measured: ``terminate`` with 2 s, the rest refunded). CPU is the
process's (time.process_time), per call; the median of ``--runs``. Run it from each
checkout in turn (A/B: the same command, alternating).
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

TENANT = "cgrates.org"
SECOND = 1_000_000_000
ACCOUNTS = [f"m{n}" for n in range(200)]


def plan_node(datadb: str):
    from fs_cgr.app import Node
    from fs_cgr.config import load_config
    from tests.agents.lab import write_plan

    folder = tempfile.mkdtemp(prefix="fs-cgr-answer-")
    overrides = {
        "general.data_dir": folder,
        "stordb.url": f"sqlite:///{folder}/stordb.sqlite",
        "sessions.debit_interval": 10 * SECOND,
        "freeswitch_agent.event_socket_conns": [],  # the agent's allocation only: no link
    }
    if datadb:
        overrides["datadb.url"] = datadb
    node = Node(load_config(overrides=overrides, env={}))
    node.datadb.flush()
    node.stordb.flush()
    node.tariffplans.load_folder(write_plan(Path(folder)))
    node.rating.refresh()
    node.resources.set_profile(
        {"Tenant": TENANT, "ID": "RES_BENCH", "FilterIDs": ["*string:~*req.Account:1001"],
         "UsageTTL": "1h", "Limit": 10**9, "Weight": 10}
    )  # fmt: skip
    node.start()
    for account in ACCOUNTS:
        node.accounts.add_balance(TENANT, account, "*monetary", "1000000")
    return node


def event(index: int, moment: str) -> dict:
    """The answer's event as AttributeS hands it on (times printed, as JSON carries them)."""
    account = ACCOUNTS[index % len(ACCOUNTS)]
    return {
        "cgr_max_usage": "3", "Tenant": TENANT, "Category": "call", "RequestType": "*prepaid",
        "Account": account, "Subject": account, "Destination": "4912345",
        "OriginID": f"answer-{index}-{moment}", "OriginHost": "bench",
        "Source": "FreeSWITCHAgent", "ToR": "*voice", "SetupTime": moment, "AnswerTime": moment,
    }  # fmt: skip


def one_run(node, calls: int) -> float:
    from fs_cgr.agents.freeswitch import FreeSwitchAgent
    from fs_cgr.times import format_time, now

    agent = FreeSwitchAgent(node)  # not started: its resource allocation only
    spent = 0.0
    for index in range(calls):
        answered = now()
        ev = event(index, format_time(answered.replace(microsecond=0)))
        started = time.process_time()
        agent.allocate(ev, "bench")
        node.sessions.initiate(ev, on_disconnect=lambda *_: None, answered_at=answered)
        spent += time.process_time() - started
        node.sessions.terminate(dict(ev, Usage=2 * SECOND))
    if node.sessions.active():
        raise RuntimeError("sessions left active")
    return spent * 1e6 / calls


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--datadb", default="", help="a DataDB URL (default: embedded)")
    args = parser.parse_args(argv)
    node = plan_node(args.datadb)
    try:
        one_run(node, 200)  # warm-up: every account known, caches filled
        runs = []
        for _ in range(args.runs):
            runs.append(one_run(node, args.calls))
            print(f"answer_cpu_us {runs[-1]:.1f}", flush=True)
    finally:
        node.stop()
    print(f"median answer_cpu_us {statistics.median(runs):.1f} min {min(runs):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
