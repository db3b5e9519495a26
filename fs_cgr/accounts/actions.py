"""Actions (Actions.csv, AddBalance, SetBalance, ...) applied to an Account, as CGrateS does.

An action names a type (``*topup``, ``*set_balance``, ...) and a balance filter:
the fields it gives select the balances it acts on (by UUID, else by ID, else by
every other field given) and describe the balance it creates when none matches.
Parsing checks everything (unknown action types, bad units, bad expiry) so a
tariff plan is refused at load time, not when the action runs.
"""

import calendar
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from fs_cgr import times
from fs_cgr.accounts.model import (
    ANY,
    DEFAULT_BALANCE_ID,
    MONETARY,
    VOICE,
    Account,
    Balance,
    new_uuid,
    parse_string_map,
)
from fs_cgr.durations import parse_duration
from fs_cgr.errors import CGRError, InvalidArgument, NotFound
from fs_cgr.money import ZERO, to_decimal
from fs_cgr.storage.base import ACTION_PLANS, ACTIONS

log = logging.getLogger(__name__)

TOPUP = "*topup"
TOPUP_RESET = "*topup_reset"
DEBIT = "*debit"
DEBIT_RESET = "*debit_reset"
TOPUP_ZERO_NEGATIVE = "*topup_zero_negative"
SET_BALANCE = "*set_balance"
REMOVE_BALANCE = "*remove_balance"
SET_EXPIRY = "*set_expiry"
TRANSFER_MONETARY_DEFAULT = "*transfer_monetary_default"
RESET_ACCOUNT = "*reset_account"
ENABLE_ACCOUNT = "*enable_account"
DISABLE_ACCOUNT = "*disable_account"
ALLOW_NEGATIVE = "*allow_negative"
DENY_NEGATIVE = "*deny_negative"
LOG = "*log"
REMOVE_ACCOUNT = "*remove_account"
RESET_TRIGGERS = "*reset_triggers"
RESET_COUNTERS = "*reset_counters"
SET_RECURRENT = "*set_recurrent"
UNSET_RECURRENT = "*unset_recurrent"
CDRLOG = "*cdrlog"
HTTP_POST = "*http_post"
HTTP_POST_ASYNC = "*http_post_async"
# Actions that reach outside the account: collected while the list runs, done by the
# AccountService once the account's change is written (an action list that fails or
# loses its compare-and-set sends nothing).
EFFECTS = frozenset({CDRLOG, HTTP_POST, HTTP_POST_ASYNC})

# CGrateS action types fs_cgr accepts in a tariff plan but does not perform (they talk to
# services fs_cgr does not have); running one logs a warning.
NOT_PERFORMED = frozenset(
    {
        "*mail_async",
        "*set_ddestinations",
        "*cgr_rpc",
        "*publish_account",
        "*publish_balance",
        "*amqp_json_map",
        "*amqpv1_json_map",
        "*sqs_json_map",
        "*kafka_json_map",
        "*s3_json_map",
        "*remove_session_costs",
        "*remove_expired",
        "*post_event",
        "*cdr_account",
    }
)


class ActionError(CGRError):
    """An action that cannot run on this account; the whole action list changes nothing."""

    code = "PARTIALLY_EXECUTED"


