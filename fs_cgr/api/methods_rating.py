"""Rating and tariff-plan methods of APIerSv1: GetCost, folders, TP* (StorDB), live objects.

Field names and id spellings follow CGrateS v0.10 (``ID``/``Id``,
``RateId``/``RateID``, ...); documents are stored in the shapes of
docs/architecture.md, so the loader, the TP* API and the live DataDB agree.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from fs_cgr.api.registry import rpc
from fs_cgr.durations import parse_duration
from fs_cgr.errors import CGRError, InvalidArgument, MandatoryMissing, NotFound, ServerError
from fs_cgr.money import to_decimal
from fs_cgr.rating import CallDescriptor
from fs_cgr.storage import base as kinds
from fs_cgr.tariffplans import rating_profile_id
from fs_cgr.times import format_time, now, parse_time

OK = "OK"


class Exists(CGRError):
    code = "EXISTS"


class _Detailed(CGRError):
    """Errors CGrateS writes as ``CODE:detail``, without a space (``NOT_FOUND:RatingPlanId:X``)."""

    @property
    def message(self) -> str:
        return self.detail


# -- small readers of CGrateS params -------------------------------------------
def _get(params: dict, *names: str, default=""):
    """The first of several spellings of a field (``RateId``/``RateID``) that is present."""
    for name in names:
        value = params.get(name)
        if value is not None and value != "":
            return value
    return default


def _require(params: dict, *fields: str | tuple[str, ...]) -> None:
    """MANDATORY_IE_MISSING naming every absent field; a tuple lists accepted spellings."""
    missing = []
    for field in fields:
        names = field if isinstance(field, tuple) else (field,)
        value = _get(params, *names, default=None)
        if value is None or value == [] or value == {}:
            missing.append(names[0])
    if missing:
        raise MandatoryMissing(*missing)


def _duration(value, where: str) -> int:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise InvalidArgument(f"{where}: {exc}") from None


def _time(value, where: str, default=None):
    try:
        return parse_time(value, default=default)
    except ValueError as exc:
        raise InvalidArgument(f"{where}: {exc}") from None


def _amount(value, where: str) -> Decimal:
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise InvalidArgument(f"{where}: {exc}") from None


def _list_of_objects(params: dict, name: str) -> list[dict]:
    items = params.get(name)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidArgument(f"{name} must be a list of objects")
    return items


def _as_server_error(exc: CGRError) -> CGRError:
    """CGrateS' API wraps engine errors as ``SERVER_ERROR: <reason>``."""
    return exc if exc.message.startswith("SERVER_ERROR") else ServerError(exc.message)


# -- cost ----------------------------------------------------------------------
@rpc("APIerSv1.GetCost")
def get_cost(node, params: dict) -> dict:
    """Price a call without touching any balance; the reply is CGrateS' EventCost.

    Without a Destination (data, SMS) only ``*any`` destination rates apply."""
    _require(params, ("Subject", "Account"))
    general = node.config.general
    descriptor = CallDescriptor(
        tenant=_get(params, "Tenant", default=general.default_tenant),
        category=_get(params, "Category", default=general.default_category),
        subject=str(_get(params, "Subject", "Account")),
        destination=str(params.get("Destination") or ""),
        time_start=_time(params.get("AnswerTime"), "AnswerTime", default=now()),
        account=str(_get(params, "Account")),
        tor=_get(params, "ToR", default="*voice"),
        usage=_duration(params.get("Usage"), "Usage"),
    )
    try:
        call_cost = node.rating.engine.get_cost(descriptor)
    except CGRError as exc:
        raise _as_server_error(exc) from None
    return call_cost.to_event_cost()


# -- folders and StorDB loads --------------------------------------------------
@rpc("APIerSv1.LoadTariffPlanFromFolder")
def load_tariff_plan_from_folder(node, params: dict) -> str:
    folder = node.tariffplans.allowed_folder(params.get("FolderPath"))
    node.tariffplans.load_folder(folder, dry_run=bool(params.get("DryRun")))
    return OK


