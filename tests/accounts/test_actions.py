"""Actions on accounts: parsing (refused at load time), CGrateS' matching and effects, and
the AccountActions of the shared tutorial tariff plans."""

import copy
from datetime import timedelta
from decimal import Decimal

import pytest

from fs_cgr.accounts import actions as acts
from fs_cgr.accounts.model import MONETARY, VOICE, Account, Balance
from fs_cgr.durations import MINUTE, SECOND
from fs_cgr.errors import InvalidArgument
from fs_cgr.rating import load_folder
from fs_cgr.storage import open_datadb
from tests.accounts.conftest import LIVE, T0, service_on

D = Decimal


def run(account: Account, *docs: dict) -> Account:
    acts.execute(account, [acts.parse_action(doc, "TEST") for doc in docs], T0)
    return account


def values(account: Account) -> dict:
    return {(b.type, b.id): b.value for b in account.iter_balances()}


def test_unknown_action_types_and_bad_units_are_refused_at_load_time():
    with pytest.raises(InvalidArgument, match="unknown action '\\*make_money'"):
        acts.parse_action({"Identifier": "*make_money"}, "X")
    with pytest.raises(InvalidArgument, match="invalid duration"):
        acts.parse_action({"Identifier": "*topup", "BalanceType": "*voice", "Units": "ten"}, "X")
    with pytest.raises(InvalidArgument, match="invalid time"):
        acts.parse_action({"Identifier": "*topup", "ExpiryTime": "someday"}, "X")
    # known to CGrateS but talking to services fs_cgr has not: accepted, skipped when run
    assert acts.parse_action({"Identifier": "*http_post_async"}).type == "*http_post_async"
    acts.check_live(LIVE)
    broken = copy.deepcopy(LIVE)
    broken["action_plans"]["AP_PACKAGE"]["ActionPlan"][0]["ActionsId"] = "MISSING"
    with pytest.raises(InvalidArgument, match="no actions 'MISSING'"):
        acts.check_live(broken)


def test_actions_run_highest_weight_first():
    doc = {
        "ID": "A",
        "Actions": [
            {"Identifier": "*topup", "BalanceId": "b", "BalanceType": "*monetary", "Units": 1},
            {"Identifier": "*disable_account", "Weight": 20},
        ],
    }
    assert [a.type for a in acts.parse_actions(doc)] == ["*disable_account", "*topup"]


def test_topup_reset_and_debit_by_balance_id():
    account = run(
        Account("t", "a"),
        {"Identifier": "*topup", "BalanceId": "main", "BalanceType": "*monetary", "Units": "5"},
        {"Identifier": "*topup", "BalanceId": "main", "BalanceType": "*monetary", "Units": "2.5"},
        {"Identifier": "*topup", "BalanceId": "min", "BalanceType": "*voice", "Units": "90s"},
        {"Identifier": "*debit", "BalanceId": "main", "BalanceType": "*monetary", "Units": "0.5"},
    )
    assert values(account) == {(MONETARY, "main"): D("7"), (VOICE, "min"): D(90 * SECOND)}
    run(
        account,
        {"Identifier": "*topup_reset", "BalanceId": "min", "BalanceType": "*voice", "Units": "10m"},
    )
    run(
        account,
        {
            "Identifier": "*debit_reset",
            "BalanceId": "main",
            "BalanceType": "*monetary",
            "Units": "1",
        },
    )
    assert values(account) == {(MONETARY, "main"): D("-1"), (VOICE, "min"): D(10 * MINUTE)}


def test_topup_without_id_matches_on_the_fields_it_gives():
    account = Account("t", "a")
    account.add_balance(Balance("u1", MONETARY, "", D(1), D(10)))
    account.add_balance(Balance("u2", MONETARY, "", D(1), D(20)))
    topup = {
        "Identifier": "*topup",
        "BalanceType": "*monetary",
        "Units": "5",
        "BalanceWeight": "20",
        "ExpiryTime": "*unlimited",
    }
    run(account, topup)
    assert [b.value for b in account.balances[MONETARY]] == [D(1), D(6)]
    run(account, {**topup, "BalanceWeight": "30", "DestinationIds": "DST_1002;!DST_FREE"})
    created = account.balances[MONETARY][2]
    assert (created.value, created.weight) == (D(5), D(30))
    assert created.destination_ids == {"DST_1002": True, "DST_FREE": False}


def test_expired_balances_are_not_topped_up():
    account = Account("t", "a")
    account.add_balance(Balance("old", MONETARY, "main", D(3), expiry=T0 - timedelta(days=1)))
    run(
        account,
        {
            "Identifier": "*topup",
            "BalanceId": "main",
            "BalanceType": "*monetary",
            "Units": "5",
            "ExpiryTime": "*monthly",
        },
    )
    old, new = account.balances[MONETARY]
    assert (old.value, new.value) == (D(3), D(5))
    assert new.expiry is not None and new.expiry > T0


