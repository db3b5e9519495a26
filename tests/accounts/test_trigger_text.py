"""Trigger documents encoded once per list (fs_cgr.encoded): what is stored is exactly what
encoding the whole account gives, a trigger replaced (fired, reset) is written anew, and a
crossing trigger still fires exactly once however many charges write the cached text."""

from decimal import Decimal as D

import pytest

from fs_cgr import jsoncodec
from fs_cgr.accounts import triggers as trig
from fs_cgr.accounts.model import MONETARY, Account
from fs_cgr.encoded import EncodedList, encode_document
from tests.accounts.conftest import call

TENANT = "cgrates.org"
SECOND = 10**9


@pytest.mark.parametrize(
    "doc",
    [
        {"A": 1, "T": [{"x": D("0.1")}], "B": "z"},
        {"T": [{"x": '\u00e9"\\'}]},
        {"A": [], "T": []},
    ],
)
def test_an_encoded_list_gives_the_same_json_as_encoding_it(doc):
    spliced = {**doc, "T": EncodedList(doc["T"], jsoncodec.encode(doc["T"]))}
    assert jsoncodec.decode(encode_document(spliced, "T")) == jsoncodec.decode(
        jsoncodec.encode(doc)
    )
    assert encode_document(doc, "T") == jsoncodec.encode(doc)  # a plain list: plain encoding


def test_account_triggers_are_encoded_again_only_when_the_list_changes():
    account = Account(TENANT, "1001", action_triggers=[{"ID": "a", "ThresholdValue": "1"}])
    first = account.to_doc()["ActionTriggers"]
    copied = account.copy()
    assert copied.to_doc()["ActionTriggers"].text is first.text  # shared by copies
    copied.action_triggers[0] = {**copied.action_triggers[0], "Executed": True}
    changed = copied.to_doc()["ActionTriggers"]
    assert jsoncodec.decode(changed.text) == [{"ID": "a", "ThresholdValue": "1", "Executed": True}]
    assert account.to_doc()["ActionTriggers"].text is first.text  # the original is untouched


def low_balance_trigger() -> dict:
    return trig.trigger_from_params(
        "LOW",
        {
            "UniqueID": "low",
            "ThresholdType": "*min_balance",
            "ThresholdValue": "8",
            "BalanceType": MONETARY,
            "ActionsID": "MAIN_TO_10",
        },
    ).to_doc()


def test_a_trigger_fires_once_and_is_stored_executed(service):
    reset = {"Identifier": "*topup_reset", "BalanceId": "main", "BalanceType": MONETARY}
    actions = {"ID": "MAIN_TO_10", "Actions": [{**reset, "Units": "10"}]}
    service.datadb.write_live([("actions", "MAIN_TO_10", actions)])
    service.add_balance(TENANT, "1001", MONETARY, "10", {"ID": "main"})
    service.change_triggers(TENANT, "1001", lambda docs: [low_balance_trigger()])
    for _ in range(6):  # 0.6 each: 7.6 after the fourth, reset to 10, then 9.4 and 8.8
        service.debit(call("1002", 60 * SECOND))
        assert service.changes.wait(TENANT, "1001")
    stored, _ = service.datadb.get_account(TENANT, "1001")
    account = service.get_account(TENANT, "1001")
    assert stored == jsoncodec.decode(jsoncodec.encode(account.to_doc()))
    [trigger] = trig.account_triggers(account)
    assert trigger.executed
    [main] = account.balances[MONETARY]
    assert main.value == D("8.8")
    # re-armed: the same trigger text as before it fired; 8.2, 7.6 -> 10, then 9.4
    service.change_triggers(TENANT, "1001", lambda docs: [low_balance_trigger()])
    for _ in range(3):
        service.debit(call("1002", 60 * SECOND))
        assert service.changes.wait(TENANT, "1001")
    assert service.get_account(TENANT, "1001").find_balance(main.uuid).value == D("9.4")
