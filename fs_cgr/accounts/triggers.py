"""Action triggers (CGrateS' engine.ActionTrigger): actions run when a balance crosses a value.

A trigger group (ActionTriggers.csv rows with one ID, or ``SetActionTrigger``) is a
live object: ``{"ID": group, "ActionTriggers": [params]}`` where each ``params`` is
the flat map ``SetActionTrigger`` takes (ThresholdType, ThresholdValue,
BalanceType, ...), so an update merges field by field. Attaching a group to an
account copies its triggers into the account, where each keeps its own
``Executed`` flag (shown by GetAccount).

Triggers are checked after an account changed (``AccountChanges``), never inside
the change: see ``TriggerListener``.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from fs_cgr.accounts.actions import BalanceFilter
from fs_cgr.accounts.model import Account, new_uuid, parse_string_map, string_map_text
from fs_cgr.durations import parse_duration
from fs_cgr.encoded import EncodedList
from fs_cgr.errors import InvalidArgument, MandatoryMissing
from fs_cgr.money import ZERO, to_decimal
from fs_cgr.storage.base import ACTION_TRIGGERS, ACTIONS
from fs_cgr.times import format_time, parse_time

MIN_BALANCE = "*min_balance"
MAX_BALANCE = "*max_balance"
BALANCE_EXPIRED = "*balance_expired"
MIN_EVENT_COUNTER = "*min_event_counter"
MAX_EVENT_COUNTER = "*max_event_counter"
THRESHOLD_TYPES = (MIN_BALANCE, MAX_BALANCE, BALANCE_EXPIRED, MIN_EVENT_COUNTER, MAX_EVENT_COUNTER)


@dataclass(slots=True)
class ActionTrigger:
    id: str
    unique_id: str
    threshold_type: str
    threshold_value: Decimal = ZERO
    recurrent: bool = False
    min_sleep: int = 0  # ns between two runs of a recurrent trigger
    expiration_date: datetime | None = None
    activation_date: datetime | None = None
    balance: BalanceFilter = field(default_factory=BalanceFilter)
    weight: Decimal = ZERO
    actions_id: str = ""
    min_queued_items: int = 0
    executed: bool = False
    last_execution_time: datetime | None = None
    counter: Decimal = ZERO  # *_event_counter: what the debits it counts took so far

    # -- when it fires -----------------------------------------------------------------
    def is_active(self, now: datetime) -> bool:
        return (self.activation_date is None or self.activation_date <= now) and (
            self.expiration_date is None or now < self.expiration_date
        )

    def sleeping(self, now: datetime) -> bool:
        """A recurrent trigger waits MinSleep after its last run."""
        if not self.recurrent or self.last_execution_time is None or not self.min_sleep:
            return False
        return (now - self.last_execution_time).total_seconds() * 1e9 < self.min_sleep

    def crossed(self, account: Account, now: datetime) -> bool:
        """Whether a balance (or, for the *_event_counter types, the counter) the trigger
        watches is past its threshold now."""
        if self.executed or not self.is_active(now) or self.sleeping(now):
            return False
        if self.threshold_type == MAX_EVENT_COUNTER:
            return self.counter >= self.threshold_value
        if self.threshold_type == MIN_EVENT_COUNTER:
            return self.counter <= self.threshold_value
        for balance in account.balances.get(self.balance.type or "", ()):
            if not self.balance.matches(balance, now):
                continue
            if self.threshold_type == BALANCE_EXPIRED:
                if balance.is_expired(now):
                    return True
            elif balance.is_expired(now):
                continue
            elif (
                self.threshold_type == MIN_BALANCE
                and balance.value <= self.threshold_value
                or self.threshold_type == MAX_BALANCE
                and balance.value >= self.threshold_value
            ):
                return True
        return False

    def matches_action(self, action_balance: BalanceFilter) -> bool:
        """CGrateS' ActionTrigger.Match for *reset_triggers / *set_recurrent: an action
        without balance type or id acts on every trigger."""
        if action_balance.type and action_balance.type != self.balance.type:
            return False
        return not action_balance.id or action_balance.id == self.balance.id

    # -- documents ---------------------------------------------------------------------
    def view(self) -> dict:
        """CGrateS' ActionTrigger JSON (GetAccount, GetActionTriggers)."""
        return {
            "ID": self.id,
            "UniqueID": self.unique_id,
            "ThresholdType": self.threshold_type,
            "ThresholdValue": self.threshold_value,
            "Recurrent": self.recurrent,
            "MinSleep": self.min_sleep,
            "ExpirationDate": format_time(self.expiration_date),
            "ActivationDate": format_time(self.activation_date),
            "Balance": self.balance.view(),
            "Weight": self.weight,
            "ActionsID": self.actions_id,
            "MinQueuedItems": self.min_queued_items,
            "Executed": self.executed,
            "LastExecutionTime": format_time(self.last_execution_time),
        }

    def counter_view(self) -> dict:
        """The CounterFilter of CGrateS' UnitCounters: the value and the filter it counts
        (with the trigger's UniqueID as balance ID when the filter names none)."""
        watched = self.balance.view()
        watched["ID"] = watched["ID"] or self.unique_id
        return {"Value": self.counter, "Filter": watched}

    def legacy_view(self) -> dict:
        """The ActionTrigger of CGrateS' old account structure (APIerSv1.GetAccount)."""
        watched = self.balance
        return {
            "Id": self.id,
            "ThresholdType": self.threshold_type,
            "ThresholdValue": self.threshold_value,
            "Recurrent": self.recurrent,
            "MinSleep": self.min_sleep,
            "BalanceId": watched.id or "",
            "BalanceType": watched.type or "",
            "BalanceDestinationIds": string_map_text(watched.destination_ids or {}),
            "BalanceWeight": watched.weight or ZERO,
            "BalanceExpirationDate": format_time(None),
            "BalanceTimingTags": string_map_text(watched.timing_ids or {}),
            "BalanceRatingSubject": watched.rating_subject or "",
            "BalanceCategory": string_map_text(watched.categories or {}),
            "BalanceSharedGroup": string_map_text(watched.shared_groups or {}),
            "BalanceDisabled": bool(watched.disabled),
            "Weight": self.weight,
            "ActionsId": self.actions_id,
            "MinQueuedItems": self.min_queued_items,
            "Executed": self.executed,
        }

    def to_doc(self) -> dict:
        """The stored form, kept in the account document: the view's names, only the
        fields that are set (every change of the account writes it again)."""
        full = self.view()
        full["ThresholdValue"], full["Weight"] = str(self.threshold_value), str(self.weight)
        full["Counter"] = str(self.counter)
        full["Balance"] = {k: v for k, v in full["Balance"].items() if v is not None}
        return {k: v for k, v in full.items() if v not in _UNSET}

    @classmethod
    def from_doc(cls, doc: dict) -> "ActionTrigger":
        balance = doc.get("Balance") or {}
        return cls(
            id=doc["ID"],
            unique_id=doc.get("UniqueID", ""),
            threshold_type=doc.get("ThresholdType", ""),
            threshold_value=to_decimal(doc.get("ThresholdValue") or 0),
            recurrent=bool(doc.get("Recurrent")),
            min_sleep=int(doc.get("MinSleep") or 0),
            expiration_date=parse_time(doc.get("ExpirationDate")),
            activation_date=parse_time(doc.get("ActivationDate")),
            balance=BalanceFilter(
                uuid=balance.get("Uuid"),
                id=balance.get("ID"),
                type=balance.get("Type"),
                weight=_decimal_or_none(balance.get("Weight")),
                destination_ids=balance.get("DestinationIDs"),
                rating_subject=balance.get("RatingSubject"),
                categories=balance.get("Categories"),
                shared_groups=balance.get("SharedGroups"),
                timing_ids=balance.get("TimingIDs"),
                disabled=balance.get("Disabled"),
                blocker=balance.get("Blocker"),
            ),
            weight=to_decimal(doc.get("Weight") or 0),
            actions_id=doc.get("ActionsID", ""),
            min_queued_items=int(doc.get("MinQueuedItems") or 0),
            executed=bool(doc.get("Executed")),
            last_execution_time=parse_time(doc.get("LastExecutionTime")),
            counter=to_decimal(doc.get("Counter") or 0),
        )


