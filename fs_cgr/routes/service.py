"""RouteS: which carriers a call should try, best first (CGrateS' SupplierS / RouteS).

Route profiles are live objects (kind ``routes``, id ``tenant:ID``, loaded from
Routes.csv / Suppliers.csv or set through the API). For an event the active profile
whose FilterIDs pass and whose Weight is highest wins; its routes that pass their own
FilterIDs are then sorted:

``*weight``       route Weight, highest first
``*lc``           cost on the route's RatingPlanIDs, cheapest first, ties by Weight
``*hc``           the same, dearest first

A route is priced when it names RatingPlanIDs (the first plan that rates the call),
for ``Usage`` (1m when the event has none) from ``SetupTime``. Under the cost sortings
a route no plan rates is left out; ``*weight`` keeps it without a Cost. Deviations from
CGrateS: AccountIDs (pricing on the carrier's account balances) and route Blocker are
not supported, ``*qos``/``*reas``/``*reds``/``*load`` are refused as unsupported.
"""

from datetime import datetime
from decimal import Decimal

from fs_cgr.durations import MINUTE, parse_duration
from fs_cgr.errors import InvalidArgument, MandatoryMissing, NotFound, ServerError, require
from fs_cgr.filters import FilterEngine, LiveObjects, is_active
from fs_cgr.money import to_decimal
from fs_cgr.profiles import PerLoad, tenant_docs
from fs_cgr.profiles import id_list as _list
from fs_cgr.profiles import weight as _json_number
from fs_cgr.routes.pricing import cost_on_rating_plans
from fs_cgr.storage.base import ROUTES
from fs_cgr.times import now as utc_now
from fs_cgr.times import parse_time

WEIGHT = "*weight"
LEAST_COST = "*lc"
HIGHEST_COST = "*hc"
_SORTING_NAMES = {
    WEIGHT: WEIGHT,
    LEAST_COST: LEAST_COST,
    "*least_cost": LEAST_COST,
    HIGHEST_COST: HIGHEST_COST,
    "*highest_cost": HIGHEST_COST,
}
DEFAULT_USAGE = MINUTE
MAX_WEIGHTS_KEPT = 4096  # route Weights kept converted
_ROUTE_LISTS = ("FilterIDs", "AccountIDs", "RatingPlanIDs", "ResourceIDs", "StatIDs")


