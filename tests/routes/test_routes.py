"""RouteS: profile matching, *weight / *lc / *hc orders (costs computed by hand), the
cgr_routes channel form and the JSON-RPC methods, on a real embedded node.

Carrier rates of the hand-written plan (all for destination prefix 1002):
  RP_FEE   connect fee 1.00 + 0.30/min per second   1m: 1.30   10m: 4.00
  RP_FLAT  no fee, 1.20/min per second              1m: 1.20   10m: 12.00
  RP_DEAR  connect fee 0.50 + 1.50/min per minute   1m: 2.00   10m: 15.50
  RP_DE    rates only prefix 49, so it cannot price 1002
"""

from datetime import datetime
from decimal import Decimal as D

import pytest

from fs_cgr.api.registry import load_method_modules, resolve
from fs_cgr.app import Node
from fs_cgr.config import load_config
from fs_cgr.errors import CGRError, InvalidArgument, NotFound, ServerError
from fs_cgr.routes.service import format_cgr_routes, route_ids
from fs_cgr.storage.base import DESTINATION_RATES, DESTINATIONS, RATES, RATING_PLANS
from fs_cgr.times import UTC

TENANT = "cgrates.org"
SETUP = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _plan(plan_id: str, destination: str, connect_fee, rate, increment: str):
    return [
        (RATES, f"RT_{plan_id}", {"ID": f"RT_{plan_id}", "RateSlots": [
            {"ConnectFee": connect_fee, "Rate": rate, "RateUnit": "60s",
             "RateIncrement": increment, "GroupIntervalStart": "0s"}]}),
        (DESTINATION_RATES, f"DR_{plan_id}", {"ID": f"DR_{plan_id}", "DestinationRates": [
            {"DestinationId": destination, "RateId": f"RT_{plan_id}", "RoundingMethod": "*up",
             "RoundingDecimals": 4, "MaxCost": 0, "MaxCostStrategy": ""}]}),
        (RATING_PLANS, f"RP_{plan_id}", {"ID": f"RP_{plan_id}", "RatingPlanBindings": [
            {"DestinationRatesId": f"DR_{plan_id}", "TimingId": "*any", "Weight": 10}]}),
    ]  # fmt: skip


def _route(route_id, plans=(), weight=0, filters=(), parameters=""):
    return {"ID": route_id, "RatingPlanIDs": list(plans), "Weight": weight,
            "FilterIDs": list(filters), "RouteParameters": parameters}  # fmt: skip


COST_ROUTES = [
    _route("dear", ["RP_DEAR"], weight=30),
    _route("fee", ["RP_FEE"], weight=10),
    _route("flat", ["RP_FLAT"], weight=20),
    _route("germany_only", ["RP_DE"], weight=50),
    _route("flat_second_plan", ["RP_DE", "RP_FLAT"], weight=5),
]


@pytest.fixture
def node(tmp_path):
    config = load_config(
        overrides={
            "general.data_dir": str(tmp_path),
            "stordb.url": "sqlite://:memory:",
        },
        env={},
    )
    node = Node(config)
    changes = [
        (DESTINATIONS, "DST_1002", {"ID": "DST_1002", "Prefixes": ["1002"]}),
        (DESTINATIONS, "DST_49", {"ID": "DST_49", "Prefixes": ["49"]}),
        *_plan("FEE", "DST_1002", "1", "0.3", "1s"),
        *_plan("FLAT", "DST_1002", "0", "1.2", "1s"),
        *_plan("DEAR", "DST_1002", "0.5", "1.5", "60s"),
        *_plan("DE", "DST_49", "0", "0.1", "1s"),
    ]
    node.tariffplans.apply_live(changes)
    yield node
    node.stop()


def profile(profile_id, sorting, routes, weight=10, filters=("*string:~*req.Account:1001",)):
    return {"Tenant": TENANT, "ID": profile_id, "FilterIDs": list(filters),
            "Sorting": sorting, "Routes": routes, "Weight": weight}  # fmt: skip


def call_event(account="1001", destination="1002", usage=None):
    event = {"Account": account, "Destination": destination, "SetupTime": SETUP}
    if usage is not None:
        event["Usage"] = usage
    return event


def order(reply):
    return [(r["RouteID"], r["SortingData"].get("Cost")) for r in reply["SortedRoutes"]]


