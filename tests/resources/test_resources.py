"""ResourceS: limits, TTLs, blockers and messages as CGrateS v0.10, on both DataDBs, and the
limit holding across two nodes sharing one Redis."""

import threading
import time

import pytest

from fs_cgr.app import Node
from fs_cgr.config import load_config
from fs_cgr.errors import CGRError, NotFound
from fs_cgr.resources.service import ResourceUnauthorized, ResourceUnavailable, UsageRequest

TENANT = "cgrates.org"
EVENT = {"Account": "1001", "Destination": "1002"}


def make_node(tmp_path, backend, request, name="n"):
    overrides = {"general.data_dir": str(tmp_path / name), "stordb.url": "sqlite://:memory:"}
    if backend == "redis":
        overrides["datadb.url"] = f"{request.getfixturevalue('redis_url')}?prefix=fs_cgr_res_test"
    return Node(load_config(overrides=overrides, env={}))


@pytest.fixture(params=["memory", "redis"])
def node(request, tmp_path):
    node = make_node(tmp_path, request.param, request)
    node.datadb.flush()
    yield node
    node.datadb.flush()
    node.stop()


def resource(node, resource_id, limit, ttl="-1", weight=10, **more):
    node.resources.set_profile(
        {"Tenant": TENANT, "ID": resource_id, "FilterIDs": ["*string:~*req.Account:1001"],
         "UsageTTL": ttl, "Limit": limit, "Weight": weight, **more}
    )  # fmt: skip


def usage(usage_id, units=1, **more):
    return UsageRequest(TENANT, EVENT, usage_id, units, **more)


def test_limit_message_and_same_usage_replaced(node):
    resource(node, "RES_A", 3, AllocationMessage="ALLOWED")
    assert node.resources.allocate(usage("u1", 1)) == "ALLOWED"
    assert node.resources.allocate(usage("u1", 2)) == "ALLOWED"  # replaces: 2 used, not 3
    assert node.resources.authorize(usage("u2", 1)) == "ALLOWED"
    with pytest.raises(ResourceUnauthorized):
        node.resources.authorize(usage("u2", 2))
    with pytest.raises(ResourceUnavailable):
        node.resources.allocate(usage("u2", 2))
    got = node.resources.get_resource(TENANT, "RES_A")
    assert got["Usages"] == {"u1": {"Tenant": TENANT, "ID": "u1", "Units": 2,
                                    "ExpiryTime": "0001-01-01T00:00:00Z"}}  # fmt: skip
    node.resources.release(usage("u1"))
    assert node.resources.get_resource(TENANT, "RES_A")["Usages"] == {}


def test_first_resource_with_room_answers_and_every_one_records(node):
    resource(node, "SMALL", 1, weight=20)
    resource(node, "BIG", 5, weight=10)
    assert node.resources.allocate(usage("u1")) == "SMALL"
    assert node.resources.allocate(usage("u2")) == "BIG"  # SMALL full: BIG has room
    found = node.resources.resources_for_event(usage("q"))
    assert [(r["ID"], sorted(r["Usages"])) for r in found] == [
        ("SMALL", ["u1", "u2"]),  # CGrateS records the usage on every matched resource
        ("BIG", ["u1", "u2"]),
    ]


def test_blocker_hides_lower_resources_and_unlimited_limit(node):
    resource(node, "TOP", -1, weight=20, Blocker=True)
    resource(node, "HIDDEN", 0, weight=10)
    for n in range(5):
        assert node.resources.allocate(usage(f"u{n}")) == "TOP"
    assert [r["ID"] for r in node.resources.resources_for_event(usage("q"))] == ["TOP"]


def test_usage_ttl_expires_usages_and_zero_records_nothing(node):
    resource(node, "SHORT", 1, ttl="200ms")
    assert node.resources.allocate(usage("u1")) == "SHORT"
    with pytest.raises(ResourceUnavailable):
        node.resources.allocate(usage("u2"))
    (item,) = node.resources.get_resource(TENANT, "SHORT")["Usages"].values()
    assert item["ExpiryTime"] != "0001-01-01T00:00:00Z"
    time.sleep(0.25)
    assert node.resources.allocate(usage("u2")) == "SHORT"  # u1 expired
    with pytest.raises(CGRError, match="cannot find usage record with id: gone"):
        node.resources.release(usage("gone"))
    resource(node, "SHORT", 1, ttl="0s")
    node.resources.release(usage("u2"))
    node.resources.allocate(usage("u3"))
    assert node.resources.get_resource(TENANT, "SHORT")["Usages"] == {}