@dataclass(slots=True)
class BalanceFilter:
    """CGrateS' BalanceFilter: None = not given. ``expiry_text`` is resolved when the
    action runs (relative forms such as "*monthly" count from then)."""

    uuid: str | None = None
    id: str | None = None
    type: str | None = None
    value: Decimal | None = None
    expiry_text: str | None = None
    weight: Decimal | None = None
    destination_ids: dict | None = None
    rating_subject: str | None = None
    categories: dict | None = None
    shared_groups: dict | None = None
    timing_ids: dict | None = None
    disabled: bool | None = None
    blocker: bool | None = None

    def expiry(self, now: datetime) -> datetime | None:
        return resolve_expiry(self.expiry_text, now)

    def matches(self, balance: Balance, now: datetime, *, check_expiry: bool = True) -> bool:
        """CGrateS' Balance.MatchFilter: a UUID or an ID decides alone; otherwise every
        given field must agree (maps: the balance includes the filter's entries)."""
        if self.uuid:
            return balance.uuid == self.uuid
        if self.id:
            return balance.id == self.id
        if check_expiry and self.expiry_text is not None and balance.expiry != self.expiry(now):
            return False
        return (
            _same(self.weight, balance.weight)
            and _same(self.blocker, balance.blocker)
            and _same(self.disabled, balance.disabled)
            and _same(self.rating_subject, balance.rating_subject)
            and _includes(balance.destination_ids, self.destination_ids)
            and _includes(balance.categories, self.categories)
            and _includes(balance.timing_ids, self.timing_ids)
            and _includes(balance.shared_groups, self.shared_groups)
        )

    def view(self) -> dict:
        """CGrateS' BalanceFilter JSON: fields not given are null (Value as a ValueFormula)."""
        return {
            "Uuid": self.uuid,
            "ID": self.id,
            "Type": self.type,
            "Value": None
            if self.value is None
            else {"Method": "", "Params": None, "Static": self.value},
            "ExpirationDate": None,
            "Weight": self.weight,
            "DestinationIDs": self.destination_ids,
            "RatingSubject": self.rating_subject,
            "Categories": self.categories,
            "SharedGroups": self.shared_groups,
            "TimingIDs": self.timing_ids,
            "Timings": None,
            "Disabled": self.disabled,
            "Factor": None,
            "Blocker": self.blocker,
        }

    def create(self, balance_type: str, value: Decimal, now: datetime) -> Balance:
        """A new balance from the filter's fields (CGrateS' CreateBalance)."""
        if self.id == DEFAULT_BALANCE_ID:
            return Balance(new_uuid(), balance_type, DEFAULT_BALANCE_ID, value)
        balance = Balance(new_uuid(), balance_type, value=value)
        self.modify(balance, now)
        balance.value = value
        return balance

    def modify(self, balance: Balance, now: datetime) -> None:
        """Set every given field on ``balance`` (CGrateS' ModifyBalance)."""
        for name in (
            "id",
            "value",
            "weight",
            "destination_ids",
            "rating_subject",
            "categories",
            "shared_groups",
            "timing_ids",
            "disabled",
            "blocker",
        ):
            given = getattr(self, name)
            if given is not None:
                setattr(balance, name, given)
        if self.expiry_text is not None:
            balance.expiry = self.expiry(now)


def _same(wanted, actual) -> bool:
    return wanted is None or wanted == actual


def _includes(have: dict, wanted: dict | None) -> bool:
    return wanted is None or all(have.get(key, False) for key in wanted)


@dataclass(slots=True)
class Action:
    type: str
    balance: BalanceFilter = field(default_factory=BalanceFilter)
    weight: Decimal = ZERO
    extra_parameters: str = ""
    actions_id: str = ""
    expiry_text: str = ""

    def view(self) -> dict:
        """CGrateS' engine.Action JSON (APIerSv2.GetActions)."""
        return {
            "Id": self.actions_id,
            "ActionType": self.type,
            "ExtraParameters": self.extra_parameters,
            "Filter": "",
            "ExpirationString": self.expiry_text,
            "Weight": self.weight,
            "Balance": self.balance.view(),
        }


def resolve_expiry(text: str | None, now: datetime) -> datetime | None:
    """An expiry as CGrateS writes it: "*unlimited"/"" = never, "*daily", "*month" (or
    "*monthly"), "*year" (or "*yearly"), "*month_end[+dur]", "+720h", or a time.
    Raises ValueError."""
    text = (text or "").strip()
    if text in ("", "*unlimited"):
        return None
    if text == "*daily":
        return now + timedelta(days=1)
    if text in ("*month", "*monthly"):
        return _add_months(now, 1)
    if text in ("*year", "*yearly"):
        return _add_months(now, 12)
    if text.startswith("*month_end"):
        last_day = calendar.monthrange(now.year, now.month)[1]
        end = now.replace(day=last_day, hour=23, minute=59, second=59, microsecond=0)
        return end + _extra(text, "*month_end")
    if text.startswith("+"):  # from when the action runs (the scheduler's clock), not now
        return now + _extra(text, "")
    return times.parse_time(text)