@pytest.mark.parametrize("sorting", ["*lc", "*least_cost"])
def test_least_cost_for_one_minute(node, sorting):
    node.routes.set_profile(profile("LC", sorting, COST_ROUTES))
    reply = node.routes.get_routes(TENANT, call_event())
    assert reply["ProfileID"] == "LC" and reply["Sorting"] == "*lc" and reply["Count"] == 4
    # germany_only: no plan rates 1002, left out; the flat tie goes to the higher weight
    assert order(reply) == [
        ("flat", D("1.2")),
        ("flat_second_plan", D("1.2")),
        ("fee", D("1.3")),
        ("dear", 2),
    ]
    second = reply["SortedRoutes"][1]["SortingData"]
    assert second == {"Weight": 5, "Cost": D("1.2"), "RatingPlanID": "RP_FLAT"}


def test_least_cost_depends_on_usage(node):
    node.routes.set_profile(profile("LC", "*lc", COST_ROUTES))
    reply = node.routes.get_routes(TENANT, call_event(usage="10m"))
    assert order(reply) == [("fee", 4), ("flat", 12), ("flat_second_plan", 12), ("dear", D("15.5"))]


def test_highest_cost(node):
    node.routes.set_profile(profile("HC", "*highest_cost", COST_ROUTES))
    reply = node.routes.get_routes(TENANT, call_event())
    assert reply["Sorting"] == "*hc"
    assert order(reply) == [
        ("dear", 2),
        ("fee", D("1.3")),
        ("flat", D("1.2")),
        ("flat_second_plan", D("1.2")),
    ]


def test_max_cost_drops_dearer_routes(node):
    node.routes.set_profile(profile("LC", "*lc", COST_ROUTES))
    reply = node.routes.get_routes(TENANT, call_event(), max_cost="1.25")
    assert order(reply) == [("flat", D("1.2")), ("flat_second_plan", D("1.2"))]
    with pytest.raises(InvalidArgument):
        node.routes.get_routes(TENANT, call_event(), max_cost="*event_cost")


def test_weight_sorting_with_route_filters(node):
    routes = [
        _route("a", weight=10),
        _route("b", weight=30),
        _route("c", weight=20, filters=["*prefix:~*req.Destination:49"]),
    ]
    node.routes.set_profile(profile("W", "*weight", routes))
    assert order(node.routes.get_routes(TENANT, call_event())) == [("b", None), ("a", None)]
    reply = node.routes.get_routes(TENANT, call_event(destination="4930"))
    assert order(reply) == [("b", None), ("c", None), ("a", None)]
    assert reply["SortedRoutes"][0]["SortingData"] == {"Weight": 30}


def test_weight_sorting_keeps_unrated_routes_and_shows_costs(node):
    routes = [_route("germany_only", ["RP_DE"], weight=50), _route("fee", ["RP_FEE"], weight=10)]
    node.routes.set_profile(profile("W", "*weight", routes))
    assert order(node.routes.get_routes(TENANT, call_event())) == [
        ("germany_only", None),
        ("fee", D("1.3")),
    ]


def test_highest_weight_active_profile_wins(node):
    node.routes.set_profile(profile("LOW", "*weight", [_route("low")], weight=10))
    node.routes.set_profile(profile("HIGH", "*weight", [_route("high")], weight=20))
    future = profile("FUTURE", "*weight", [_route("future")], weight=99)
    future["ActivationInterval"] = {"ActivationTime": "2099-01-01T00:00:00Z"}
    node.routes.set_profile(future)
    node.routes.set_profile(
        profile("OTHER", "*weight", [_route("x")], 50, ["*string:~*req.Account:9"])
    )
    assert node.routes.get_routes(TENANT, call_event())["ProfileID"] == "HIGH"
    matching = node.routes.matching_profiles(TENANT, call_event())
    assert [doc["ID"] for doc in matching] == ["HIGH", "LOW"]


