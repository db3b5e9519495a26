"""CDR and charger methods: CDRsV1.*, APIerSv1/v2.GetCDRs, charger profiles, ChargerSv1.*."""

from fs_cgr.api.methods_rating import Exists
from fs_cgr.api.params import tenant, tenant_id
from fs_cgr.api.registry import rpc
from fs_cgr.api.server import post_route
from fs_cgr.cdrs.chargers import profile_as_json
from fs_cgr.cdrs.event import normalize
from fs_cgr.cdrs.export import export_cdrs as write_export
from fs_cgr.cdrs.export import export_path
from fs_cgr.cdrs.freeswitch import handle_json_cdr, import_csv
from fs_cgr.cdrs.record import as_external, as_internal
from fs_cgr.durations import parse_duration
from fs_cgr.errors import InvalidArgument, MandatoryMissing, NotFound, ServerError

OK = "OK"


def _process(node, event: dict, use_chargers: bool = True) -> str:
    return outcome_reply(node.cdrs.process_event(event, use_chargers))


def outcome_reply(outcome) -> str:
    """ "OK", or CGrateS' error: the event's own, EXISTS when every run was stored before."""
    if outcome.error is not None:
        raise outcome.error
    if outcome.duplicates and not (outcome.stored or outcome.spooled):
        raise Exists()
    return OK


def rpc_v1_v2(name: str):
    """Register under CDRsV1 and CDRsV2: CGrateS' CDRsV2 embeds CDRsV1's methods."""

    def register(func):
        return rpc(f"CDRsV1.{name}")(rpc(f"CDRsV2.{name}")(func))

    return register


@rpc_v1_v2("ProcessExternalCDR")
def process_external_cdr(node, params: dict) -> str:
    return _process(node, params)


@rpc_v1_v2("ProcessCDR")
def process_cdr(node, params: dict) -> str:
    return _process(node, params)


@rpc_v1_v2("ProcessEvent")
def process_event(node, params: dict) -> str:
    """``{"Flags": ["*chargers:false"], "Tenant", "Event": {...}}``; other flags are ignored."""
    event = dict(params.get("Event") or {})
    if not event:
        raise MandatoryMissing("Event")
    if params.get("Tenant"):
        event.setdefault("Tenant", params["Tenant"])
    return _process(node, event, _flag(params.get("Flags") or [], "*chargers", True))


def _flag(flags: list, name: str, default: bool) -> bool:
    for flag in flags:
        key, _, value = str(flag).partition(":")
        if key == name:
            return value.lower() != "false"
    return default


def _found(cdrs: list) -> list:
    if not cdrs:
        raise NotFound()
    return cdrs


@rpc("APIerSv1.GetCDRs")
def get_cdrs(node, params: dict) -> list:
    """ExternalCDRs (Usage "2m0s", CostDetails as JSON text); NOT_FOUND when none match."""
    return [as_external(cdr) for cdr in _found(node.cdrs.get_cdrs(params))]


@rpc("APIerSv2.GetCDRs")
def get_cdrs_v2(node, params: dict) -> list:
    return get_cdrs(node, params)


@rpc_v1_v2("GetCDRs")
def get_cdrs_internal(node, params: dict) -> list:
    cdrs = node.cdrs.get_cdrs(params)
    if not cdrs:
        raise ServerError("NOT_FOUND")
    return [as_internal(cdr) for cdr in cdrs]


@rpc_v1_v2("GetCDRsCount")
def get_cdrs_count(node, params: dict) -> int:
    return node.cdrs.count_cdrs(params)


@rpc_v1_v2("RateCDRs")
def rate_cdrs(node, params: dict) -> str:
    """Price stored CDRs matching the filter again; ``Flags: ["*rerate"]`` re-charges the
    CDRs charged already (refund, then debit at the new price)."""
    query = {key: value for key, value in params.items() if key != "Flags"}
    node.cdrs.rate_cdrs(query, rerate=_flag(params.get("Flags") or [], "*rerate", False))
    return OK


@rpc("CDRsV1.StoreSessionCost")
def store_session_cost(node, params: dict) -> str:
    """``{"Cost": {CGRID, RunID, OriginHost, OriginID, CostSource, Usage, CostDetails},
    "CheckDuplicate"}``: what a session charged, read back when its *prepaid CDR comes."""
    cost = params.get("Cost")
    if not isinstance(cost, dict) or not cost.get("CGRID"):
        raise MandatoryMissing("CGRID")
    doc = {
        "CGRID": str(cost["CGRID"]),
        "RunID": str(cost.get("RunID") or "*default"),
        "OriginHost": str(cost.get("OriginHost") or ""),
        "OriginID": str(cost.get("OriginID") or ""),
        "CostSource": str(cost.get("CostSource") or ""),
        "Usage": _usage(cost.get("Usage")),
        "CostDetails": cost.get("CostDetails"),
    }
    if params.get("CheckDuplicate") and node.stordb.get_session_cost(doc["CGRID"], doc["RunID"]):
        raise Exists()
    node.stordb.set_session_cost(doc)
    return OK


