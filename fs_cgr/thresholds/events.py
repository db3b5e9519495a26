"""The threshold events an account change raises, as CGrateS v0.10's AccountS publishes them.

Every balance whose value or expiry changed (or that is new) gives a ``BalanceUpdate``
event (Account, BalanceID, Units, ExpiryTime when it has one); the account then gives
one ``AccountUpdate`` event (Account, AllowNegative, Disabled). Thresholds filter on
them like on any event, e.g. ``*lt:~*req.Units:1`` for "balance under 1.00".
"""

import uuid

from fs_cgr.times import format_time

ACCOUNT_UPDATE = "AccountUpdate"
BALANCE_UPDATE = "BalanceUpdate"
ACCOUNT_SERVICE = "AccountS"


def account_update_events(before, after) -> list[dict]:
    """CGREvents for the change of one account from ``before`` (None: new) to ``after``."""
    if after is None:
        return []
    previous = {} if before is None else {b.uuid: b for b in before.iter_balances()}
    events = [
        _event(after, BALANCE_UPDATE, _balance_fields(balance))
        for balance in after.iter_balances()
        if _changed(previous.get(balance.uuid), balance)
    ]
    fields = {"AllowNegative": after.allow_negative, "Disabled": after.disabled}
    events.append(_event(after, ACCOUNT_UPDATE, fields))
    return events


def _changed(old, new) -> bool:
    return old is None or old.value != new.value or old.expiry != new.expiry


def _balance_fields(balance) -> dict:
    fields = {"BalanceID": balance.id, "Units": balance.value}
    if balance.expiry is not None:
        fields["ExpiryTime"] = format_time(balance.expiry)
    return fields


def _event(account, event_type: str, fields: dict) -> dict:
    return {
        "Tenant": account.tenant,
        "ID": str(uuid.uuid4()),
        "Event": {
            "EventType": event_type,
            "EventSource": ACCOUNT_SERVICE,
            "Account": account.id,
            **fields,
        },
    }