class RouteService:
    def __init__(self, node, live: LiveObjects | None = None):
        self.node = node
        self.live = live or LiveObjects(node.datadb, rating=node.rating)
        self.filters = FilterEngine(node, self.live)
        self._ranked_by_tenant = PerLoad()
        self._weights: dict[int, tuple[dict, Decimal]] = {}  # id(route) -> (route, Weight)

    # -- profiles (live objects) -------------------------------------------------
    def set_profile(self, profile: dict) -> None:
        doc = normalize_profile(profile)
        self.node.tariffplans.apply_live([(ROUTES, f"{doc['Tenant']}:{doc['ID']}", doc)])
        self.live.refresh()

    def get_profile(self, tenant: str, profile_id: str) -> dict:
        self.live.refresh()
        doc = self.live.kind(ROUTES).get(f"{tenant}:{profile_id}")
        if doc is None:
            raise NotFound()
        return doc

    def remove_profile(self, tenant: str, profile_id: str) -> None:
        self.get_profile(tenant, profile_id)
        self.node.tariffplans.apply_live([(ROUTES, f"{tenant}:{profile_id}", None)])
        self.live.refresh()

    def profile_ids(self, tenant: str) -> list[str]:
        self.live.refresh()
        prefix = tenant + ":"
        ids = sorted(key[len(prefix) :] for key in self.live.kind(ROUTES) if key.startswith(prefix))
        if not ids:
            raise NotFound()
        return ids

    # -- events ----------------------------------------------------------------------
    def matching_profiles(self, tenant: str, event: dict, now: datetime | None = None) -> list:
        """Active profiles whose filters pass, highest Weight first (ties by ID)."""
        moment = now or utc_now()
        found = [
            doc
            for doc in self._ranked(tenant)
            if is_active(doc.get("ActivationInterval"), moment)
            and self.filters.matches(tenant, doc.get("FilterIDs"), event, moment)
        ]
        if not found:
            raise NotFound()
        return found

    def _ranked(self, tenant: str) -> list[dict]:
        """The tenant's profiles, highest Weight first (ties by ID), kept until the live
        documents are read again (each load makes new dicts, never changed after)."""
        docs = self.live.kind(ROUTES)
        return self._ranked_by_tenant.get(docs, tenant, lambda: _by_weight(docs, tenant))

    def get_routes(
        self,
        tenant: str,
        event: dict,
        now: datetime | None = None,
        ignore_errors: bool = False,
        max_cost=None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> dict:
        """RouteSv1.GetRoutes: ``{ProfileID, Sorting, Count, SortedRoutes}``.

        NotFound when no profile matches, or when a cost sorting has no priced route.
        """
        moment = now or utc_now()
        profile = self.matching_profiles(tenant, event, moment)[0]
        sorting = _SORTING_NAMES.get(profile.get("Sorting") or WEIGHT)
        if sorting is None:
            raise ServerError(f"unsupported sorting strategy: {profile.get('Sorting')}")
        limit_cost = _max_cost(max_cost)
        routes = []
        for route in profile.get("Routes") or ():
            if sorting != WEIGHT and not route.get("RatingPlanIDs"):
                raise ServerError(MandatoryMissing("RatingPlanIDs").message)
            if not self.filters.matches(tenant, route.get("FilterIDs"), event, moment):
                continue
            sorted_route = self._sorting_data(tenant, event, route, ignore_errors)
            if sorted_route is None:
                continue
            cost = sorted_route["SortingData"].get("Cost")
            if cost is None and sorting != WEIGHT:
                continue
            if cost is not None and limit_cost is not None and cost > limit_cost:
                continue
            routes.append(sorted_route)
        if sorting != WEIGHT and not routes:
            raise NotFound()
        routes = _sorted(sorting, routes)[offset or 0 :]
        if limit is not None:
            routes = routes[:limit]
        return {
            "ProfileID": profile["ID"],
            "Sorting": sorting,
            "Count": len(routes),
            "SortedRoutes": routes,
        }

    def _sorting_data(self, tenant: str, event: dict, route: dict, ignore_errors: bool):
        """The route with its SortingData (Weight, and Cost/RatingPlanID when priced);
        None when pricing failed and errors are ignored."""
        data = {"Weight": self._weight(route)}
        if route.get("RatingPlanIDs"):
            try:
                priced = self._price(tenant, event, route["RatingPlanIDs"])
            except (MandatoryMissing, ValueError) as exc:
                if ignore_errors:
                    return None
                raise ServerError(getattr(exc, "message", str(exc))) from None
            if priced is not None:
                data["Cost"], data["RatingPlanID"] = priced
        return {
            "RouteID": route["ID"],
            "RouteParameters": route.get("RouteParameters") or "",
            "SortingData": data,
        }

    def _weight(self, route: dict) -> Decimal:
        """A route's Weight as Decimal, converted once per route document (kept with the
        document itself, so an id can never name another one)."""
        kept = self._weights.get(id(route))
        if kept is not None and kept[0] is route:
            return kept[1]
        weight = to_decimal(route.get("Weight"))
        if len(self._weights) >= MAX_WEIGHTS_KEPT:
            self._weights.clear()
        self._weights[id(route)] = (route, weight)
        return weight

    def _price(self, tenant: str, event: dict, plan_ids) -> tuple[Decimal, str] | None:
        require(event, ("Account", "Destination", "SetupTime"))
        usage = event.get("Usage")
        return cost_on_rating_plans(
            self.node.rating.engine.data,
            tenant,
            str(event["Account"]),
            str(event["Destination"]),
            parse_time(event["SetupTime"]),
            DEFAULT_USAGE if usage in (None, "") else parse_duration(usage),
            plan_ids,
        )


def _max_cost(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return to_decimal(value)
    except ValueError:
        raise InvalidArgument(f"MaxCost must be a number (*event_cost is not supported): {value!r}")


def _sorted(sorting: str, routes: list[dict]) -> list[dict]:
    """Stable: routes that tie keep the profile's order."""

    def weight(route):
        return -route["SortingData"]["Weight"]

    if sorting == WEIGHT:
        return sorted(routes, key=weight)
    sign = 1 if sorting == LEAST_COST else -1
    return sorted(routes, key=lambda r: (sign * r["SortingData"]["Cost"], weight(r)))


def format_cgr_routes(route_ids) -> str:
    """The cgr_routes channel variable: ``ARRAY::<count>|:best|:next...`` (CGrateS' form,
    so ``${cgr_routes[1]}`` is the best route). No routes: "" (set no variable)."""
    if not route_ids:
        return ""
    for route_id in route_ids:
        if not route_id or "|" in route_id or "\n" in route_id or " " in route_id:
            raise InvalidArgument(f"route {route_id!r} cannot go into a FreeSWITCH array")
    return f"ARRAY::{len(route_ids)}|:" + "|:".join(route_ids)


def route_ids(reply: dict) -> list[str]:
    """Routes of a GetRoutes reply as the channel gets them: ``ID`` or ``ID:parameters``."""
    return [
        route["RouteID"] + (":" + route["RouteParameters"] if route["RouteParameters"] else "")
        for route in reply["SortedRoutes"]
    ]


def normalize_profile(profile: dict) -> dict:
    """A RouteProfile as the API sends it (or CGrateS v0.10's SupplierProfile), as stored."""
    if not isinstance(profile, dict):
        raise MandatoryMissing("Tenant", "ID")
    require(profile, ("Tenant", "ID"))
    routes = profile.get("Routes")
    if routes is None:
        routes = [supplier_as_route(s) for s in profile.get("Suppliers") or ()]
    if not isinstance(routes, list) or not all(isinstance(r, dict) and r.get("ID") for r in routes):
        raise InvalidArgument("Routes must be a list of objects with an ID")
    sorting = profile.get("Sorting") or WEIGHT
    if sorting not in _SORTING_NAMES:
        raise InvalidArgument(f"unsupported sorting strategy: {sorting}")
    return {
        "Tenant": str(profile["Tenant"]),
        "ID": str(profile["ID"]),
        "FilterIDs": _list(profile.get("FilterIDs")),
        "ActivationInterval": profile.get("ActivationInterval") or None,
        "Sorting": sorting,
        "SortingParameters": _list(profile.get("SortingParameters")),
        "Routes": [_route(route) for route in routes],
        "Weight": _json_number(profile.get("Weight")),
    }


def _route(route: dict) -> dict:
    doc = {"ID": str(route["ID"])}
    doc.update({name: _list(route.get(name)) for name in _ROUTE_LISTS})
    doc["Weight"] = _json_number(route.get("Weight"))
    doc["Blocker"] = bool(route.get("Blocker"))
    doc["RouteParameters"] = str(route.get("RouteParameters") or "")
    return doc


def supplier_as_route(supplier: dict) -> dict:
    """CGrateS v0.10 names (SupplierParameters) to v0.11 ones (RouteParameters)."""
    route = dict(supplier)
    route["RouteParameters"] = route.pop("SupplierParameters", "")
    return route


def route_as_supplier(route: dict) -> dict:
    supplier = dict(route)
    supplier["SupplierParameters"] = supplier.pop("RouteParameters", "")
    return supplier


def _by_weight(docs: dict, tenant: str) -> list[dict]:
    """The tenant's route profiles, highest Weight first (ties by ID)."""
    return sorted(
        tenant_docs(docs, tenant), key=lambda doc: (-to_decimal(doc.get("Weight")), doc["ID"])
    )
