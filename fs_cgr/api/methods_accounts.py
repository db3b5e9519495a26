"""Account and balance methods of APIerSv1/APIerSv2, with CGrateS v0.10's names and shapes.

APIerSv1.GetAccount(s) reply with CGrateS' legacy structure, APIerSv2 with the
current one (fs_cgr.accounts.views). Usage records (DebitUsage, GetMaxUsage)
are CGrateS' UsageRecord: Tenant, Category, Account, Subject, Destination, ToR,
SetupTime, AnswerTime, Usage ("90s", or a bare number of nanoseconds).
"""

from fs_cgr.accounts import actions as acts
from fs_cgr.accounts.views import account_view, legacy_account_view
from fs_cgr.api.registry import rpc
from fs_cgr.durations import parse_duration
from fs_cgr.errors import CGRError, InvalidArgument, MandatoryMissing, NotFound, ServerError
from fs_cgr.rating import CallDescriptor
from fs_cgr.storage.base import ACTIONS
from fs_cgr.times import parse_time

OK = "OK"
READ_WAIT = 2.0  # seconds an account read waits for the triggers of changes before it


class Exists(CGRError):
    code = "EXISTS"


def _text(params: dict, *names: str) -> str:
    """The first non-empty spelling of a field (``ActionPlanID``/``ActionPlanId``)."""
    for name in names:
        value = params.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def _require(params: dict, *names: str) -> None:
    missing = [name for name in names if params.get(name) in (None, "", 0)]
    if missing:
        raise MandatoryMissing(*missing)


def _options(params: dict) -> dict:
    """ExtraOptions {AllowNegative, Disabled}; older clients send them at the top level."""
    options = params.get("ExtraOptions") or {}
    given = {}
    for name in ("AllowNegative", "Disabled"):
        if name in options:
            given[name] = bool(options[name])
        elif name in params:
            given[name] = bool(params[name])
    return given


def _server_error(exc: CGRError) -> CGRError:
    """CGrateS wraps engine errors of these methods as ``SERVER_ERROR: <error>``."""
    return exc if exc.message.startswith("SERVER_ERROR") else ServerError(exc.message)


# -- accounts ----------------------------------------------------------------------------
@rpc("APIerSv1.SetAccount")
def set_account(node, params: dict) -> str:
    plan = _text(params, "ActionPlanID")
    triggers = _text(params, "ActionTriggersID")
    return _set_account(node, params, [plan] if plan else [], bool(plan), triggers)


@rpc("APIerSv2.SetAccount")
def set_account_v2(node, params: dict) -> str:
    plans = list(params.get("ActionPlanIDs") or ())
    overwrite = bool(params.get("ActionPlansOverwrite"))
    triggers = [str(t) for t in params.get("ActionTriggerIDs") or ()]
    _set_account(node, params, plans, overwrite, "")
    if triggers:
        node.accounts.add_triggers(
            params["Tenant"],
            params["Account"],
            triggers,
            overwrite=bool(params.get("ActionTriggerOverwrite")),
        )
    return OK


def _set_account(node, params: dict, plan_ids: list, overwrite_plans: bool, triggers: str) -> str:
    """SetAccount of either version; they differ only in how they name plans and triggers."""
    _require(params, "Tenant", "Account")
    options = _options(params)
    try:
        node.accounts.set_account(
            params["Tenant"],
            params["Account"],
            allow_negative=options.get("AllowNegative"),
            disabled=options.get("Disabled"),
            action_plan_ids=plan_ids,
            overwrite_plans=overwrite_plans,
            action_triggers_id=triggers,
        )
    except CGRError as exc:
        raise _server_error(exc) from None
    return OK


@rpc("APIerSv1.GetAccount")
def get_account(node, params: dict) -> dict:
    """CGrateS' legacy structure (``Id`` = "*out:tenant:account", types suffixed "*out")."""
    return legacy_account_view(_account(node, params))


