"""A CDR as StorDB keeps it, and the JSON views CGrateS' APIs give of it.

The stored shape is described in ``fs_cgr.storage.cdr_query``. ``as_external`` is
CGrateS' ExternalCDR (``APIerSv1/APIerSv2.GetCDRs``): Usage as a Go duration
for voice ("2m0s"), times RFC 3339 in whole seconds, CostDetails as a JSON
string. ``as_internal`` is engine.CDR (``CDRsV1.GetCDRs``): Usage in ns,
CostDetails an object.
"""

from decimal import Decimal

from fs_cgr import jsoncodec
from fs_cgr.cdrs.event import extra_fields, usage_text
from fs_cgr.times import format_time

UNRATED = Decimal(-1)
# CGrateS' default CSV columns (its CDR reader's and exporter's), Direction left out
CGRATES_CSV_FIELDS = (
    "CGRID",
    "RunID",
    "ToR",
    "OriginID",
    "RequestType",
    "Tenant",
    "Category",
    "Account",
    "Subject",
    "Destination",
    "SetupTime",
    "AnswerTime",
    "Usage",
)


def new_cdr(run: dict) -> dict:
    """The unpriced CDR of one charger run (a normalised event with RunID)."""
    return {
        "CGRID": run["CGRID"],
        "RunID": run.get("RunID") or "*default",
        "OrderID": 0,
        "OriginHost": run.get("OriginHost", ""),
        "Source": run.get("Source", ""),
        "OriginID": run.get("OriginID", ""),
        "ToR": run.get("ToR", ""),
        "RequestType": run.get("RequestType", ""),
        "Tenant": run.get("Tenant", ""),
        "Category": run.get("Category", ""),
        "Account": run.get("Account", ""),
        "Subject": run.get("Subject", ""),
        "Destination": run.get("Destination", ""),
        "SetupTime": run.get("SetupTime"),
        "AnswerTime": run.get("AnswerTime"),
        "Usage": max(int(run.get("Usage") or 0), 0),
        "ExtraFields": extra_fields(run),
        "ExtraInfo": "",
        "PreRated": bool(run.get("PreRated")),
        "CostSource": "",
        "Cost": UNRATED,
        "CostDetails": None,
    }


def _go_time(moment) -> str:
    """Go's time.RFC3339 layout: whole seconds."""
    return format_time(moment.replace(microsecond=0) if moment else None)


def as_external(cdr: dict) -> dict:
    details = cdr.get("CostDetails")
    return {
        "CGRID": cdr["CGRID"],
        "RunID": cdr["RunID"],
        "OrderID": cdr.get("OrderID", 0),
        "OriginHost": cdr.get("OriginHost", ""),
        "Source": cdr.get("Source", ""),
        "OriginID": cdr.get("OriginID", ""),
        "ToR": cdr.get("ToR", ""),
        "RequestType": cdr.get("RequestType", ""),
        "Tenant": cdr.get("Tenant", ""),
        "Category": cdr.get("Category", ""),
        "Account": cdr.get("Account", ""),
        "Subject": cdr.get("Subject", ""),
        "Destination": cdr.get("Destination", ""),
        "SetupTime": _go_time(cdr.get("SetupTime")),
        "AnswerTime": _go_time(cdr.get("AnswerTime")),
        "Usage": usage_text(cdr.get("Usage", 0), cdr.get("ToR", "")),
        "ExtraFields": cdr.get("ExtraFields") or {},
        "CostSource": cdr.get("CostSource", ""),
        "Cost": plain_amount(cdr.get("Cost", UNRATED)),
        "CostDetails": jsoncodec.encode(details) if details is not None else "null",
        "ExtraInfo": cdr.get("ExtraInfo", ""),
        "PreRated": bool(cdr.get("PreRated")),
    }


def plain_amount(amount) -> Decimal:
    """Without the trailing zeros a DECIMAL column adds (0.70020000 -> 0.7002, -1.0 -> -1)."""
    amount = Decimal(amount)
    return amount.quantize(Decimal(1)) if amount == amount.to_integral() else amount.normalize()


def as_internal(cdr: dict) -> dict:
    internal = dict(cdr)
    internal["Cost"] = plain_amount(cdr.get("Cost", UNRATED))
    internal["SetupTime"] = format_time(cdr.get("SetupTime"))
    internal["AnswerTime"] = format_time(cdr.get("AnswerTime"))
    internal["ExtraFields"] = cdr.get("ExtraFields") or {}
    return internal
