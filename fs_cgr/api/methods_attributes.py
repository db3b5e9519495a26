"""AttributeS over JSON-RPC: AttributeSv1.* and the APIerSv1/APIerSv2 profile methods,
with CGrateS v0.10's shapes (APIerSv1 takes Values as RSR parsers, APIerSv2 as strings)."""

from fs_cgr.api.params import tenant
from fs_cgr.api.profile_methods import OK, register_profile_methods
from fs_cgr.api.registry import rpc
from fs_cgr.attributes.service import AttributeRequest
from fs_cgr.errors import InvalidArgument, MandatoryMissing
from fs_cgr.times import parse_time


def event_time(params: dict):
    try:
        return parse_time(params.get("Time"))
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


def attribute_request(node, params: dict) -> AttributeRequest:
    """AttrArgsProcessEvent; v0.11's APIOpts ``*processRuns``/``*profileRuns``/``*context``
    are read too, so the tutorial's requests work unchanged."""
    event = params.get("Event")
    if not isinstance(event, dict):
        raise MandatoryMissing("Event")
    opts = params.get("APIOpts") or params.get("Opts") or {}
    return AttributeRequest(
        tenant=tenant(node, params),
        event=event,
        event_id=str(params.get("ID") or ""),
        time=event_time(params),
        context=str(params.get("Context") or opts.get("*context") or ""),
        attribute_ids=[str(i) for i in params.get("AttributeIDs") or ()],
        process_runs=_count(params.get("ProcessRuns", opts.get("*processRuns")), "ProcessRuns"),
        profile_runs=_count(opts.get("*profileRuns"), "*profileRuns"),
    )


def _count(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not str(value).isdigit():
        raise InvalidArgument(f"{name} must be a non-negative integer")
    return int(value) or None


@rpc("AttributeSv1.ProcessEvent")
def process_event(node, params: dict) -> dict:
    return node.attributes.process_event(attribute_request(node, params))


@rpc("AttributeSv1.GetAttributeForEvent")
def get_attribute_for_event(node, params: dict) -> dict:
    profile = node.attributes.profile_for_event(attribute_request(node, params))
    return node.attributes.get_profile(profile["Tenant"], profile["ID"])


register_profile_methods("AttributeProfile", lambda node: node.attributes)


@rpc("APIerSv2.SetAttributeProfile")
def set_attribute_profile_v2(node, params: dict) -> str:
    """Values as strings (ExternalAttributeProfile); APIerSv1 takes RSR parsers."""
    node.attributes.set_profile({**params, "Tenant": tenant(node, params)}, False)
    return OK