def _extra(text: str, head: str) -> timedelta:
    rest = text[len(head) :].lstrip("+")
    return timedelta(microseconds=parse_duration(rest) // 1000) if rest else timedelta()


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


# -- parsing ---------------------------------------------------------------------------


def parse_units(balance_type: str | None, value) -> Decimal | None:
    """A balance value as Actions.csv/the API write it: durations for *voice ("90s", or a
    bare number of ns), plain numbers otherwise; "" and "*any" mean not given."""
    if value is None or value == "" or value == ANY:
        return None
    if balance_type == VOICE and isinstance(value, str):
        return Decimal(parse_duration(value))
    return to_decimal(value)


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", ANY) else text


def _flag(value) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if text in ("", ANY):
        return None
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"invalid boolean {value!r}")


def _map(value) -> dict | None:
    return parse_string_map(value) if _text(value) is not None or isinstance(value, dict) else None


def parse_action(doc: dict, actions_id: str = "") -> Action:
    """One entry of an ``actions`` document (TPAction field names). Raises InvalidArgument."""
    kind = str(doc.get("Identifier", "")).strip()
    try:
        if not kind:
            raise ValueError("missing Identifier")
        if not (kind in PERFORMERS or kind in (REMOVE_ACCOUNT, *EFFECTS) or kind in NOT_PERFORMED):
            raise ValueError(f"unknown action {kind!r}")
        if _text(doc.get("Filter")) is not None:
            raise ValueError("action filters are not supported")
        balance_type = _text(doc.get("BalanceType"))
        balance = BalanceFilter(
            id=_text(doc.get("BalanceId")),
            type=balance_type,
            value=parse_units(balance_type, doc.get("Units")),
            expiry_text=_text(doc.get("ExpiryTime")),
            weight=_decimal(doc.get("BalanceWeight")),
            destination_ids=_map(doc.get("DestinationIds")),
            rating_subject=_text(doc.get("RatingSubject")),
            categories=_map(doc.get("Categories")),
            shared_groups=_map(doc.get("SharedGroups")),
            timing_ids=_map(doc.get("TimingTags")),
            disabled=_flag(doc.get("BalanceDisabled")),
            blocker=_flag(doc.get("BalanceBlocker")),
        )
        resolve_expiry(balance.expiry_text, times.now())
        return Action(
            type=kind,
            balance=balance,
            weight=_decimal(doc.get("Weight")) or ZERO,
            extra_parameters=str(doc.get("ExtraParameters") or ""),
            actions_id=actions_id,
            expiry_text=str(doc.get("ExpiryTime") or ""),
        )
    except ValueError as exc:
        raise InvalidArgument(f"actions {actions_id or '?'}: {exc}") from None


def _decimal(value) -> Decimal | None:
    text = _text(value)
    return None if text is None else to_decimal(value)


def parse_actions(doc: dict) -> list[Action]:
    """An ``actions`` document, sorted to run in CGrateS' order (highest Weight first)."""
    actions_id = doc.get("ID", "")
    actions = [parse_action(entry, actions_id) for entry in doc.get("Actions") or ()]
    actions.sort(key=lambda action: -action.weight)
    return actions


def check_live(live: dict) -> None:
    """Refuse live actions and action plans that could not run (unknown action types, bad
    units or expiry, plans naming missing actions): InvalidArgument, before anything is
    written."""
    actions = live.get(ACTIONS) or {}
    for doc in actions.values():
        parse_actions(doc)
    for plan_id, plan in (live.get(ACTION_PLANS) or {}).items():
        for entry in plan.get("ActionPlan") or ():
            if entry.get("ActionsId") not in actions:
                raise InvalidArgument(
                    f"action plan {plan_id}: no actions {entry.get('ActionsId')!r}"
                )


