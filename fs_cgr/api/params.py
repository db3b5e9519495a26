"""Reading the parameters CGrateS' profile services share: Tenant (the node's default when
omitted), ID, and a CGREvent with an optional list of IDs it is limited to."""

from fs_cgr.errors import InvalidArgument, MandatoryMissing


def tenant(node, params: dict) -> str:
    return params.get("Tenant") or node.config.general.default_tenant


def tenant_id(node, params: dict) -> tuple[str, str]:
    if not params.get("ID"):
        raise MandatoryMissing("ID")
    return tenant(node, params), str(params["ID"])


def cgr_event(node, params: dict) -> dict:
    """The CGREvent of ``{Tenant, ID, Time, Event, ...}`` (MANDATORY_IE_MISSING names
    what it lacks)."""
    missing = [name for name in ("ID", "Event") if not params.get(name)]
    if missing:
        raise MandatoryMissing(*missing)
    if not isinstance(params["Event"], dict):
        raise InvalidArgument("Event must be an object")
    return {
        "Tenant": tenant(node, params),
        "ID": str(params["ID"]),
        "Time": params.get("Time"),
        "Event": params["Event"],
    }


def id_list(params: dict, name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidArgument(f"{name} must be a list of strings")
    return value