def _decimal_or_none(value) -> Decimal | None:
    return None if value is None else to_decimal(value)


_UNSET = (None, "", 0, False, "0", "0001-01-01T00:00:00Z", {})


# -- building triggers from SetActionTrigger maps and ActionTriggers.csv rows -----------

_FIELD_PARSERS = {
    "ThresholdType": ("threshold_type", str),
    "ThresholdValue": ("threshold_value", to_decimal),
    "Recurrent": ("recurrent", lambda v: _bool(v)),
    "Executed": ("executed", lambda v: _bool(v)),
    "MinSleep": ("min_sleep", parse_duration),
    "ExpirationDate": ("expiration_date", parse_time),
    "ActivationDate": ("activation_date", parse_time),
    "Weight": ("weight", to_decimal),
    "ActionsID": ("actions_id", str),
    "MinQueuedItems": ("min_queued_items", int),
}
_BALANCE_PARSERS = {
    "BalanceID": ("id", str),
    "BalanceType": ("type", str),
    "BalanceDestinationIds": ("destination_ids", lambda v: parse_string_map(v)),
    "BalanceWeight": ("weight", to_decimal),
    "BalanceRatingSubject": ("rating_subject", str),
    "BalanceCategories": ("categories", lambda v: parse_string_map(v)),
    "BalanceSharedGroups": ("shared_groups", lambda v: parse_string_map(v)),
    "BalanceTimingTags": ("timing_ids", lambda v: parse_string_map(v)),
    "BalanceBlocker": ("blocker", lambda v: _bool(v)),
    "BalanceDisabled": ("disabled", lambda v: _bool(v)),
}


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    raise ValueError(f"invalid boolean {value!r}")