@rpc("APIerSv2.GetAccount")
def get_account_v2(node, params: dict) -> dict:
    return account_view(_account(node, params))


def _account(node, params: dict):
    tenant, account = _text(params, "Tenant"), _text(params, "Account")
    if not tenant or not account:
        raise NotFound()
    node.accounts.changes.wait(tenant, account, READ_WAIT)
    return node.accounts.get_account(tenant, account)


@rpc("APIerSv1.GetAccounts")
def get_accounts(node, params: dict) -> list:
    return [legacy_account_view(account) for account in _accounts(node, params)]


@rpc("APIerSv2.GetAccounts")
def get_accounts_v2(node, params: dict) -> list:
    return [account_view(account) for account in _accounts(node, params)]


def _accounts(node, params: dict) -> list:
    _require(params, "Tenant")
    node.accounts.changes.wait(timeout=READ_WAIT)  # the changes queued before this request
    accounts = node.accounts.get_accounts(
        params["Tenant"],
        [str(a) for a in params.get("AccountIDs") or ()],
        offset=int(params.get("Offset") or 0),
        limit=int(params.get("Limit") or 0),
    )
    wanted = params.get("Filter") or {}
    return [
        account
        for account in accounts
        if wanted.get("AllowNegative", account.allow_negative) == account.allow_negative
        and wanted.get("Disabled", account.disabled) == account.disabled
    ]


@rpc("APIerSv1.GetAccountsCount")
def get_accounts_count(node, params: dict) -> int:
    _require(params, "Tenant")
    return node.accounts.count(params["Tenant"])


@rpc("APIerSv1.RemoveAccount")
def remove_account(node, params: dict) -> str:
    _require(params, "Tenant", "Account")
    node.accounts.remove_account(params["Tenant"], params["Account"])
    return OK


# -- balances ---------------------------------------------------------------------------
@rpc("APIerSv1.AddBalance")
def add_balance(node, params: dict) -> str:
    """*topup (``Overwrite``: *topup_reset) of the balances ``Balance`` selects."""
    return _modify_balance(node, params, debit=False)


@rpc("APIerSv1.DebitBalance")
def debit_balance(node, params: dict) -> str:
    return _modify_balance(node, params, debit=True)


def _modify_balance(node, params: dict, *, debit: bool) -> str:
    _require(params, "Tenant", "Account", "BalanceType", "Value")
    node.accounts.add_balance(
        params["Tenant"],
        params["Account"],
        params["BalanceType"],
        params["Value"],
        params.get("Balance"),
        overwrite=bool(params.get("Overwrite")),
        debit=debit,
    )
    return OK


@rpc("APIerSv1.SetBalance")
def set_balance(node, params: dict) -> str:
    _require(params, "Tenant", "Account", "BalanceType")
    node.accounts.set_balance(
        params["Tenant"],
        params["Account"],
        params["BalanceType"],
        params.get("Value"),
        params.get("Balance"),
    )
    return OK


@rpc("APIerSv1.RemoveBalances")
def remove_balances(node, params: dict) -> str:
    _require(params, "Tenant", "Account", "BalanceType")
    node.accounts.remove_balances(
        params["Tenant"], params["Account"], params["BalanceType"], params.get("Balance")
    )
    return OK


# -- usage ------------------------------------------------------------------------------
def _usage_record(node, params: dict, default_usage: int | None = None) -> CallDescriptor:
    """A CGrateS UsageRecord as a CallDescriptor (defaults as APIerSv1 fills them)."""
    general = node.config.general
    account = _text(params, "Account")
    start_text = _text(params, "AnswerTime") or _text(params, "SetupTime") or "*now"
    try:
        start = parse_time(start_text)
        usage = parse_duration(params.get("Usage")) if _text(params, "Usage") else default_usage
    except ValueError as exc:
        raise ServerError(str(exc)) from None
    if usage is None or usage < 0:
        raise InvalidArgument(f"Usage: {params.get('Usage')!r}")
    return CallDescriptor(
        _text(params, "Tenant") or general.default_tenant,
        _text(params, "Category") or general.default_category,
        _text(params, "Subject") or account,
        _text(params, "Destination"),
        start,
        account=account,
        tor=_text(params, "ToR") or "*voice",
        usage=usage,
    )