def test_no_matching_resource_is_not_found(node):
    resource(node, "RES_A", 1)
    with pytest.raises(NotFound):
        node.resources.allocate(UsageRequest(TENANT, {"Account": "9999"}, "u1"))


def test_no_matching_resource_is_none_when_optional(node):
    """The agent's calls: no profile matching means no limit (None), and nothing recorded."""
    resource(node, "RES_A", 1)
    assert (
        node.resources.allocate(UsageRequest(TENANT, {"Account": "9999"}, "u1"), optional=True)
        is None
    )
    assert node.resources.allocate(usage("u2"), optional=True) == "RES_A"
    assert node.resources.get_resource(TENANT, "RES_A")["Usages"].keys() == {"u2"}


def test_resources_csv_load_and_remove(node, tariffplans_dir):
    node.tariffplans.load_folder(tariffplans_dir / "oldtutorial")
    assert node.resources.profiles.ids(TENANT) == ["ResGroup1", "ResGroup2", "ResGroup3"]
    assert node.resources.get_profile(TENANT, "ResGroup3")["UsageTTL"] == -1
    node.tariffplans.remove_folder(tariffplans_dir / "oldtutorial")
    with pytest.raises(NotFound):
        node.resources.profiles.ids(TENANT)


def test_limit_holds_across_nodes_sharing_one_redis(tmp_path, request):
    nodes = [make_node(tmp_path, "redis", request, f"n{i}") for i in range(2)]
    nodes[0].datadb.flush()
    try:
        resource(nodes[0], "CONC", 5)
        nodes[1].resources.live.refresh()
        granted, barrier = [], threading.Barrier(40)

        def attempt(index):
            barrier.wait()
            try:
                nodes[index % 2].resources.allocate(usage(f"call{index}"))
                granted.append(index)
            except ResourceUnavailable:
                pass

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(granted) == 5
        assert len(nodes[1].resources.get_resource(TENANT, "CONC")["Usages"]) == 5
    finally:
        nodes[0].datadb.flush()
        for node in nodes:
            node.stop()


class Thresholds:
    def __init__(self):
        self.events = []

    def process_event(self, cgr_event, ids=None):
        self.events.append((cgr_event["Event"], ids))
        return ["TH"]


def test_allocations_and_releases_raise_resource_update_events(node):
    node.thresholds = Thresholds()
    resource(node, "WATCHED", 3, ThresholdIDs=["TH_RES"])
    resource(node, "QUIET", 3, weight=5, ThresholdIDs=["*none"])
    node.resources.allocate(usage("u1", 2))
    node.resources.release(usage("u1"))
    assert node.thresholds.events == [
        ({"EventType": "ResourceUpdate", "ResourceID": "WATCHED", "Usage": 2}, ["TH_RES"]),
        ({"EventType": "ResourceUpdate", "ResourceID": "WATCHED", "Usage": 0}, ["TH_RES"]),
    ]


def test_a_profile_another_node_sets_or_removes_is_seen_without_a_refresh(tmp_path, request):
    """The profile lists a node keeps per tenant follow the DataDB: another node's set and
    remove show at its next look at the live version (every 0.5 s), no refresh asked."""
    nodes = [make_node(tmp_path, "redis", request, f"n{i}") for i in range(2)]
    nodes[0].datadb.flush()
    reader, writer = nodes

    def seen(expected: str, tenant: str = TENANT) -> bool:
        deadline = time.monotonic() + 5.0
        while True:
            try:
                answer = reader.resources.authorize(UsageRequest(tenant, EVENT, "u1"))
            except NotFound:
                answer = "NOT_FOUND"
            if answer == expected or time.monotonic() > deadline:
                return answer == expected
            time.sleep(0.05)

    try:
        with pytest.raises(NotFound):
            reader.resources.authorize(usage("u1"))  # the (empty) list is kept now
        resource(writer, "RES_A", 1, AllocationMessage="A")
        assert seen("A")
        resource(writer, "RES_B", 1, weight=20, AllocationMessage="B")
        assert seen("B")
        writer.resources.set_profile(  # another tenant's profile changes nothing here
            {"Tenant": "other.org", "ID": "RES_C", "Limit": 1, "Weight": 90,
             "AllocationMessage": "C"}
        )  # fmt: skip
        assert seen("C", "other.org")
        assert seen("B")
        writer.resources.remove_profile(TENANT, "RES_B")
        assert seen("A")
        writer.resources.remove_profile(TENANT, "RES_A")
        assert seen("NOT_FOUND")
    finally:
        nodes[0].datadb.flush()
        for node in nodes:
            node.stop()