@rpc("CDRsV2.StoreSessionCost")
def store_session_cost_v2(node, params: dict) -> str:
    """CGrateS' v2 form (CostDetails an EventCost), stored as v1 stores it."""
    return store_session_cost(node, params)


def _usage(value) -> int:
    try:
        return parse_duration(value if value not in (None, "") else 0)
    except ValueError as exc:
        raise InvalidArgument(f"Usage: {exc}") from None


@rpc("APIerSv2.CountCDRs")
def count_cdrs(node, params: dict) -> int:
    return node.cdrs.count_cdrs(params)


@rpc("APIerSv1.ExportCDRs")
def export_cdrs(node, params: dict) -> dict:
    """CDRs matching the filter to a file under ``cdrs.export_dir``: ``{"ExportArgs":
    {"ExportFormat": "*file_csv"|"*file_json", "ExportFileName", "ExportID"}, "Verbose",
    <filters>}``; CGrateS' RplExportedCDRs."""
    export_args = params.get("ExportArgs") or {}
    if not isinstance(export_args, dict):
        raise InvalidArgument("ExportArgs must be an object")
    file_format, path = export_path(node.config.cdrs.export_dir, export_args)
    query = {key: value for key, value in params.items() if key not in ("ExportArgs", "Verbose")}
    return write_export(node.cdrs.iter_cdrs(query), file_format, path, bool(params.get("Verbose")))


@rpc("APIerSv1.GetEventCost")
def get_event_cost(node, params: dict) -> dict:
    if not params.get("CgrId"):
        raise MandatoryMissing("CgrId")
    query = {"CGRIDs": [params["CgrId"]], "RunIDs": [params.get("RunId") or "*default"]}
    cdrs = node.cdrs.get_cdrs(query)
    if not cdrs or cdrs[0].get("CostDetails") is None:
        raise NotFound()
    return cdrs[0]["CostDetails"]


@rpc("CDRsV1.ImportFreeSWITCHCSV")
def import_freeswitch_csv(node, params: dict) -> dict:
    """mod_cdr_csv text: ``{"Name", "Content", "Template", "Timezone", "FirstLine"}``."""
    if "Content" not in params:
        raise MandatoryMissing("Content")
    report = import_csv(
        node,
        str(params.get("Name") or "csv"),
        str(params["Content"]),
        params.get("Template") or None,
        str(params.get("Timezone") or "UTC"),
        int(params.get("FirstLine") or 1),
    )
    return report.as_json()


# -- charger profiles ----------------------------------------------------------
@rpc("APIerSv1.SetChargerProfile")
def set_charger_profile(node, params: dict) -> str:
    profile = {key: value for key, value in params.items() if key != "Cache"}
    node.cdrs.chargers.set_profile(profile)
    return OK


@rpc("APIerSv1.GetChargerProfile")
def get_charger_profile(node, params: dict) -> dict:
    return node.cdrs.chargers.get_profile(*tenant_id(node, params))


@rpc("APIerSv1.RemoveChargerProfile")
def remove_charger_profile(node, params: dict) -> str:
    node.cdrs.chargers.remove_profile(*tenant_id(node, params))
    return OK


@rpc("APIerSv1.GetChargerProfileIDs")
def get_charger_profile_ids(node, params: dict) -> list:
    return _found(node.cdrs.chargers.profile_ids(tenant(node, params)))


def _cgr_event(node, params: dict) -> dict:
    event = dict(params.get("Event") or {})
    if not event:
        raise MandatoryMissing("Event")
    event.setdefault("Tenant", params.get("Tenant") or "")
    return normalize(event, node.config.general, require=())


@rpc("ChargerSv1.GetChargersForEvent")
def get_chargers_for_event(node, params: dict) -> list:
    matching = node.cdrs.chargers.matching(_cgr_event(node, params))
    return [profile_as_json(doc) for doc in matching]


@rpc("ChargerSv1.ProcessEvent")
def charger_process_event(node, params: dict) -> list:
    event = _cgr_event(node, params)
    chargers = node.cdrs.chargers
    return [
        {
            "ChargerSProfile": doc["ID"],
            "AttributeSProfiles": None,
            "AlteredFields": ["*req.RunID"],
            "CGREvent": {"Tenant": event["Tenant"], "ID": params.get("ID", ""), "Event": run},
        }
        for doc in chargers.matching(event)
        for run in [chargers.run_event(event, doc)]
    ]


@post_route("/freeswitch_json")
def freeswitch_json_cdr(node, body: bytes, remote_addr: str) -> tuple[int, str]:
    """mod_json_cdr's POST: 200 when processed, else it keeps the CDR and retries."""
    return handle_json_cdr(node, body, remote_addr)
