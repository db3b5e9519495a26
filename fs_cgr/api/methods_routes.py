"""RouteS over JSON-RPC: CGrateS v0.11 names (RouteSv1, *RouteProfile) and v0.10 ones
(SupplierSv1, *SupplierProfile), which differ only in field names."""

from fs_cgr.api.params import tenant as _tenant
from fs_cgr.api.params import tenant_id as _tenant_id
from fs_cgr.api.registry import rpc
from fs_cgr.errors import InvalidArgument, MandatoryMissing
from fs_cgr.routes.service import route_as_supplier, supplier_as_route
from fs_cgr.times import parse_time

OK = "OK"


def _event(params: dict) -> dict:
    event = params.get("Event")
    if not isinstance(event, dict):
        raise MandatoryMissing("Event")
    return event


def _optional_int(params: dict, name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgument(f"{name} must be a non-negative integer")
    return value


def _routes(node, params: dict) -> dict:
    try:
        moment = parse_time(params.get("Time"))
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    return node.routes.get_routes(
        _tenant(node, params),
        _event(params),
        now=moment,
        ignore_errors=bool(params.get("IgnoreErrors")),
        max_cost=params.get("MaxCost"),
        offset=_optional_int(params, "Offset"),
        limit=_optional_int(params, "Limit"),
    )


@rpc("RouteSv1.GetRoutes")
def get_routes(node, params: dict) -> dict:
    return _routes(node, params)


@rpc("SupplierSv1.GetSuppliers")
def get_suppliers(node, params: dict) -> dict:
    reply = _routes(node, params)
    suppliers = [
        {
            "SupplierID": route["RouteID"],
            "SupplierParameters": route["RouteParameters"],
            "SortingData": route["SortingData"],
        }
        for route in reply.pop("SortedRoutes")
    ]
    return {**reply, "SortedSuppliers": suppliers}


@rpc("RouteSv1.GetRouteProfilesForEvent")
def get_route_profiles_for_event(node, params: dict) -> list[dict]:
    return node.routes.matching_profiles(_tenant(node, params), _event(params))


@rpc("SupplierSv1.GetSupplierProfilesForEvent")
def get_supplier_profiles_for_event(node, params: dict) -> list[dict]:
    return [_as_supplier_profile(doc) for doc in get_route_profiles_for_event(node, params)]


# -- profiles (live objects) -------------------------------------------------------
@rpc("APIerSv1.SetRouteProfile")
def set_route_profile(node, params: dict) -> str:
    node.routes.set_profile({**params, "Tenant": _tenant(node, params)})
    return OK


@rpc("APIerSv1.SetSupplierProfile")
def set_supplier_profile(node, params: dict) -> str:
    profile = {key: value for key, value in params.items() if key != "Suppliers"}
    profile["Routes"] = [supplier_as_route(s) for s in params.get("Suppliers") or ()]
    return set_route_profile(node, profile)


@rpc("APIerSv1.GetRouteProfile")
def get_route_profile(node, params: dict) -> dict:
    return node.routes.get_profile(*_tenant_id(node, params))


@rpc("APIerSv1.GetSupplierProfile")
def get_supplier_profile(node, params: dict) -> dict:
    return _as_supplier_profile(get_route_profile(node, params))


@rpc("APIerSv1.RemoveRouteProfile")
def remove_route_profile(node, params: dict) -> str:
    node.routes.remove_profile(*_tenant_id(node, params))
    return OK


@rpc("APIerSv1.RemoveSupplierProfile")
def remove_supplier_profile(node, params: dict) -> str:
    return remove_route_profile(node, params)


@rpc("APIerSv1.GetRouteProfileIDs")
def get_route_profile_ids(node, params: dict) -> list[str]:
    return node.routes.profile_ids(_tenant(node, params))


@rpc("APIerSv1.GetSupplierProfileIDs")
def get_supplier_profile_ids(node, params: dict) -> list[str]:
    return get_route_profile_ids(node, params)


def _as_supplier_profile(doc: dict) -> dict:
    profile = {key: value for key, value in doc.items() if key != "Routes"}
    profile["Suppliers"] = [route_as_supplier(route) for route in doc.get("Routes") or ()]
    return profile
