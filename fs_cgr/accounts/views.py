"""Accounts as CGrateS' API prints them.

``account_view``: APIerSv2.GetAccount / GetAccounts (engine.Account as JSON).
``legacy_account_view``: APIerSv1.GetAccount / GetAccounts (engine.Account.AsOldStructure:
"*out:" id prefix, balance types suffixed "*out", "Id" instead of "ID", maps as "A;B").
Unit values are integers (``*voice`` in nanoseconds); money stays Decimal.
"""

from fs_cgr.accounts.model import MONETARY, Account, Balance, string_map_text
from fs_cgr.accounts.triggers import account_triggers, unit_counters
from fs_cgr.times import format_time

LEGACY_DIRECTION = "*out"


def balance_value(balance: Balance):
    if balance.type != MONETARY and balance.value == balance.value.to_integral_value():
        return int(balance.value)
    return balance.value


def balance_view(balance: Balance) -> dict:
    return {
        "Uuid": balance.uuid,
        "ID": balance.id,
        "Value": balance_value(balance),
        "ExpirationDate": format_time(balance.expiry),
        "Weight": balance.weight,
        "DestinationIDs": dict(balance.destination_ids),
        "RatingSubject": balance.rating_subject,
        "Categories": dict(balance.categories),
        "SharedGroups": dict(balance.shared_groups),
        "Timings": None,
        "TimingIDs": dict(balance.timing_ids),
        "Disabled": balance.disabled,
        "Factor": dict(balance.factor) or None,
        "Blocker": balance.blocker,
    }


def account_view(account: Account) -> dict:
    return {
        "ID": account.key,
        "BalanceMap": {
            kind: [balance_view(b) for b in chain] for kind, chain in account.balances.items()
        },
        "UnitCounters": unit_counters(account),
        "ActionTriggers": [t.view() for t in account_triggers(account)] or None,
        "AllowNegative": account.allow_negative,
        "Disabled": account.disabled,
        "UpdateTime": format_time(account.update_time),
    }


def legacy_balance_view(balance: Balance) -> dict:
    return {
        "Uuid": balance.uuid,
        "Id": balance.id,
        "Value": balance_value(balance),
        "ExpirationDate": format_time(balance.expiry),
        "Weight": balance.weight,
        "DestinationIds": string_map_text(balance.destination_ids),
        "RatingSubject": balance.rating_subject,
        "Category": string_map_text(balance.categories),
        "SharedGroup": string_map_text(balance.shared_groups),
        "Timings": None,
        "TimingIDs": string_map_text(balance.timing_ids),
        "Disabled": balance.disabled,
    }


def legacy_account_view(account: Account) -> dict:
    return {
        "Id": f"{LEGACY_DIRECTION}:{account.key}",
        "BalanceMap": {
            kind + LEGACY_DIRECTION: [legacy_balance_view(b) for b in chain]
            for kind, chain in account.balances.items()
            if chain
        },
        "UnitCounters": [],
        "ActionTriggers": [t.legacy_view() for t in account_triggers(account)],
        "AllowNegative": account.allow_negative,
        "Disabled": account.disabled,
    }