def balance_filter_from_params(balance_type: str, params: dict | None) -> BalanceFilter:
    """The ``Balance`` map of AddBalance/SetBalance/RemoveBalances (CGrateS' NewBalanceFilter)."""
    params = params or {}
    value = parse_units(balance_type, params.get("Value"))
    try:
        balance = BalanceFilter(
            uuid=_text(params.get("UUID")) if "UUID" in params else None,
            id=str(params["ID"]) if "ID" in params else None,
            type=balance_type,
            value=abs(value) if value is not None else None,
            expiry_text=str(params["ExpiryTime"]) if "ExpiryTime" in params else None,
            weight=to_decimal(params["Weight"]) if "Weight" in params else None,
            destination_ids=_given_map(params, "DestinationIDs"),
            rating_subject=str(params["RatingSubject"]) if "RatingSubject" in params else None,
            categories=_given_map(params, "Categories"),
            shared_groups=_given_map(params, "SharedGroups"),
            timing_ids=_given_map(params, "TimingIDs"),
            disabled=_flag(params.get("Disabled")),
            blocker=_flag(params.get("Blocker")),
        )
        resolve_expiry(balance.expiry_text, times.now())
        return balance
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


def _given_map(params: dict, key: str) -> dict | None:
    return parse_string_map(params[key]) if key in params else None


# -- execution ---------------------------------------------------------------------------


@dataclass(slots=True)
class Effect:
    """An action that reaches outside the account (``*cdrlog``, ``*http_post``): done once
    the change is written. ``account`` is the account as the action saw it; ``actions``
    the whole list (``*cdrlog`` logs its balance actions)."""

    action: Action
    actions: list[Action]
    account: Account


def execute(
    account: Account, actions: list[Action], now: datetime, effects: list | None = None
) -> bool:
    """Run ``actions`` on ``account`` in order (changed in place). Returns True when one of
    them asks to remove the account. Actions reaching outside the account are appended to
    ``effects`` (dropped when None). Raises ActionError; the caller then keeps nothing."""
    remove = False
    for action in actions:
        if action.type == REMOVE_ACCOUNT:
            remove = True
            continue
        if action.type in EFFECTS:
            if effects is not None:
                effects.append(Effect(action, actions, account.copy()))
            continue
        perform = PERFORMERS.get(action.type)
        if perform is None:
            log.warning("action %s of %s is not supported; skipped", action.type, action.actions_id)
            continue
        perform(account, action, now)
    return remove


def _matching(account: Account, action: Action, now: datetime, **options) -> list[Balance]:
    return [
        balance
        for balance in account.balances.get(action.balance.type or "", ())
        if not balance.is_expired(now) and action.balance.matches(balance, now, **options)
    ]


def _change_value(account, action, now, *, sign: int, reset: bool, reset_negative=False):
    """CGrateS' debitBalanceAction: add ``sign * value`` to every matching balance, or
    create one holding it."""
    if not action.balance.type:
        raise ActionError(f"{action.type}: missing balance type")
    amount = sign * (action.balance.value or ZERO)
    found = False
    for balance in _matching(account, action, now):
        if reset or (reset_negative and balance.value < 0):
            balance.value = ZERO
        balance.add(amount)
        found = True
    if not found:
        account.add_balance(action.balance.create(action.balance.type, amount, now))


def _topup(account, action, now):
    _change_value(account, action, now, sign=1, reset=False)


def _topup_reset(account, action, now):
    _change_value(account, action, now, sign=1, reset=True)


def _topup_zero_negative(account, action, now):
    _change_value(account, action, now, sign=1, reset=False, reset_negative=True)


def _debit(account, action, now):
    _change_value(account, action, now, sign=-1, reset=False)


def _debit_reset(account, action, now):
    _change_value(account, action, now, sign=-1, reset=True)


def _set_balance(account: Account, action: Action, now: datetime) -> None:
    """CGrateS' setBalanceAction: the balance with this UUID (must exist) or ID (created when
    missing) takes every field the action gives."""
    wanted = action.balance
    target = None
    for balance in account.iter_balances():
        if balance.is_expired(now):
            continue
        if (wanted.uuid and balance.uuid == wanted.uuid) or (
            not wanted.uuid and wanted.id is not None and balance.id == wanted.id
        ):
            target = balance
            break
    if target is None:
        if wanted.uuid:
            raise ActionError(f"cannot find balance with uuid: <{wanted.uuid}>")
        if not wanted.type:
            raise ActionError("missing balance type")
        target = account.add_balance(Balance(new_uuid(), wanted.type))
    if wanted.id == DEFAULT_BALANCE_ID:
        if wanted.value is not None:
            target.id, target.value = DEFAULT_BALANCE_ID, wanted.value
        return
    wanted.modify(target, now)