def test_profile_ranking_kept_between_events_follows_every_change(node):
    """The tenant's profiles stay ranked between events; a set (a new Weight too), a
    remove or another tenant's profile shows in the next event."""

    def ranked(tenant=TENANT):
        return [doc["ID"] for doc in node.routes.matching_profiles(tenant, call_event())]

    node.routes.set_profile(profile("A", "*weight", [_route("a")], weight=10))
    assert ranked() == ["A"]
    node.routes.set_profile(profile("B", "*weight", [_route("b")], weight=20))
    assert ranked() == ["B", "A"]
    node.routes.set_profile(profile("A", "*weight", [_route("a")], weight=30))
    assert ranked() == ["A", "B"]
    assert node.routes.get_routes(TENANT, call_event())["ProfileID"] == "A"
    node.routes.set_profile({**profile("O", "*weight", [_route("o")], 99), "Tenant": "o.org"})
    assert ranked("o.org") == ["O"]
    assert ranked() == ["A", "B"]
    node.routes.remove_profile(TENANT, "A")
    assert ranked() == ["B"]
    node.routes.remove_profile(TENANT, "B")
    with pytest.raises(NotFound):
        ranked()


def test_offset_and_limit(node):
    node.routes.set_profile(profile("LC", "*lc", COST_ROUTES))
    reply = node.routes.get_routes(TENANT, call_event(), offset=1, limit=2)
    assert reply["Count"] == 2 and order(reply) == [
        ("flat_second_plan", D("1.2")),
        ("fee", D("1.3")),
    ]


def test_no_matching_profile_is_not_found(node):
    node.routes.set_profile(profile("LC", "*lc", COST_ROUTES))
    with pytest.raises(NotFound):
        node.routes.get_routes(TENANT, call_event(account="1002"))


def test_cost_sorting_without_any_priced_route_is_not_found(node):
    node.routes.set_profile(profile("LC", "*lc", [_route("germany_only", ["RP_DE"])]))
    with pytest.raises(NotFound):
        node.routes.get_routes(TENANT, call_event())


def test_cost_sorting_needs_rating_plans_on_every_route(node):
    node.routes.set_profile(profile("LC", "*lc", [_route("fee", ["RP_FEE"]), _route("bare")]))
    with pytest.raises(ServerError) as error:
        node.routes.get_routes(TENANT, call_event())
    assert error.value.message == "SERVER_ERROR: MANDATORY_IE_MISSING: [RatingPlanIDs]"


def test_pricing_needs_setup_time_unless_errors_are_ignored(node):
    node.routes.set_profile(profile("LC", "*lc", COST_ROUTES))
    event = {"Account": "1001", "Destination": "1002"}
    with pytest.raises(ServerError) as error:
        node.routes.get_routes(TENANT, event)
    assert error.value.message == "SERVER_ERROR: MANDATORY_IE_MISSING: [SetupTime]"
    with pytest.raises(NotFound):
        node.routes.get_routes(TENANT, event, ignore_errors=True)


def test_unsupported_sorting_is_refused(node):
    with pytest.raises(InvalidArgument):
        node.routes.set_profile(profile("Q", "*qos", [_route("a")]))


def test_cgr_routes_channel_form():
    assert format_cgr_routes(["supplier2", "supplier1"]) == "ARRAY::2|:supplier2|:supplier1"
    assert format_cgr_routes(["only"]) == "ARRAY::1|:only"
    assert format_cgr_routes([]) == ""
    with pytest.raises(InvalidArgument):
        format_cgr_routes(["a|b"])


def test_route_ids_carry_route_parameters(node):
    routes = [_route("gw1", weight=20, parameters="prefix=00"), _route("gw2", weight=10)]
    node.routes.set_profile(profile("W", "*weight", routes))
    ids = route_ids(node.routes.get_routes(TENANT, call_event()))
    assert ids == ["gw1:prefix=00", "gw2"]
    assert format_cgr_routes(ids) == "ARRAY::2|:gw1:prefix=00|:gw2"


# -- JSON-RPC methods ------------------------------------------------------------


def rpc(node, method: str, params: dict):
    load_method_modules()
    return resolve(method)(node, params)


