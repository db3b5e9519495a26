"""ResourceS over JSON-RPC: ResourceSv1.* and the APIerSv1 profile methods (CGrateS v0.10
shapes and errors: RESOURCE_UNAVAILABLE, RESOURCE_UNAUTHORIZED)."""

from fs_cgr.api.methods_attributes import event_time
from fs_cgr.api.params import tenant, tenant_id
from fs_cgr.api.profile_methods import OK, register_profile_methods
from fs_cgr.api.registry import rpc
from fs_cgr.durations import parse_duration
from fs_cgr.errors import InvalidArgument, MandatoryMissing
from fs_cgr.resources.service import UsageRequest


def usage_request(node, params: dict) -> UsageRequest:
    """ArgRSv1ResourceUsage: a CGREvent (ID, Event) with UsageID, Units and UsageTTL."""
    missing = [name for name in ("ID", "Event") if not params.get(name)]
    if missing:
        raise MandatoryMissing(*missing)
    if not isinstance(params["Event"], dict):
        raise InvalidArgument("Event must be an object")
    if not params.get("UsageID"):
        raise MandatoryMissing("UsageID")
    try:
        units = float(params.get("Units") or 0)
        ttl = params.get("UsageTTL")
        usage_ttl = None if ttl is None else (ttl if isinstance(ttl, int) else parse_duration(ttl))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(str(exc)) from None
    return UsageRequest(
        tenant=tenant(node, params),
        event=params["Event"],
        usage_id=str(params["UsageID"]),
        units=units,
        usage_ttl=usage_ttl,
        time=event_time(params),
    )


@rpc("ResourceSv1.GetResourcesForEvent")
def get_resources_for_event(node, params: dict) -> list[dict]:
    return node.resources.resources_for_event(usage_request(node, params))


@rpc("ResourceSv1.AuthorizeResources")
def authorize_resources(node, params: dict) -> str:
    return node.resources.authorize(usage_request(node, params))


@rpc("ResourceSv1.AllocateResources")
def allocate_resources(node, params: dict) -> str:
    return node.resources.allocate(usage_request(node, params))


@rpc("ResourceSv1.ReleaseResources")
def release_resources(node, params: dict) -> str:
    node.resources.release(usage_request(node, params))
    return OK


@rpc("ResourceSv1.GetResource")
def get_resource(node, params: dict) -> dict:
    return node.resources.get_resource(*tenant_id(node, params))


register_profile_methods("ResourceProfile", lambda node: node.resources)