def test_account_flags_and_unsupported_actions():
    account = run(
        Account("t", "a"),
        {"Identifier": "*allow_negative"},
        {"Identifier": "*disable_account"},
        {"Identifier": "*cdrlog"},
        {"Identifier": "*log"},
    )
    assert account.allow_negative and account.disabled
    run(account, {"Identifier": "*enable_account"}, {"Identifier": "*deny_negative"})
    assert not account.allow_negative and not account.disabled


def test_set_balance_needs_an_existing_uuid():
    with pytest.raises(acts.ActionError, match="cannot find balance with uuid"):
        acts.execute(
            Account("t", "a"),
            [acts.Action(acts.SET_BALANCE, acts.BalanceFilter(uuid="nope", type=MONETARY))],
            T0,
        )


EXPECTED = {
    "cgrates_tutorial": {(MONETARY, "test"): D("10")},
    "tutorial2": {
        (MONETARY, "*default"): D("10"),
        (VOICE, "FREE_MINS"): D(5 * MINUTE),
        (VOICE, "PER_CALL"): D(10 * MINUTE),
        ("*sms", "FREE_SMSes"): D(100),
        ("*data", "FREE_DATA"): D(1024),
    },
}


@pytest.mark.shared
@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_shared_tariff_plans_account_actions(tariffplans_dir, folder):
    plan = load_folder(tariffplans_dir / folder)
    acts.check_live(plan.live)
    datadb = open_datadb("internal://")
    service = service_on(datadb)
    datadb.write_live(
        (kind, obj_id, doc)
        for kind, objects in plan.live.items()
        for obj_id, doc in objects.items()
    )
    accounts = service.execute_account_actions(plan.account_actions)
    assert [a.key for a in accounts] == [
        f"{row['Tenant']}:{row['Account']}" for row in plan.account_actions
    ]
    assert values(service.get_account("cgrates.org", "1001")) == EXPECTED[folder]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("*month", T0.replace(month=9)),
        ("*monthly", T0.replace(month=9)),
        ("*year", T0.replace(year=2015)),
        ("*daily", T0 + timedelta(days=1)),
        ("*month_end", T0.replace(day=31, hour=23, minute=59, second=59)),
        ("+720h", T0 + timedelta(hours=720)),
        ("2014-12-01T00:00:00Z", T0.replace(month=12, day=1, hour=0)),
        ("*unlimited", None),
    ],
)
def test_expiry_values(text, expected):
    assert acts.resolve_expiry(text, T0) == expected


def test_trigger_actions_change_only_the_triggers_they_name():
    account = Account("t", "a")
    account.action_triggers = [
        {"ID": "G", "UniqueID": "m", "Executed": True, "Balance": {"Type": MONETARY}},
        {"ID": "G", "UniqueID": "v", "Executed": True, "Balance": {"Type": VOICE}},
    ]
    shared = account.copy()  # copies share trigger documents: none may change in place
    run(account, {"Identifier": "*reset_triggers", "BalanceType": MONETARY})
    run(account, {"Identifier": "*set_recurrent"})
    assert [(t["UniqueID"], t["Executed"], t["Recurrent"]) for t in account.action_triggers] == [
        ("m", False, True),
        ("v", True, True),
    ]
    assert all(t["Executed"] and "Recurrent" not in t for t in shared.action_triggers)
    run(account, {"Identifier": "*unset_recurrent", "BalanceType": VOICE})
    assert [t["Recurrent"] for t in account.action_triggers] == [True, False]


def test_cdrlog_and_http_post_wait_for_the_write():
    effects = []
    account = Account("t", "a")
    actions = [
        acts.parse_action(doc, "ACT")
        for doc in (
            {"Identifier": "*topup", "BalanceType": MONETARY, "Units": "5", "Weight": 30},
            {"Identifier": "*cdrlog", "ExtraParameters": '{"Category": "^bonus"}', "Weight": 20},
            {"Identifier": "*http_post", "ExtraParameters": "http://127.0.0.1:9/x", "Weight": 10},
        )
    ]
    acts.execute(account, sorted(actions, key=lambda a: -a.weight), T0, effects)
    assert [e.action.type for e in effects] == ["*cdrlog", "*http_post"]
    assert effects[1].account.balances[MONETARY][0].value == 5  # as the action saw it
    from fs_cgr.cdrs.cdrlog import cdrlog_cdrs

    [cdr] = cdrlog_cdrs(effects[0])
    assert (cdr["Source"], cdr["RunID"], cdr["ToR"], cdr["Cost"], cdr["Category"]) == (
        "*cdrlog",
        "*topup",
        MONETARY,
        5,
        "bonus",
    )
