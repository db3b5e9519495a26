"""The Mediator end to end: 20 rotated mod_cdr_csv files into a watched folder while the
node runs and is restarted once; one file with bad lines, one written slowly."""

import os
import threading
import time
from decimal import Decimal

import pytest

from fs_cgr.app import Node
from fs_cgr.cdrc.service import FolderMediator, Mediator
from fs_cgr.config import CdrcConfig, load_config, to_dict
from fs_cgr.workers import role
from tests.cdrc.helpers import TEMPLATE, csv_line, rotate_in
from tests.cdrs.helpers import make_node, monetary, top_up, write_plan

LINES_PER_FILE = 5
CALL_COST = Decimal("0.6")


def _cdrc(tmp_path) -> dict:
    spec = {
        "in_dir": str(tmp_path / "in"),
        "out_dir": str(tmp_path / "out"),
        "template": TEMPLATE,
        "settle": "1s",
        "cost_runs": ["*default"],
    }
    return {"cdrc": [spec], "cdrs.store_batch": 3}  # several batches (checkpoints) per file


def _wait(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _write_slowly(path, lines, pause: float) -> None:
    """One writer holding the file open, a line at a time (as a live mod_cdr_csv log)."""
    with open(path, "w") as stream:
        for line in lines:
            stream.write(line + "\n")
            stream.flush()
            time.sleep(pause)


def _restarted(node: Node, backend: str) -> Node:
    """On Redis + MariaDB a new node on the same databases, as after a process restart;
    the embedded DataDB lives in the process, so there the Mediator alone restarts."""
    if backend == "embedded":
        node.cdrc.stop()
        node.cdrc = Mediator(node)
        node.cdrc.start()
        return node
    node.stop()
    return Node(load_config(overrides=_flat(node.config), env={})).start()


def _flat(config) -> dict:
    plain = to_dict(config)
    return {
        "general.data_dir": plain["general"]["data_dir"],
        "datadb.url": plain["datadb"]["url"],
        "stordb.url": plain["stordb"]["url"],
        "cdrs.store_batch": plain["cdrs"]["store_batch"],
        "cdrc": plain["cdrc"],
    }


@pytest.mark.parametrize("backend", ["embedded", "redis+mariadb"])
def test_twenty_rotated_files_one_restart(backend, request, tmp_path):
    (tmp_path / "in").mkdir()
    node = make_node(backend, request, tmp_path / "data", **_cdrc(tmp_path))
    node.tariffplans.load_folder(write_plan(tmp_path / "plan"))
    top_up(node, "1001", 1000)
    node.start()
    in_dir = str(tmp_path / "in")
    good = []

    def lines(index: int) -> list[str]:
        made = [csv_line(f"call-{index}-{n}") for n in range(LINES_PER_FILE)]
        good.extend(f"call-{index}-{n}" for n in range(LINES_PER_FILE))
        return made

    try:
        for index in range(10):
            file_lines = lines(index)
            if index == 4:  # the file with bad lines
                file_lines[1:1] = ['"short","line"', csv_line("no-account", account="")]
            rotate_in(in_dir, f"Master.csv.{index:02d}", file_lines)
        _wait(lambda: len(os.listdir(in_dir)) <= 5)  # some imported, some not yet
        node = _restarted(node, backend)
        slow_lines = lines(10)
        slow = threading.Thread(
            target=_write_slowly, args=(os.path.join(in_dir, "Master.csv.10"), slow_lines, 0.4)
        )
        slow.start()
        for index in range(11, 20):
            rotate_in(in_dir, f"Master.csv.{index:02d}", lines(index))
        slow.join()
        _wait(lambda: not os.listdir(in_dir))
        _check_outcome(node, tmp_path, good)
    finally:
        node.stop()


def _check_outcome(node, tmp_path, good: list[str]) -> None:
    out = sorted(os.listdir(tmp_path / "out"))
    assert out == sorted([f"Master.csv.{i:02d}" for i in range(20)] + ["Master.csv.04.bad"])
    stored = node.cdrs.get_cdrs({})
    assert sorted(cdr["OriginID"] for cdr in stored) == sorted(good)  # each once
    assert {cdr["Cost"] for cdr in stored} == {CALL_COST}
    assert monetary(node, "1001") == 1000 - CALL_COST * len(good)  # charged once each
    bad = (tmp_path / "out" / "Master.csv.04.bad").read_text().splitlines()
    assert bad == [
        "# line 2: INVALID_ARGUMENT: expected 8 fields, got 2",
        '"short","line"',
        "# line 3: MANDATORY_IE_MISSING: [Account]",
        csv_line("no-account", account=""),
    ]
    for index in range(20):
        copied = (tmp_path / "out" / f"Master.csv.{index:02d}").read_text().splitlines()
        assert len(copied) == LINES_PER_FILE  # the good lines, each with its cost
        assert all(line.endswith('"60",0.6') for line in copied)


def test_a_crash_between_storing_and_checkpoint_neither_loses_nor_charges_twice(
    embedded, tmp_path, monkeypatch
):
    (tmp_path / "in").mkdir()
    top_up(embedded, "1001", 100)
    spec = CdrcConfig(
        in_dir=str(tmp_path / "in"), out_dir=str(tmp_path / "out"), template=TEMPLATE, settle=0
    )
    path = rotate_in(spec.in_dir, "Master.csv.1", [csv_line(f"c{n}") for n in range(7)])
    folder = FolderMediator(embedded, spec, threading.Event())
    folder.importer.batch = 3
    from fs_cgr.cdrc import progress

    saves = []
    real_save = progress.Progress.save

    def crash_on_second_save(self, where):
        saves.append(self.lines)
        if len(saves) == 2:
            raise OSError("disk gone")  # batch 2 stored, its checkpoint not written
        real_save(self, where)

    monkeypatch.setattr(progress.Progress, "save", crash_on_second_save)
    assert folder.run_once() == 0 and os.path.exists(path)  # left for a retry
    assert len(embedded.cdrs.get_cdrs({})) == 6
    monkeypatch.setattr(progress.Progress, "save", real_save)
    folder._retry_at.clear()
    assert folder.run_once() == 1
    assert not os.path.exists(path) and os.path.exists(tmp_path / "out" / "Master.csv.1")
    assert sorted(c["OriginID"] for c in embedded.cdrs.get_cdrs({})) == [f"c{n}" for n in range(7)]
    assert monetary(embedded, "1001") == 100 - CALL_COST * 7


def test_polling_waits_for_a_slow_writer_to_go_quiet(embedded, tmp_path):
    (tmp_path / "in").mkdir()
    spec = CdrcConfig(
        in_dir=str(tmp_path / "in"),
        out_dir=str(tmp_path / "out"),
        template=TEMPLATE,
        run_delay=100_000_000,  # poll every 0.1 s: no inotify
        settle=1_000_000_000,
    )
    folder = FolderMediator(embedded, spec, threading.Event())
    assert not folder.watcher.uses_inotify
    lines = [csv_line(f"s{n}", reqtype="*rated") for n in range(5)]
    writer = threading.Thread(
        target=_write_slowly, args=(os.path.join(spec.in_dir, "Master.csv.1"), lines, 0.3)
    )
    writer.start()
    while writer.is_alive():
        assert folder.run_once() == 0  # never mid-write
        time.sleep(0.1)
    _wait(lambda: folder.run_once() == 1, 10)
    assert len(embedded.cdrs.get_cdrs({})) == 5


def test_only_the_worker_holding_the_node_duty_imports(tmp_path, monkeypatch):
    """With ``--workers N`` every worker builds a node; two importers of one folder would
    race over its files, so only worker 0 watches (the others leave the files alone)."""
    spec = {"in_dir": str(tmp_path / "in"), "out_dir": str(tmp_path / "out")}
    (tmp_path / "in").mkdir()
    config = load_config(overrides={"general.data_dir": str(tmp_path), "cdrc": [spec]}, env={})
    for slot, watching in ((1, 0), (0, 1)):
        monkeypatch.setattr(role, "_current", role.WorkerRole(slot=slot, workers=2))
        node = Node(config).start()
        try:
            assert sum(thread.is_alive() for thread in node.cdrc._threads) == watching
        finally:
            node.stop()