def _remove_balance(account: Account, action: Action, now: datetime) -> None:
    chain = account.balances.get(action.balance.type or "")
    if not chain:
        raise ActionError(NotFound().message)
    kept = [b for b in chain if not action.balance.matches(b, now)]
    if len(kept) == len(chain):
        raise ActionError(NotFound().message)
    account.balances[action.balance.type] = kept


def _set_expiry(account: Account, action: Action, now: datetime) -> None:
    for balance in account.balances.get(action.balance.type or "", ()):
        if action.balance.matches(balance, now, check_expiry=False):
            balance.expiry = action.balance.expiry(now)


def _transfer_monetary_default(account: Account, action: Action, now: datetime) -> None:
    if MONETARY not in account.balances:
        raise ActionError(NotFound().message)
    default = account.default_monetary()
    for balance in account.balances[MONETARY]:
        if balance is not default and action.balance.matches(balance, now) and balance.value > 0:
            default.add(balance.value)
            balance.value = ZERO


def _reset_account(account: Account, action: Action, now: datetime) -> None:
    """CGrateS' genericReset: each balance chain becomes one empty balance."""
    for kind in account.balances:
        account.balances[kind] = [Balance(new_uuid(), kind)]


def _set_flag(name: str, value: bool):
    def perform(account: Account, action: Action, now: datetime) -> None:
        setattr(account, name, value)

    return perform


def _change_triggers(account: Account, action: Action, only_counters=False, **fields) -> None:
    """Set ``fields`` on the account's triggers the action names by balance type and id
    (CGrateS' ActionTrigger.Match; none given = all). Trigger documents are replaced,
    never changed in place: copies of the account share them."""
    for index, trigger in enumerate(account.action_triggers):
        watched = trigger.get("Balance") or {}
        if only_counters and "_counter" not in trigger.get("ThresholdType", ""):
            continue
        if action.balance.type and watched.get("Type") != action.balance.type:
            continue
        if action.balance.id and watched.get("ID") != action.balance.id:
            continue
        account.action_triggers[index] = {**trigger, **fields}


def _reset_triggers(account: Account, action: Action, now: datetime) -> None:
    """Arm the triggers again; they are checked once the change is written."""
    _change_triggers(account, action, Executed=False)


def _reset_counters(account: Account, action: Action, now: datetime) -> None:
    """The *_event_counter triggers' counters back to 0."""
    _change_triggers(account, action, Counter="0", only_counters=True)


def _set_recurrent(value: bool):
    def perform(account: Account, action: Action, now: datetime) -> None:
        _change_triggers(account, action, Recurrent=value)

    return perform


def _log(account: Account, action: Action, now: datetime) -> None:
    log.info("LOG Account: %s", json.dumps(account.to_doc(), sort_keys=True))


PERFORMERS = {
    TOPUP: _topup,
    TOPUP_RESET: _topup_reset,
    TOPUP_ZERO_NEGATIVE: _topup_zero_negative,
    DEBIT: _debit,
    DEBIT_RESET: _debit_reset,
    SET_BALANCE: _set_balance,
    REMOVE_BALANCE: _remove_balance,
    SET_EXPIRY: _set_expiry,
    TRANSFER_MONETARY_DEFAULT: _transfer_monetary_default,
    RESET_ACCOUNT: _reset_account,
    ENABLE_ACCOUNT: _set_flag("disabled", False),
    DISABLE_ACCOUNT: _set_flag("disabled", True),
    ALLOW_NEGATIVE: _set_flag("allow_negative", True),
    DENY_NEGATIVE: _set_flag("allow_negative", False),
    LOG: _log,
    RESET_TRIGGERS: _reset_triggers,
    RESET_COUNTERS: _reset_counters,
    SET_RECURRENT: _set_recurrent(True),
    UNSET_RECURRENT: _set_recurrent(False),
}
