"""SessionSv1.*: CGrateS' session API over the SessionService.

Params are CGrateS' V1*Args: the flags (``GetMaxUsage``, ``InitSession``,
``GetAttributes``, ``AuthorizeResources``/``AllocateResources``/``ReleaseResources``,
``ProcessThresholds``, ``ProcessStats``, ...) beside a CGREvent (``Tenant``, ``ID``,
``Event``); fs_cgr.sessions.subsystems runs the optional ones. Replies keep CGrateS'
shapes: every field of V1AuthorizeReply / V1InitSessionReply (``Attributes``,
``ResourceAllocation``, ``MaxUsage``, ``ThresholdIDs``, ``StatQueueIDs``), "OK" for
terminate and ProcessCDR.

One field is fs_cgr's own: AuthorizeEvent with ``ResourcesOptional: true`` answers as if
``AuthorizeResources`` had not been asked when no resource profile matches the event (no
limit applies to it), instead of CGrateS' ``RESOURCES_ERROR:NOT_FOUND``. The embedded
handler sends it, so such a call costs one request, not a refusal and a second request
(CGrateS ignores the field; the handler then asks again without resources).
"""

from fs_cgr.api.methods_cdrs import outcome_reply
from fs_cgr.api.params import tenant as params_tenant
from fs_cgr.api.registry import rpc
from fs_cgr.cdrs.event import extra_fields
from fs_cgr.errors import (
    CGRError,
    InsufficientCredit,
    MandatoryMissing,
    NotFound,
    PartiallyExecuted,
)
from fs_cgr.filters import FilterEngine
from fs_cgr.sessions.subsystems import SessionSubsystems, Subsystems
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


def _start(node, params: dict) -> tuple[SessionSubsystems, Subsystems, dict | None, dict]:
    """The request's subsystems, and its tenant and event once AttributeS altered them."""
    subsystems, wanted = SessionSubsystems(node), Subsystems.from_params(params)
    event = _event(params)
    tenant = params_tenant(node, event)
    tenant, event, attributes = subsystems.alter(tenant, event, wanted, params.get("ID") or "")
    event["Tenant"] = tenant
    return subsystems, wanted, attributes, event


def _finish(subsystems, wanted, event: dict, params: dict, reply):
    """Thresholds and stats last; a failure there is PARTIALLY_EXECUTED (CGrateS)."""
    if not (wanted.thresholds or wanted.stats):
        return reply  # nothing to report
    reported = subsystems.report(event["Tenant"], event, wanted, params.get("ID") or "")
    if reported.pop("PartiallyExecuted", False):
        raise PartiallyExecuted()
    if isinstance(reply, dict):
        reply.update(reported)
    return reply


@rpc("SessionSv1.AuthorizeEvent")
def authorize_event(node, params: dict) -> dict:
    """CGrateS answers MaxUsage 0 (not an error) when nothing can be paid."""
    _require_any(
        params, "GetMaxUsage", "GetRoutes", "GetSuppliers", "GetAttributes", "AuthorizeResources"
    )
    get_max_usage = bool(params.get("GetMaxUsage"))
    get_routes = bool(params.get("GetRoutes") or params.get("GetSuppliers"))
    subsystems, wanted, attributes, event = _start(node, params)
    reply = {**_REPLY, "Attributes": attributes}
    if get_max_usage or get_routes:
        try:
            reply.update(node.sessions.authorize(event, get_max_usage, get_routes))
        except InsufficientCredit:
            reply["MaxUsage"] = 0
    if wanted.authorize_resources:  # ResourcesOptional: no matching profile answers None
        reply["ResourceAllocation"] = subsystems.authorize_resources(
            event["Tenant"], event, bool(params.get("ResourcesOptional"))
        )
    return _finish(subsystems, wanted, event, params, reply)


@rpc("SessionSv1.InitiateSession")
def initiate_session(node, params: dict) -> dict:
    _require_any(params, "InitSession", "GetAttributes", "AllocateResources")
    subsystems, wanted, attributes, event = _start(node, params)
    reply = {**_REPLY, "Attributes": attributes}
    if wanted.allocate_resources:
        reply["ResourceAllocation"] = subsystems.allocate_resources(event["Tenant"], event)
    if params.get("InitSession"):
        try:
            reply.update(node.sessions.initiate(event))
        except CGRError:
            if wanted.allocate_resources:  # an error reply means nothing changed
                subsystems.release_resources(event["Tenant"], event)
            raise
    return _finish(subsystems, wanted, event, params, reply)


@rpc("SessionSv1.UpdateSession")
def update_session(node, params: dict) -> dict:
    _require_any(params, "UpdateSession", "GetAttributes")
    _, _, attributes, event = _start(node, params)
    reply = {"Attributes": attributes, "MaxUsage": 0}
    if params.get("UpdateSession"):
        reply.update(node.sessions.update(event))
    return reply


@rpc("SessionSv1.TerminateSession")
def terminate_session(node, params: dict) -> str:
    _require_any(params, "TerminateSession", "ReleaseResources")
    subsystems, wanted, _, event = _start(node, params)
    if params.get("TerminateSession"):
        if not event.get("OriginID"):
            raise MandatoryMissing("OriginID")
        node.sessions.terminate(event)
    if wanted.release_resources:
        subsystems.release_resources(event["Tenant"], event)
    return _finish(subsystems, wanted, event, params, OK)


@rpc("SessionSv1.ProcessCDR")
def process_cdr(node, params: dict) -> str:
    subsystems, wanted, _, event = _start(node, params)
    event.setdefault("Source", "*sessions")
    # a client's CDR is checked against StorDB before it is priced: one stored before (under
    # any request type) answers EXISTS with no *postpaid debit made
    reply = outcome_reply(node.cdrs.process_event(event))
    return _finish(subsystems, wanted, event, params, reply)


# CGrateS' V1AuthorizeReply / V1InitSessionReply: every field present, null when not asked
_REPLY = {
    "Attributes": None,
    "ResourceAllocation": None,
    "MaxUsage": 0,
    "ThresholdIDs": None,
    "StatQueueIDs": None,
}


@rpc("SessionSv1.GetActiveSessions")
def get_active_sessions(node, params: dict) -> list:
    """ExternalSessions, one per run; ``Filters`` (inline, e.g. ``*string:~*req.Account:1001``)
    and ``Limit`` as CGrateS' SessionFilter. NOT_FOUND when none."""
    filters = FilterEngine(node)
    tenant = params_tenant(node, params)
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