def trigger_from_params(group_id: str, params: dict) -> ActionTrigger:
    """One trigger of a group from its SetActionTrigger map (unknown keys ignored, as
    CGrateS). Raises MandatoryMissing / InvalidArgument."""
    missing = [name for name in ("ThresholdType", "ThresholdValue") if name not in params]
    if missing:
        raise MandatoryMissing(*missing)
    trigger = ActionTrigger(group_id, str(params.get("UniqueID") or new_uuid()), "")
    balance = BalanceFilter()
    try:
        for parsers, target in ((_FIELD_PARSERS, trigger), (_BALANCE_PARSERS, balance)):
            for key, (name, parse) in parsers.items():
                value = params.get(key)
                if value is not None and value != "":
                    setattr(target, name, parse(value))
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise InvalidArgument(f"action trigger {group_id}: {exc}") from None
    if trigger.threshold_type not in THRESHOLD_TYPES:
        raise InvalidArgument(
            f"action trigger {group_id}: ThresholdType {trigger.threshold_type!r}"
        )
    trigger.balance = balance
    return trigger


def group_triggers(doc: dict) -> list[ActionTrigger]:
    """The triggers of a live trigger group document."""
    return [trigger_from_params(doc["ID"], params) for params in doc.get("ActionTriggers") or ()]


def set_in_group(doc: dict | None, group_id: str, unique_id: str, params: dict) -> dict:
    """SetActionTrigger: the group with the trigger ``unique_id`` updated by ``params``
    (created when missing; an empty ``unique_id`` adds a new one). Checked before kept."""
    entries = [dict(p) for p in (doc or {}).get("ActionTriggers") or ()]
    unique_id = unique_id or new_uuid()
    for entry in entries:
        if entry.get("UniqueID") == unique_id:
            entry.update(params)
            break
    else:
        entries.append({**params, "UniqueID": unique_id})
    group = {"ID": group_id, "ActionTriggers": entries}
    group_triggers(group)
    return group


def attach(
    account: Account,
    triggers: list[ActionTrigger],
    *,
    overwrite: bool,
    activation: datetime | None = None,
    executed: bool | None = None,
) -> None:
    """Copy ``triggers`` into the account (one of the same group and UniqueID is kept)."""
    current = [] if overwrite else [ActionTrigger.from_doc(d) for d in account.action_triggers]
    known = {(t.id, t.unique_id) for t in current}
    for trigger in triggers:
        if (trigger.id, trigger.unique_id) in known:
            continue
        trigger = replace(trigger)
        if activation is not None:
            trigger.activation_date = activation
        if executed is not None:
            trigger.executed = executed
        current.append(trigger)
    account.action_triggers = [t.to_doc() for t in current]


def account_triggers(account: Account) -> list[ActionTrigger]:
    """The account's triggers, highest Weight first (the order they are checked in)."""
    triggers = [ActionTrigger.from_doc(doc) for doc in account.action_triggers]
    triggers.sort(key=lambda t: -t.weight)
    return triggers


def is_named(doc: dict, group_id: str = "", unique_id: str = "") -> bool:
    """Whether an account's trigger document is one an API call names by GroupID and/or
    UniqueID ("" = any)."""
    return (not group_id or doc.get("ID") == group_id) and (
        not unique_id or doc.get("UniqueID") == unique_id
    )


