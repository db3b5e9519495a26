"""Action plan methods of APIerSv1/APIerSv2 (CGrateS v0.10 names, shapes and errors)."""

from fs_cgr.accounts.model import new_uuid
from fs_cgr.accounts.service import plan_index
from fs_cgr.api.methods_accounts import Exists
from fs_cgr.api.registry import rpc
from fs_cgr.errors import CGRError, InvalidArgument, MandatoryMissing, NotFound
from fs_cgr.scheduler.plans import plan_timings, plan_view
from fs_cgr.scheduler.timing import UnsupportedFormat, check_start_time
from fs_cgr.storage.base import ACTION_PLANS, ACTIONS
from fs_cgr.times import format_time, parse_time

OK = "OK"


class _Tagged(CGRError):
    """CGrateS' "<CODE>:<detail>" errors (no space after the colon)."""

    @property
    def message(self) -> str:
        return f"{self.code}:{self.detail}"


class BrokenReference(_Tagged):
    code = "BROKEN_REFERENCE"


class UnsupportedFormatError(_Tagged):
    code = "UNSUPPORTED_FORMAT"


def _missing(params: dict, *names: str) -> list[str]:
    return [name for name in names if params.get(name) in (None, "", [], 0)]


@rpc("APIerSv1.SetActionPlan")
def set_action_plan(node, params: dict) -> str:
    """``{"Id", "ActionPlan": [{"ActionsId", "Years", "Months", "MonthDays", "WeekDays",
    "Time", "Weight"}], "Overwrite", "ReloadScheduler"}``; the scheduler picks the plan
    up by itself (ReloadScheduler is accepted, not needed)."""
    missing = _missing(params, "Id", "ActionPlan")
    if missing:
        raise MandatoryMissing(*missing)
    plan_id = str(params["Id"])
    entries = []
    for entry in params["ActionPlan"]:
        entry = entry if isinstance(entry, dict) else {}
        absent = _missing(entry, "ActionsId", "Weight") + (["Time"] if "Time" not in entry else [])
        if absent:
            raise CGRError(
                f"MANDATORY_IE_MISSING:Action:{entry.get('ActionsId', '')}:[{' '.join(absent)}]"
            )
        entries.append(entry)

    def changes(live: dict):
        if plan_id in live.get(ACTION_PLANS, {}) and not params.get("Overwrite"):
            raise Exists()
        stored = []
        for entry in entries:
            if entry["ActionsId"] not in live.get(ACTIONS, {}):
                raise BrokenReference(entry["ActionsId"])
            try:
                check_start_time(str(entry.get("Time") or ""))
            except UnsupportedFormat:
                raise UnsupportedFormatError(str(entry.get("Time"))) from None
            stored.append(
                {
                    "ActionsId": entry["ActionsId"],
                    "Uuid": new_uuid(),
                    "Weight": entry["Weight"],
                    "Timing": {
                        name: entry.get(name) or ""
                        for name in ("Years", "Months", "MonthDays", "WeekDays", "Time")
                    },
                }
            )
        return [(ACTION_PLANS, plan_id, {"ID": plan_id, "ActionPlan": stored})]

    node.tariffplans.change_live(changes)
    _unbind_all(node, plan_id)  # as CGrateS: the new plan starts without accounts
    return OK


@rpc("APIerSv1.GetActionPlan")
def get_action_plan(node, params: dict) -> list:
    """A list: the plan named by ID, or every plan for "" / "*"."""
    live = node.tariffplans.live()
    plans = live.get(ACTION_PLANS, {})
    wanted = str(params.get("ID") or "")
    if wanted in ("", "*"):
        ids = sorted(plans)
    elif wanted in plans:
        ids = [wanted]
    else:
        raise NotFound()
    return [
        plan_view(plan_id, plans[plan_id], live, node.datadb.set_members(plan_index(plan_id)))
        for plan_id in ids
    ]


@rpc("APIerSv1.GetActionPlanIDs")
def get_action_plan_ids(node, params: dict) -> list:
    ids = sorted(node.tariffplans.live().get(ACTION_PLANS, {}))
    if not ids:
        raise NotFound()
    offset, limit = int(params.get("Offset") or 0), int(params.get("Limit") or 0)
    return ids[offset : offset + limit] if limit else ids[offset:]