@rpc("APIerSv1.RemoveTPFromFolder")
def remove_tp_from_folder(node, params: dict) -> str:
    node.tariffplans.remove_folder(node.tariffplans.allowed_folder(params.get("FolderPath")))
    return OK


@rpc("APIerSv1.LoadTariffPlanFromStorDb")
def load_tariff_plan_from_stordb(node, params: dict) -> str:
    _require(params, "TPid")
    node.tariffplans.load_from_stordb(params["TPid"], dry_run=bool(params.get("DryRun")))
    return OK


# -- TP* (tariff plans kept in the StorDB) -------------------------------------
def _destination(params: dict) -> dict:
    prefixes = params.get("Prefixes")
    if not isinstance(prefixes, list) or not all(isinstance(p, (str, int)) for p in prefixes):
        raise InvalidArgument("Prefixes must be a list of strings")
    return {"ID": _get(params, "ID", "Id"), "Prefixes": [str(p) for p in prefixes]}


def _rate(params: dict) -> dict:
    slots = []
    for index, slot in enumerate(_list_of_objects(params, "RateSlots")):
        where = f"RateSlots[{index}]"
        for name in ("RateUnit", "RateIncrement", "GroupIntervalStart"):
            _duration(slot.get(name), f"{where}.{name}")
        slots.append(
            {
                "ConnectFee": _amount(slot.get("ConnectFee"), f"{where}.ConnectFee"),
                "Rate": _amount(slot.get("Rate"), f"{where}.Rate"),
                "RateUnit": slot.get("RateUnit", ""),
                "RateIncrement": slot.get("RateIncrement", ""),
                "GroupIntervalStart": slot.get("GroupIntervalStart", ""),
            }
        )
    return {"ID": _get(params, "ID", "Id"), "RateSlots": slots}


def _destination_rate(params: dict) -> dict:
    bindings = []
    for index, item in enumerate(_list_of_objects(params, "DestinationRates")):
        where = f"DestinationRates[{index}]"
        decimals = item.get("RoundingDecimals") or 0
        if isinstance(decimals, bool) or not isinstance(decimals, (int, str, Decimal)):
            raise InvalidArgument(f"{where}.RoundingDecimals must be an integer")
        bindings.append(
            {
                "DestinationId": _get(item, "DestinationId", "DestinationID"),
                "RateId": _get(item, "RateId", "RateID"),
                "RoundingMethod": item.get("RoundingMethod", ""),
                "RoundingDecimals": int(_amount(decimals, f"{where}.RoundingDecimals")),
                "MaxCost": _amount(item.get("MaxCost"), f"{where}.MaxCost"),
                "MaxCostStrategy": item.get("MaxCostStrategy", ""),
            }
        )
    return {"ID": _get(params, "ID", "Id"), "DestinationRates": bindings}


def _timing(params: dict) -> dict:
    doc = {"ID": _get(params, "ID", "Id")}
    for name in ("Years", "Months", "MonthDays", "WeekDays", "Time"):
        doc[name] = params.get(name, "")
    return doc


def _rating_plan(params: dict) -> dict:
    bindings = []
    for index, item in enumerate(_list_of_objects(params, "RatingPlanBindings")):
        bindings.append(
            {
                "DestinationRatesId": _get(item, "DestinationRatesId", "DestinationRatesID"),
                "TimingId": _get(item, "TimingId", "TimingID", default="*any"),
                "Weight": _amount(item.get("Weight"), f"RatingPlanBindings[{index}].Weight"),
            }
        )
    return {"ID": _get(params, "ID", "Id"), "RatingPlanBindings": bindings}


def _activations(params: dict) -> list[dict]:
    activations = []
    for index, item in enumerate(_list_of_objects(params, "RatingPlanActivations")):
        where = f"RatingPlanActivations[{index}]"
        if not _get(item, "RatingPlanId", "RatingPlanID"):
            raise MandatoryMissing(f"{where}.RatingPlanId")
        _time(item.get("ActivationTime"), f"{where}.ActivationTime")
        activations.append(
            {
                "ActivationTime": item.get("ActivationTime", ""),
                "RatingPlanId": _get(item, "RatingPlanId", "RatingPlanID"),
                "FallbackSubjects": item.get("FallbackSubjects") or "",
            }
        )
    return activations


