"""CPU of the AccountService calls a *prepaid call makes, on the embedded (memory) DataDB.

    python bench/account_cpu.py [--rounds 2000] [--repeats 7]

A node of bench/calls.py's plan (tests.agents.lab.write_plan), accounts m0..m19 with 30
of money, no sessions and no HTTP: per round, for each account in turn, ``max_usage`` of
a 3 h call (what AuthorizeEvent's GetMaxUsage asks, sessions max_call_duration), then a
first ``debit`` of 5 s (at answer) and its ``refund`` down to 2 s (at hangup).
Prints the CPU (time.process_time) per call, median and minimum of ``--repeats``, for
each of the three and for the three together. Run it from a checkout to measure that
checkout (A/B: the same command in each, alternating).
"""

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "cgrates.org"
SECOND = 1_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2000, help="calls per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    from fs_cgr.rating import CallDescriptor
    from tests.agents.lab import plan_node

    node = plan_node("fs-cgr-account-cpu-")
    accounts = [f"m{i}" for i in range(20)]
    for account in accounts:
        node.accounts.add_balance(TENANT, account, "*monetary", "30")
    service = node.accounts

    def cd(account: str, usage: int) -> CallDescriptor:
        start = datetime.now(UTC)
        return CallDescriptor(
            TENANT, "call", account, "4912345", start, account=account, usage=usage
        )

    spent = {"max_usage": [], "debit": [], "refund": []}
    for repeat in range(args.repeats):
        totals = dict.fromkeys(spent, 0.0)
        for index in range(args.rounds):
            account = accounts[index % len(accounts)]
            began = time.process_time()
            allowed = service.max_usage(cd(account, 3 * 3600 * SECOND))
            middle = time.process_time()
            debit = service.debit(cd(account, 5 * SECOND), f"r{repeat}:{index}:d")
            after = time.process_time()
            service.refund(debit, 2 * SECOND, f"r{repeat}:{index}:r")
            done = time.process_time()
            if allowed <= 0 or not debit.charges:
                raise RuntimeError(f"{account}: out of money ({allowed})")
            totals["max_usage"] += middle - began
            totals["debit"] += after - middle
            totals["refund"] += done - after
        for name, value in totals.items():
            spent[name].append(value / args.rounds * 1e6)
    node.stop()
    report = {}
    for name, runs in spent.items():
        report[f"{name}_cpu_us_median"] = round(statistics.median(runs), 1)
        report[f"{name}_cpu_us_min"] = round(min(runs), 1)
    together = [sum(runs) for runs in zip(*spent.values(), strict=True)]
    report["call_cpu_us_median"] = round(statistics.median(together), 1)
    report["call_cpu_us_min"] = round(min(together), 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
