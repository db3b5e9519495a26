"""Action trigger methods of APIerSv1 (CGrateS v0.10 names, shapes and errors)."""

from contextlib import contextmanager

from fs_cgr.accounts import triggers as trig
from fs_cgr.api.registry import rpc
from fs_cgr.errors import AccountNotFound, MandatoryMissing, NotFound, ServerError
from fs_cgr.storage.base import ACTION_TRIGGERS
from fs_cgr.times import parse_time

OK = "OK"


@contextmanager
def _as_cgrates_not_found():
    """CGrateS answers a missing account of these methods with its DataDB's NOT_FOUND."""
    try:
        yield
    except AccountNotFound:
        raise NotFound() from None


def _require(params: dict, *names: str) -> None:
    missing = [name for name in names if not params.get(name)]
    if missing:
        raise MandatoryMissing(*missing)


@rpc("APIerSv1.SetActionTrigger")
def set_action_trigger(node, params: dict) -> str:
    """``{"GroupID", "UniqueID", "ActionTrigger": {ThresholdType, ThresholdValue, ...}}``:
    update the trigger of the group with that UniqueID, or add one."""
    _require(params, "GroupID")
    group_id = str(params["GroupID"])
    fields = dict(params.get("ActionTrigger") or {})

    def changes(live: dict):
        current = live.get(ACTION_TRIGGERS, {}).get(group_id)
        group = trig.set_in_group(current, group_id, str(params.get("UniqueID") or ""), fields)
        return [(ACTION_TRIGGERS, group_id, group)]

    node.tariffplans.change_live(changes)
    return OK


@rpc("APIerSv1.GetActionTriggers")
def get_action_triggers(node, params: dict) -> list:
    """The triggers of the groups named in GroupIDs (every group when none)."""
    groups = node.tariffplans.live().get(ACTION_TRIGGERS, {})
    wanted = [str(g) for g in params.get("GroupIDs") or ()]
    if not wanted:
        wanted = sorted(groups)
        if not wanted:
            raise NotFound()
    found = []
    for group_id in wanted:
        if group_id not in groups:
            raise NotFound()
        found.extend(t.view() for t in trig.group_triggers(groups[group_id]))
    return found


@rpc("APIerSv1.RemoveActionTrigger")
def remove_action_trigger(node, params: dict) -> str:
    """The whole group, or only its trigger with UniqueID."""
    _require(params, "GroupID")
    group_id, unique_id = str(params["GroupID"]), str(params.get("UniqueID") or "")

    def changes(live: dict):
        group = live.get(ACTION_TRIGGERS, {}).get(group_id)
        if not unique_id:  # as CGrateS, removing a group that is not there is no error
            return [(ACTION_TRIGGERS, group_id, None)] if group is not None else []
        if group is None:
            raise NotFound()
        kept = [p for p in group.get("ActionTriggers") or () if p.get("UniqueID") != unique_id]
        return [(ACTION_TRIGGERS, group_id, {**group, "ActionTriggers": kept})]

    node.tariffplans.change_live(changes)
    return OK


@rpc("APIerSv1.AddAccountActionTriggers")
def add_account_action_triggers(node, params: dict) -> str:
    """``{"Tenant", "Account", "ActionTriggerIDs", "ActionTriggerOverwrite",
    "ActivationDate", "Executed"}``: copy the groups' triggers into the account."""
    _require(params, "Tenant", "Account")
    with _as_cgrates_not_found():
        node.accounts.add_triggers(
            params["Tenant"],
            params["Account"],
            [str(g) for g in params.get("ActionTriggerIDs") or ()],
            overwrite=bool(params.get("ActionTriggerOverwrite")),
            activation=parse_time(params.get("ActivationDate") or None),
            executed=bool(params.get("Executed")),
        )
    return OK


@rpc("APIerSv1.GetAccountActionTriggers")
def get_account_action_triggers(node, params: dict) -> list:
    _require(params, "Tenant", "Account")
    try:
        account = node.accounts.get_account(params["Tenant"], params["Account"])
    except NotFound as exc:
        raise ServerError(exc.message) from None
    return [t.view() for t in trig.account_triggers(account)]


@rpc("APIerSv1.RemoveAccountActionTriggers")
def remove_account_action_triggers(node, params: dict) -> str:
    """Remove the account's triggers of GroupID and/or UniqueID (all when neither)."""
    _require(params, "Tenant", "Account")
    group_id, unique_id = str(params.get("GroupID") or ""), str(params.get("UniqueID") or "")

    def edit(docs: list) -> list:
        return [doc for doc in docs if not trig.is_named(doc, group_id, unique_id)]

    with _as_cgrates_not_found():
        node.accounts.change_triggers(params["Tenant"], params["Account"], edit)
    return OK


@rpc("APIerSv1.ResetAccountActionTriggers")
def reset_account_action_triggers(node, params: dict) -> str:
    """Set Executed (default false: armed again, and checked at once) on the account's
    triggers of GroupID and/or UniqueID."""
    _require(params, "Tenant", "Account")
    group_id, unique_id = str(params.get("GroupID") or ""), str(params.get("UniqueID") or "")
    executed = bool(params.get("Executed"))

    def edit(docs: list) -> list:
        for doc in docs:
            if trig.is_named(doc, group_id, unique_id):
                doc["Executed"] = executed
        return docs

    with _as_cgrates_not_found():
        node.accounts.change_triggers(params["Tenant"], params["Account"], edit)
    return OK