def _rating_profile(params: dict) -> dict:
    return {
        "LoadId": params.get("LoadId", ""),
        "Tenant": params.get("Tenant", ""),
        "Category": params.get("Category", ""),
        "Subject": params.get("Subject", ""),
        "RatingPlanActivations": _activations(params),
    }


@dataclass(frozen=True)
class TPSpec:
    """One TP* object family: its API noun, storage kind, document shape and id."""

    noun: str
    kind: str
    document: Callable[[dict], dict]
    required: tuple
    ids_method: str
    id_param: tuple = ("ID", "Id")

    def object_id(self, doc: dict) -> str:
        return doc["ID"]


class _RatingProfileSpec(TPSpec):
    def object_id(self, doc: dict) -> str:
        return ":".join((doc["LoadId"], doc["Tenant"], doc["Category"], doc["Subject"]))


_ID = ("ID", "Id")
TP_SPECS = (
    TPSpec("Destination", kinds.DESTINATIONS, _destination, (_ID, "Prefixes"), "IDs"),
    TPSpec("Rate", kinds.RATES, _rate, (_ID, "RateSlots"), "Ids", _ID + ("RateId", "RateID")),
    TPSpec(
        "DestinationRate",
        kinds.DESTINATION_RATES,
        _destination_rate,
        (_ID, "DestinationRates"),
        "Ids",
        _ID + ("DestinationRateId", "DestinationRateID"),
    ),
    TPSpec(
        "Timing",
        kinds.TIMINGS,
        _timing,
        (_ID, "Years", "Months", "MonthDays", "WeekDays", "Time"),
        "Ids",
        _ID + ("TimingId", "TimingID"),
    ),
    TPSpec(
        "RatingPlan",
        kinds.RATING_PLANS,
        _rating_plan,
        (_ID, "RatingPlanBindings"),
        "Ids",
        _ID + ("RatingPlanId", "RatingPlanID"),
    ),
    _RatingProfileSpec(
        "RatingProfile",
        kinds.RATING_PROFILES,
        _rating_profile,
        ("LoadId", "Tenant", "Category", "Subject", "RatingPlanActivations"),
        "Ids",
        ("RatingProfileID", "RatingProfileId"),
    ),
)


def _set_tp(spec: TPSpec, node, params: dict) -> str:
    _require(params, "TPid", *spec.required)
    doc = spec.document(params)
    node.tariffplans.set_tp(params["TPid"], spec.kind, spec.object_id(doc), doc)
    return OK


def _tp_id(spec: TPSpec, params: dict) -> str:
    _require(params, "TPid", spec.id_param)
    obj_id = str(_get(params, *spec.id_param))
    if spec.kind == kinds.RATING_PROFILES and obj_id.count(":") != 3:
        raise ServerError(f"Wrong TPRatingProfileId: {obj_id}")
    return obj_id


def _get_tp(spec: TPSpec, node, params: dict) -> dict:
    stored = node.tariffplans.get_tp(params.get("TPid"), spec.kind, _tp_id(spec, params))
    return {"TPid": params["TPid"], **spec.document(stored)}


def _get_tp_ids(spec: TPSpec, node, params: dict) -> list[str]:
    _require(params, "TPid")
    return node.tariffplans.tp_ids(params["TPid"], spec.kind)


def _remove_tp(spec: TPSpec, node, params: dict) -> str:
    node.tariffplans.remove_tp(params.get("TPid"), spec.kind, _tp_id(spec, params))
    return OK


def _register_tp_methods(spec: TPSpec) -> None:
    def bind(handler):
        return lambda node, params: handler(spec, node, params)

    rpc(f"APIerSv1.SetTP{spec.noun}")(bind(_set_tp))
    rpc(f"APIerSv1.GetTP{spec.noun}")(bind(_get_tp))
    rpc(f"APIerSv1.GetTP{spec.noun}{spec.ids_method}")(bind(_get_tp_ids))
    rpc(f"APIerSv1.RemoveTP{spec.noun}")(bind(_remove_tp))


for _spec in TP_SPECS:
    _register_tp_methods(_spec)


