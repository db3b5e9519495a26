"""SessionSv1.*: CGrateS' session API over the SessionService.

Params are CGrateS' V1*Args: the flags (``GetMaxUsage``, ``InitSession``, ...)
beside a CGREvent (``Tenant``, ``ID``, ``Event``). Replies keep CGrateS' shapes:
``{"MaxUsage": ns}`` for authorize/initiate/update, "OK" for terminate.
"""

from fs_cgr.api.methods_cdrs import outcome_reply
from fs_cgr.api.registry import rpc
from fs_cgr.cdrs.event import extra_fields
from fs_cgr.errors import InsufficientCredit, MandatoryMissing, NotFound
from fs_cgr.filters import FilterEngine
from fs_cgr.times import format_time

OK = "OK"


def _event(params: dict) -> dict:
    event = params.get("Event")
    if not isinstance(event, dict) or not event:
        raise MandatoryMissing("Event")
    event = dict(event)
    if params.get("Tenant") and not event.get("Tenant"):
        event["Tenant"] = params["Tenant"]
    return event


def _require_any(params: dict, *flags: str) -> None:
    if not any(params.get(flag) for flag in flags):
        raise MandatoryMissing("subsystems")


@rpc("SessionSv1.AuthorizeEvent")
def authorize_event(node, params: dict) -> dict:
    """CGrateS answers MaxUsage 0 (not an error) when nothing can be paid."""
    _require_any(params, "GetMaxUsage", "GetRoutes", "GetSuppliers")
    get_max_usage = bool(params.get("GetMaxUsage"))
    get_routes = bool(params.get("GetRoutes") or params.get("GetSuppliers"))
    try:
        return node.sessions.authorize(_event(params), get_max_usage, get_routes)
    except InsufficientCredit:
        return {"MaxUsage": 0}


@rpc("SessionSv1.InitiateSession")
def initiate_session(node, params: dict) -> dict:
    _require_any(params, "InitSession")
    return node.sessions.initiate(_event(params))


@rpc("SessionSv1.UpdateSession")
def update_session(node, params: dict) -> dict:
    _require_any(params, "UpdateSession")
    return node.sessions.update(_event(params))


@rpc("SessionSv1.TerminateSession")
def terminate_session(node, params: dict) -> str:
    _require_any(params, "TerminateSession")
    event = _event(params)
    if not event.get("OriginID"):
        raise MandatoryMissing("OriginID")
    node.sessions.terminate(event)
    return OK


@rpc("SessionSv1.ProcessCDR")
def process_cdr(node, params: dict) -> str:
    event = _event(params)
    event.setdefault("Source", "*sessions")
    return outcome_reply(node.sessions.process_cdr(event))


@rpc("SessionSv1.GetActiveSessions")
def get_active_sessions(node, params: dict) -> list:
    """ExternalSessions, one per run; ``Filters`` (inline, e.g. ``*string:~*req.Account:1001``)
    and ``Limit`` as CGrateS' SessionFilter. NOT_FOUND when none."""
    filters = FilterEngine(node)
    tenant = params.get("Tenant") or node.config.general.default_tenant
    found = []
    for session in node.sessions.active():
        for run in session.runs:
            if filters.matches(tenant, params.get("Filters") or [], run.event):
                found.append(_external(session, run))
    limit = params.get("Limit")
    found = found[: int(limit)] if limit else found
    if not found:
        raise NotFound()
    return found


@rpc("SessionSv1.GetActiveSessionsCount")
def get_active_sessions_count(node, params: dict) -> int:
    try:
        return len(get_active_sessions(node, params))
    except NotFound:
        return 0


def _external(session, run) -> dict:
    event = run.event
    return {
        **{name: event.get(name, "") for name in _EXTERNAL_FIELDS},
        "SetupTime": format_time(event.get("SetupTime")),
        "AnswerTime": format_time(event.get("AnswerTime")),
        "CGRID": session.cgrid,
        "RunID": run.run_id,
        "Usage": run.reserved if run.prepaid else 0,
        "ExtraFields": extra_fields(event),
        "NodeID": "",
        "DurationIndex": run.reserved,
        "MaxCostSoFar": run.charged,
        "DebitInterval": session.debit_interval,
        "NextAutoDebit": format_time(None),
    }


_EXTERNAL_FIELDS = (
    "ToR",
    "OriginID",
    "OriginHost",
    "Source",
    "RequestType",
    "Tenant",
    "Category",
    "Account",
    "Subject",
    "Destination",
)
