"""One OS process of the concurrency test: many gevent greenlets charging one Redis account.

Runs in a spawned process (tests/accounts/test_concurrency.py): it patches the
standard library for gevent before anything opens a socket, so the greenlets
really interleave their Redis round trips.
"""


def run(redis_url: str, worker: int, greenlets: int, charges: int, start, report_path) -> None:
    """Charge the account "hot"; write what was granted to ``report_path`` (JSON)."""
    from gevent import monkey

    monkey.patch_all()

    import json
    import random
    from decimal import Decimal
    from types import SimpleNamespace

    import gevent

    from fs_cgr.accounts.service import AccountService
    from fs_cgr.app import LiveRating
    from fs_cgr.durations import SECOND
    from fs_cgr.errors import AccountBusy, InsufficientCredit
    from fs_cgr.storage import open_datadb
    from tests.accounts.conftest import call

    datadb = open_datadb(redis_url)
    service = AccountService(SimpleNamespace(datadb=datadb, rating=LiveRating(datadb)))
    granted: dict[str, Decimal] = {}  # idempotency key -> money actually taken
    report = {"retries": 0, "busy": 0, "mismatches": [], "lowest": None, "errors": []}

    def charge(key: str, rng: random.Random):
        """One charge: a random money adjustment or a short call to 1003 (0.01/s)."""
        if rng.random() < 0.5:
            amount = Decimal(rng.randint(1, 500)) / 1000
            done = service.adjust("cgrates.org", "hot", amount, key, allow_negative=False)
            return done, done.amount, done.value
        done = service.debit(call("1003", rng.randint(1, 10) * SECOND, account="hot"), key)
        return done, done.cost, None

    def one(index: int):
        rng = random.Random(worker * 100_000 + index)
        for sequence in range(charges):
            key = f"w{worker}:g{index}:{sequence}"
            try:
                first, taken, value = charge(key, rng)
            except InsufficientCredit:
                continue  # nothing written, nothing granted
            except AccountBusy:  # lost every race of its attempts: nothing written either
                report["busy"] += 1
                continue
            except Exception as exc:  # reported to the test, which fails on any
                report["errors"].append(f"{key}: {exc!r}")
                continue
            granted[key] = taken
            if value is not None and (report["lowest"] is None or value < report["lowest"]):
                report["lowest"] = value
            if rng.random() < 0.25:  # the same request again, as after a lost reply
                report["retries"] += 1
                try:
                    if repeat(key, first) != first:
                        report["mismatches"].append(key)
                except AccountBusy:
                    report["busy"] += 1
                except Exception as exc:
                    report["errors"].append(f"{key} (retry): {exc!r}")

    def repeat(key: str, first):
        if hasattr(first, "amount"):
            return service.adjust("cgrates.org", "hot", first.amount, key, allow_negative=False)
        return service.debit(call("1003", first.requested, account="hot"), key)

    start.wait(30)
    jobs = [gevent.spawn(one, index) for index in range(greenlets)]
    gevent.joinall(jobs, timeout=60)
    report["granted"] = {key: str(value) for key, value in granted.items()}
    report["lowest"] = None if report["lowest"] is None else str(report["lowest"])
    with open(report_path, "w") as out:
        json.dump(report, out)
    datadb.close()