def test_profile_methods(node):
    doc = profile("LC", "*lc", COST_ROUTES)
    assert rpc(node, "APIerSv1.SetRouteProfile", doc) == "OK"
    stored = rpc(node, "APIerSv1.GetRouteProfile", {"Tenant": TENANT, "ID": "LC"})
    assert [r["ID"] for r in stored["Routes"]] == [r["ID"] for r in COST_ROUTES]
    assert stored["Routes"][4]["RatingPlanIDs"] == ["RP_DE", "RP_FLAT"]
    assert rpc(node, "APIerSv1.GetRouteProfileIDs", {"Tenant": TENANT}) == ["LC"]
    assert rpc(node, "APIerSv1.RemoveRouteProfile", {"Tenant": TENANT, "ID": "LC"}) == "OK"
    for method, params in [
        ("APIerSv1.GetRouteProfile", {"Tenant": TENANT, "ID": "LC"}),
        ("APIerSv1.GetRouteProfileIDs", {"Tenant": TENANT}),
        ("APIerSv1.RemoveRouteProfile", {"Tenant": TENANT, "ID": "LC"}),
    ]:
        with pytest.raises(NotFound):
            rpc(node, method, params)


def test_get_routes_method(node):
    rpc(node, "APIerSv1.SetRouteProfile", profile("LC", "*lc", COST_ROUTES))
    params = {"Tenant": TENANT, "ID": "ev1", "Limit": 1,
              "Event": {"Account": "1001", "Destination": "1002",
                        "SetupTime": "2026-11-22T10:00:00Z", "Usage": "10m"}}  # fmt: skip
    reply = rpc(node, "RouteSv1.GetRoutes", params)
    assert reply == {
        "ProfileID": "LC",
        "Sorting": "*lc",
        "Count": 1,
        "SortedRoutes": [
            {
                "RouteID": "fee",
                "RouteParameters": "",
                "SortingData": {"Weight": 10, "Cost": 4, "RatingPlanID": "RP_FEE"},
            }
        ],
    }


def test_v010_supplier_names(node):
    suppliers = [{"ID": "s1", "Weight": 10, "SupplierParameters": "p1"}, {"ID": "s2", "Weight": 20}]
    supplier_profile = {"Tenant": TENANT, "ID": "SPL", "Sorting": "*weight", "Suppliers": suppliers}
    assert rpc(node, "APIerSv1.SetSupplierProfile", supplier_profile) == "OK"
    stored = rpc(node, "APIerSv1.GetSupplierProfile", {"Tenant": TENANT, "ID": "SPL"})
    assert [(s["ID"], s["SupplierParameters"]) for s in stored["Suppliers"]] == [
        ("s1", "p1"),
        ("s2", ""),
    ]
    reply = rpc(node, "SupplierSv1.GetSuppliers", {"Tenant": TENANT, "Event": call_event()})
    assert [(s["SupplierID"], s["SupplierParameters"]) for s in reply["SortedSuppliers"]] == [
        ("s2", ""),
        ("s1", "p1"),
    ]
    assert reply["Count"] == 2 and "SortedRoutes" not in reply


def test_bad_requests_change_nothing(node):
    with pytest.raises(CGRError) as error:
        rpc(node, "APIerSv1.SetRouteProfile", {"Tenant": TENANT, "Routes": []})
    assert error.value.message == "MANDATORY_IE_MISSING: [ID]"
    with pytest.raises(InvalidArgument):
        rpc(node, "APIerSv1.SetRouteProfile", {"ID": "X", "Routes": [{"ID": "a", "Weight": "x"}]})
    with pytest.raises(CGRError):
        rpc(node, "RouteSv1.GetRoutes", {"Tenant": TENANT})
    with pytest.raises(NotFound):
        rpc(node, "APIerSv1.GetRouteProfileIDs", {"Tenant": TENANT})


@pytest.mark.shared
def test_cgrates_tutorial_suppliers(node, tariffplans_dir):
    """Suppliers.csv of the CGrateS tutorial: SPL_ACNT_1002 sorts by *lc on RP_1002_LOW
    (0.2 fee + 0.1/min) against RP_1002 (0.4 fee + 0.2/min), for a call to 1001."""
    node.tariffplans.load_folder(tariffplans_dir / "cgrates_tutorial")
    event = {"Account": "1002", "Destination": "1001", "SetupTime": SETUP}
    reply = node.routes.get_routes(TENANT, event)
    assert reply["ProfileID"] == "SPL_ACNT_1002"
    assert order(reply) == [("supplier1", D("0.3")), ("supplier2", D("0.6"))]
    by_weight = node.routes.get_routes(TENANT, dict(event, Account="1001"))
    assert format_cgr_routes(route_ids(by_weight)) == "ARRAY::2|:supplier2|:supplier1"