@rpc("APIerSv1.RemoveActionPlan")
def remove_action_plan(node, params: dict) -> str:
    if not params.get("ID"):
        raise MandatoryMissing("ID")
    plan_id = str(params["ID"])
    if plan_id not in node.tariffplans.live().get(ACTION_PLANS, {}):
        return OK  # as CGrateS: removing what is not there is no error
    _unbind_all(node, plan_id)
    node.tariffplans.apply_live([(ACTION_PLANS, plan_id, None)])
    return OK


def _unbind_all(node, plan_id: str) -> None:
    for key in sorted(node.datadb.set_members(plan_index(plan_id))):
        tenant, _, account = key.partition(":")
        node.accounts.unbind_plan(tenant, account, plan_id)


@rpc("APIerSv1.RemoveActionTiming")
def remove_action_timing(node, params: dict) -> str:
    """One account off the plan (Tenant, Account), one timing off it (ActionTimingId), or
    the whole plan."""
    if not params.get("ActionPlanId"):
        raise MandatoryMissing("ActionPlanId")
    plan_id = str(params["ActionPlanId"])
    live = node.tariffplans.live()
    plan = live.get(ACTION_PLANS, {}).get(plan_id)
    if plan is None:
        raise NotFound()
    if params.get("Account"):
        missing = _missing(params, "Tenant", "Account")
        if missing:
            raise MandatoryMissing(*missing)
        node.accounts.unbind_plan(params["Tenant"], params["Account"], plan_id)
        return OK
    if params.get("ActionTimingId"):
        entries = [
            e for e in plan.get("ActionPlan") or () if e.get("Uuid") != params["ActionTimingId"]
        ]
        node.tariffplans.apply_live([(ACTION_PLANS, plan_id, {**plan, "ActionPlan": entries})])
        return OK
    _unbind_all(node, plan_id)
    node.tariffplans.apply_live([(ACTION_PLANS, plan_id, None)])
    return OK


@rpc("APIerSv1.GetScheduledActions")
def get_scheduled_actions(node, params: dict) -> list:
    """Tenant, Account, TimeStart, TimeEnd (next runs in [start, end)), Offset, Limit."""
    try:
        start = parse_time(params.get("TimeStart") or None)
        end = parse_time(params.get("TimeEnd") or None)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    found = node.scheduler.scheduled_actions(
        params.get("Tenant"), params.get("Account"), start, end
    )
    offset, limit = int(params.get("Offset") or 0), int(params.get("Limit") or 0)
    found = found[offset : offset + limit] if limit else found[offset:]
    if not found:
        raise NotFound()
    return found


@rpc("APIerSv1.GetAccountActionPlan")
def get_account_action_plan(node, params: dict) -> list:
    """Every timing of the plans the account is bound to: [{ActionPlanId, Uuid, ActionsId,
    NextExecTime}] (an *asap timing has Go's zero time: it does not run again)."""
    missing = _missing(params, "Tenant", "Account")
    if missing:
        raise MandatoryMissing(*missing)
    try:
        account = node.accounts.get_account(params["Tenant"], params["Account"])
    except NotFound:
        return []
    live = node.tariffplans.live()
    found = []
    for plan_id in account.action_plan_ids:
        doc = live.get(ACTION_PLANS, {}).get(plan_id)
        for timing in plan_timings(plan_id, doc, live) if doc else ():
            found.append(
                {
                    "ActionPlanId": plan_id,
                    "Uuid": timing.uuid,
                    "ActionsId": timing.actions_id,
                    "NextExecTime": format_time(
                        None if timing.is_asap else node.scheduler.next_run(timing)
                    ),
                }
            )
    return found


@rpc("APIerSv1.RemoveActions")
def remove_actions(node, params: dict) -> str:
    """``{"ActionIDs": [...]}``. Unlike CGrateS, actions a plan or trigger still names are
    not removed (INVALID_ARGUMENT naming the plan): the live plan stays runnable."""
    ids = params.get("ActionIDs")
    if ids is None:
        raise NotFound()

    def changes(live: dict):  # as CGrateS, ids that are not there are no error
        return [(ACTIONS, action_id, None) for action_id in ids if action_id in live[ACTIONS]]

    node.tariffplans.change_live(changes)
    return OK
