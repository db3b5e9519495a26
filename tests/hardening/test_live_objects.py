"""No request is answered from live objects that were never loaded (issue 8, point 1)."""

import json
import multiprocessing

from tests.cdrs.helpers import write_plan
from tests.hardening import first_requests_worker


def test_concurrent_first_cdrs_on_a_fresh_node_are_all_charged(redis_url, tmp_path):
    report_path = tmp_path / "report.json"
    plan = write_plan(tmp_path / "plan")
    data = tmp_path / "data"
    data.mkdir()
    child = multiprocessing.get_context("spawn").Process(
        target=first_requests_worker.run,
        args=(redis_url, str(data), str(plan), str(report_path)),
        daemon=True,
    )
    child.start()
    child.join(120)
    assert child.exitcode == 0
    report = json.loads(report_path.read_text())
    assert report["fresh node"] == ["OK"] * 32
    assert report["before any plan"] == ["PARTIALLY_EXECUTED"] * 32
    assert report["after the first plan load"] == ["OK"] * 32
    assert report["stored"] == 64