# -- live objects (DataDB), changed immediately --------------------------------
@rpc("APIerSv1.SetRatingProfile")
def set_rating_profile(node, params: dict) -> str:
    """Add (or with Overwrite replace) a live profile's activations; the plans must exist live."""
    _require(params, "Tenant", "Subject", "RatingPlanActivations")
    category = _get(params, "Category", default=node.config.general.default_category)
    profile = {
        "Tenant": params["Tenant"],
        "Category": category,
        "Subject": params["Subject"],
        "RatingPlanActivations": _activations(params),
    }
    profile_id = rating_profile_id(profile)

    def add_activations(live: dict) -> list:
        for activation in profile["RatingPlanActivations"]:
            if activation["RatingPlanId"] not in live.get(kinds.RATING_PLANS, {}):
                raise _Detailed(f"NOT_FOUND:RatingPlanId:{activation['RatingPlanId']}")
        existing = live.get(kinds.RATING_PROFILES, {}).get(profile_id)
        if existing and not params.get("Overwrite"):
            kept = existing.get("RatingPlanActivations") or []
            profile["RatingPlanActivations"] = kept + profile["RatingPlanActivations"]
        return [(kinds.RATING_PROFILES, profile_id, profile)]

    node.tariffplans.change_live(add_activations)
    return OK


@rpc("APIerSv1.GetRatingProfile")
def get_rating_profile(node, params: dict) -> dict:
    """The live profile in CGrateS' engine shape (``Id`` = ``*out:tenant:category:subject``)."""
    _require(params, "Tenant", "Category", "Subject")
    doc = node.tariffplans.live_object(kinds.RATING_PROFILES, rating_profile_id(params))
    activations = []
    for activation in doc.get("RatingPlanActivations") or []:
        fallbacks = [s for s in (activation.get("FallbackSubjects") or "").split(";") if s]
        activations.append(
            {
                "ActivationTime": format_time(parse_time(activation.get("ActivationTime"))),
                "RatingPlanId": activation.get("RatingPlanId", ""),
                "FallbackKeys": [
                    f"*out:{doc['Tenant']}:{doc['Category']}:{subject}"
                    for subject in sorted(set(fallbacks))
                ],
            }
        )
    return {"Id": f"*out:{rating_profile_id(doc)}", "RatingPlanActivations": activations}


@rpc("APIerSv1.GetRatingProfileIDs")
def get_rating_profile_ids(node, params: dict) -> list[str]:
    """``category:subject`` of every live profile of the tenant."""
    _require(params, "Tenant")
    prefix = f"{params['Tenant']}:"
    ids = sorted(
        obj_id[len(prefix) :]
        for obj_id in node.tariffplans.live().get(kinds.RATING_PROFILES, {})
        if obj_id.startswith(prefix)
    )
    if not ids:
        raise NotFound()
    return ids


@rpc("APIerSv1.SetDestination")
def set_destination(node, params: dict) -> str:
    _require(params, ("Id", "ID"), "Prefixes")
    doc = _destination(params)

    def set_or_refuse(live: dict) -> list:
        if not params.get("Overwrite") and doc["ID"] in live.get(kinds.DESTINATIONS, {}):
            raise Exists()
        return [(kinds.DESTINATIONS, doc["ID"], doc)]

    node.tariffplans.change_live(set_or_refuse)
    return OK


@rpc("APIerSv1.GetDestination", scalar_param="ID")
def get_destination(node, params: dict) -> dict:
    _require(params, ("ID", "Id"))
    doc = node.tariffplans.live_object(kinds.DESTINATIONS, str(_get(params, "ID", "Id")))
    return {"Id": doc["ID"], "Prefixes": list(doc.get("Prefixes") or [])}


@rpc("APIerSv1.GetRatingPlan", scalar_param="ID")
def get_rating_plan(node, params: dict) -> dict:
    """The live rating plan document (TP shape, plus CGrateS' ``Id``)."""
    _require(params, ("ID", "Id"))
    doc = node.tariffplans.live_object(kinds.RATING_PLANS, str(_get(params, "ID", "Id")))
    return {"Id": doc["ID"], **_rating_plan(doc)}
