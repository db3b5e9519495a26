"""No request is answered from live objects that were never loaded (issue 8, point 1)."""

import json
import multiprocessing

from fs_cgr.errors import StorageUnavailable
from tests.cdrs.helpers import call, monetary, top_up, write_plan
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


class DownDataDB:
    """A DataDB that does not answer."""

    def live_version(self):
        raise StorageUnavailable("redis: connection refused")

    read_live = live_version


def test_live_objects_never_loaded_are_an_error_when_the_datadb_is_down(embedded):
    top_up(embedded, "1001", 10)
    chargers = embedded.cdrs.chargers.live
    datadb, chargers.datadb = chargers.datadb, DownDataDB()
    outcome = embedded.cdrs.process_event(call("down", RequestType="*postpaid", Usage="60s"))
    assert outcome.error.message.startswith("STORAGE_UNAVAILABLE")  # not PARTIALLY_EXECUTED
    assert monetary(embedded, "1001") == 10 and embedded.cdrs.count_cdrs({}) == 0

    chargers.datadb = datadb
    assert embedded.cdrs.process_event(call("up", RequestType="*postpaid")).error is None
    chargers.datadb, chargers._checked_at = DownDataDB(), float("-inf")  # the look is due
    outcome = embedded.cdrs.process_event(call("kept", RequestType="*postpaid", Usage="60s"))
    assert outcome.error is None and embedded.cdrs.count_cdrs({}) == 2  # the loaded ones serve