@rpc("APIerSv1.DebitUsage")
def debit_usage(node, params: dict) -> str:
    """Debit the usage's cost; the account may go negative (as CGrateS)."""
    record = params.get("UsageRecord") if isinstance(params.get("UsageRecord"), dict) else params
    return _debit_usage(node, record, allow_negative=True)


@rpc("APIerSv1.DebitUsageWithOptions")
def debit_usage_with_options(node, params: dict) -> str:
    """``{"UsageRecord": {...}, "AllowNegativeAccount": bool}``: without it a debit stops at
    the last increment the balances pay for whole."""
    record = params.get("UsageRecord")
    if not isinstance(record, dict):
        raise MandatoryMissing("UsageRecord")
    return _debit_usage(node, record, allow_negative=bool(params.get("AllowNegativeAccount")))


def _debit_usage(node, record: dict, *, allow_negative: bool) -> str:
    _require(record, "Account", "Destination", "Usage")
    cd = _usage_record(node, record)
    try:
        node.accounts.debit(cd, allow_negative=allow_negative)
    except CGRError as exc:
        raise _server_error(exc) from None
    return OK


@rpc("APIerSv1.GetMaxUsage")
def get_max_usage(node, params: dict) -> int:
    """Nanoseconds the account can pay for (Usage defaults to sessions.max_call_duration);
    -1 for an account allowed to go negative."""
    cd = _usage_record(node, params, default_usage=node.config.sessions.max_call_duration)
    return node.accounts.max_usage(cd)


# -- actions ----------------------------------------------------------------------------
@rpc("APIerSv1.ExecuteAction")
def execute_action(node, params: dict) -> str:
    _require(params, "Tenant", "Account", "ActionsId")
    node.accounts.execute_actions(params["Tenant"], params["Account"], params["ActionsId"])
    return OK


@rpc("APIerSv1.SetActions")
def set_actions(node, params: dict) -> str:
    """Store live actions (checked first: unknown action types are refused)."""
    _require(params, "ActionsId", "Actions")
    actions_id = params["ActionsId"]
    doc = {"ID": actions_id, "Actions": list(params["Actions"])}
    acts.parse_actions(doc)
    if not params.get("Overwrite") and actions_id in node.tariffplans.live().get(ACTIONS, {}):
        raise Exists()
    node.tariffplans.apply_live([(ACTIONS, actions_id, doc)])
    return OK


@rpc("APIerSv1.GetActions", scalar_param="ActionsId")
def get_actions(node, params: dict) -> list:
    _require(params, "ActionsId")
    return list(node.tariffplans.live_object(ACTIONS, str(params["ActionsId"]))["Actions"])


@rpc("APIerSv2.GetActions")
def get_actions_v2(node, params: dict) -> dict:
    """``{"ActionIDs": [...], "Offset", "Limit"}`` (all when none): {id: [engine.Action]}."""
    live = node.tariffplans.live().get(ACTIONS, {})
    ids = [str(i) for i in params.get("ActionIDs") or () if i] or sorted(live)
    offset = min(max(int(params.get("Offset") or 0), 0), len(ids))
    limit = int(params.get("Limit") or 0)
    ids = ids[offset : offset + limit] if limit else ids[offset:]
    found = {}
    for actions_id in ids:
        if actions_id not in live:
            raise ServerError(NotFound().message)
        actions = acts.parse_actions(live[actions_id])
        if actions:
            found[actions_id] = [action.view() for action in actions]
    return found
