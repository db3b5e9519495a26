"""A gevent process for test_live_objects: 32 concurrent first CDRs on a fresh node.

As ``fs-cgr serve`` runs, the standard library is patched before anything opens a
socket, so the DataDB reads yield to the other requests. Findings go to a JSON file.
"""


def run(redis_url: str, data_dir: str, plan_dir: str, report_path: str) -> None:
    from gevent import monkey

    monkey.patch_all()

    import json

    import gevent

    from fs_cgr.app import Node
    from fs_cgr.config import load_config
    from tests.cdrs.helpers import call, top_up

    def node() -> Node:
        overrides = {
            "general.data_dir": data_dir,
            "datadb.url": f"{redis_url}?prefix=fs_cgr_first_requests",
            "stordb.url": f"sqlite:///{data_dir}/stordb.sqlite",
        }
        return Node(load_config(overrides=overrides, env={}))

    def burst(target: Node, name: str) -> list[str]:
        def one(index: int) -> str:
            event = call(f"{name}-{index}", account="1001", RequestType="*postpaid", Usage="60s")
            outcome = target.cdrs.process_event(event)
            return "OK" if outcome.error is None else outcome.error.message

        jobs = [gevent.spawn(one, index) for index in range(32)]
        gevent.joinall(jobs, timeout=60, raise_error=True)
        return [job.value for job in jobs]

    loader = node()
    loader.datadb.flush()
    loader.stordb.flush()
    loader.tariffplans.load_folder(plan_dir)
    top_up(loader, "1001", 1000)
    loader.stop()

    report = {}
    fresh = node()  # its first requests: nothing read from the DataDB yet
    report["fresh node"] = burst(fresh, "fresh")

    fresh.datadb.flush()
    fresh.stop()
    empty = node()  # a fresh node on an empty DataDB...
    report["before any plan"] = burst(empty, "empty")
    empty.tariffplans.load_folder(plan_dir)  # ...then its first plan load
    top_up(empty, "1001", 1000)
    report["after the first plan load"] = burst(empty, "loaded")
    report["stored"] = empty.cdrs.count_cdrs({})
    empty.datadb.flush()
    empty.stop()
    with open(report_path, "w") as out:
        json.dump(report, out)
