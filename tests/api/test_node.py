"""The node's live rating follows the DataDB, also when another node changed it."""

import logging
import time
from decimal import Decimal

from fs_cgr.app import LiveRating, Node
from fs_cgr.config import load_config
from fs_cgr.rating import CallDescriptor, load_folder
from fs_cgr.storage import open_datadb
from fs_cgr.times import parse_time

from .helpers import EXAMPLE_PLAN, PEAK


def _price(engine, subject="1002", destination="4915112345678", seconds=150) -> Decimal:
    cd = CallDescriptor(
        "cgrates.org", "call", subject, destination, parse_time(PEAK), usage=seconds * 10**9
    )
    return engine.get_cost(cd).cost


def _write_example(datadb) -> None:
    plan = load_folder(EXAMPLE_PLAN).live
    datadb.write_live((kind, key, doc) for kind, docs in plan.items() for key, doc in docs.items())


def _wait_for(predicate, seconds=3.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_engine_follows_changes_written_elsewhere():
    datadb = open_datadb("internal://")
    rating = LiveRating(datadb, check_interval=0.05)
    empty = rating.engine
    assert not empty.has_rating_profile("cgrates.org", "call", "*any")
    _write_example(datadb)
    assert _wait_for(lambda: rating.engine is not empty)
    assert _price(rating.engine) == Decimal("0.4")
    assert rating.version == datadb.live_version()


def test_uncompilable_live_data_keeps_the_last_good_engine(caplog):
    datadb = open_datadb("internal://")
    _write_example(datadb)
    rating = LiveRating(datadb, check_interval=0.0)
    good = rating.engine
    datadb.write_live([("rating_plans", "RP_VIP", None)])  # RP_VIP is still used by 1001
    with caplog.at_level(logging.ERROR):
        assert rating.engine is good
    assert "do not compile" in caplog.text
    assert _price(rating.engine, subject="1001") == Decimal("0.15")


def test_two_nodes_share_one_redis_datadb(redis_url, tmp_path):
    overrides = {
        "general.data_dir": str(tmp_path),
        "datadb.url": f"{redis_url}?prefix=fs_cgr_node_test",
        "stordb.url": f"sqlite:///{tmp_path}/stordb.sqlite",
    }
    first = Node(load_config(overrides=overrides, env={}))
    second = Node(load_config(overrides=overrides, env={}))
    try:
        first.datadb.flush()
        first.rating.refresh()
        second.rating.refresh()
        first.tariffplans.load_folder(EXAMPLE_PLAN)
        assert _price(first.rating.engine) == Decimal("0.4")  # at once on the writer
        assert _wait_for(
            lambda: second.rating.engine.has_rating_profile("cgrates.org", "call", "*any")
        )  # within LIVE_CHECK_INTERVAL on the other
        assert _price(second.rating.engine) == Decimal("0.4")
    finally:
        first.datadb.flush()
        first.stop()
        second.stop()