def check_live(live: dict) -> None:
    """Refuse trigger groups that could not run (bad fields, missing actions):
    InvalidArgument, before anything is written."""
    actions = live.get(ACTIONS) or {}
    for doc in (live.get(ACTION_TRIGGERS) or {}).values():
        for trigger in group_triggers(doc):
            if trigger.actions_id and trigger.actions_id not in actions:
                raise InvalidArgument(
                    f"action trigger {trigger.id}: no actions {trigger.actions_id!r}"
                )


COUNTERS = (MIN_EVENT_COUNTER, MAX_EVENT_COUNTER)


def count(account: Account, debit, tor: str, category: str, destinations: list) -> None:
    """Add what ``debit`` took to the account's *_event_counter triggers that count it
    (CGrateS' *event UnitCounters): money for a ``*monetary`` counter, units for a counter
    of the call's ToR; a counter's DestinationIDs / Categories must match the call."""
    if not account.action_triggers:
        return
    for index, doc in enumerate(account.action_triggers):
        if doc.get("ThresholdType") not in COUNTERS:
            continue
        watched = doc.get("Balance") or {}
        kind = watched.get("Type")
        if kind == "*monetary":
            amount = debit.cost
        elif kind == tor:
            amount = sum((c.units * c.count for c in debit.charges), ZERO)
        else:
            continue
        if not amount or not _counts(watched, category, destinations):
            continue
        counter = to_decimal(doc.get("Counter") or 0) + amount
        account.action_triggers[index] = {**doc, "Counter": str(counter)}


def _counts(watched: dict, category: str, destinations) -> bool:
    wanted = watched.get("DestinationIDs") or {}  # destinations: [(prefix, [ids])]
    called = {dest_id for _, ids in destinations for dest_id in ids}
    if any(wanted.values()) and not any(wanted.get(d) for d in called):
        return False
    categories = watched.get("Categories") or {}
    return not categories or bool(categories.get(category))


def unit_counters(account: Account) -> dict | None:
    """CGrateS' UnitCounters view: {balance type: [{CounterType, Counters}]}."""
    counters: dict[str, list] = {}
    for trigger in account_triggers(account):
        if trigger.threshold_type in COUNTERS:
            chain = counters.setdefault(trigger.balance.type or "", [])
            if not chain:
                chain.append({"CounterType": "*event", "Counters": []})
            chain[0]["Counters"].append(trigger.counter_view())
    return counters or None


def maybe_crossed(account_doc: dict) -> bool:
    """A quick look at an account document (no parsing of the account): False when none of
    its armed triggers can be crossed, so the change listener costs next to nothing on the
    charges that cross nothing. True asks for the full check (``crossed``)."""
    balance_map = account_doc.get("BalanceMap") or {}
    values: dict = {}  # balance type -> its balances' values, parsed once
    for kind, balance_type, threshold in _armed(account_doc.get("ActionTriggers") or ()):
        if kind in COUNTERS:
            return True  # rare: the full check decides
        chain = balance_map.get(balance_type, ())
        if kind == BALANCE_EXPIRED:
            for balance in chain:
                if "ExpirationDate" in balance:
                    return True
            continue
        if balance_type not in values:
            values[balance_type] = [Decimal(balance["Value"]) for balance in chain]
        for value in values[balance_type]:
            if (kind == MIN_BALANCE and value <= threshold) or (
                kind == MAX_BALANCE and value >= threshold
            ):
                return True
    return False


_ARMED: dict[str, list] = {}  # trigger list text (EncodedList) -> its _armed_in
_ARMED_KEPT = 10_000


def _armed(docs) -> list[tuple[str, str, Decimal]]:
    """``_armed_in(docs)``, remembered by the list's JSON text when it comes encoded (an
    account's triggers rarely change, and a charge writes the same list again)."""
    if docs.__class__ is not EncodedList:
        return _armed_in(docs)
    armed = _ARMED.get(docs.text)
    if armed is None:
        armed = _armed_in(docs)
        if len(_ARMED) >= _ARMED_KEPT:
            _ARMED.clear()
        _ARMED[docs.text] = armed
    return armed


def _armed_in(docs) -> list[tuple[str, str, Decimal]]:
    """(ThresholdType, watched balance type, ThresholdValue) of every trigger not executed."""
    return [
        (
            doc.get("ThresholdType"),
            (doc.get("Balance") or {}).get("Type"),
            Decimal(doc.get("ThresholdValue") or 0),
        )
        for doc in docs
        if not doc.get("Executed")
    ]
