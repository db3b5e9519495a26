"""The user flows of the "CGrateS in Baby Steps" follow-up posts (branches
Actions_ActionPlans, ActionTriggers and Accounts_Balances of the CGrates_Tutorial
repository), with this project's own data, through the JSON-RPC API as the posts
send it: the legacy ``ApierV1``/``ApierV2``/``CDRsV2`` names, ``ActionPlanIds``
spelt Go's case-insensitive way, unknown fields, ``params: []``."""

import http.server
import json
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from fs_cgr import times
from tests.cdrs.helpers import write_plan

TENANT = "cgrates.org"
ACCOUNT = "Tutorial_Acc_1"
MINUTE = 60 * 10**9


class Capture(http.server.ThreadingHTTPServer):
    """A local HTTP endpoint recording what *http_post actions send."""

    def __init__(self):
        self.bodies: list[tuple[str, dict]] = []
        self.received = threading.Condition()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.received:
                    outer.bodies.append((self.path, body))
                    outer.received.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list:
        with self.received:
            self.received.wait_for(lambda: len(self.bodies) >= count, timeout)
            return list(self.bodies)


@pytest.fixture
def capture():
    server = Capture()
    yield server
    server.shutdown()
    server.server_close()


def balance(account: dict, kind: str, balance_id: str) -> dict:
    return next(b for b in account["BalanceMap"][kind] if b["ID"] == balance_id)


def set_actions(api, actions_id: str, actions: list) -> None:
    assert api.call("ApierV1.SetActions", {"ActionsId": actions_id, "Actions": actions}) == "OK"


def set_plan(api, plan_id: str, actions_id: str, time: str) -> None:
    """SetActionPlan as the posts send it: every field *any but the Time."""
    entry = {"ActionsId": actions_id, "Time": time, "Weight": 10}
    entry.update(dict.fromkeys(("Years", "Months", "MonthDays", "WeekDays"), "*any"))
    params = {"Id": plan_id, "ActionPlan": [entry], "Overwrite": True, "ReloadScheduler": True}
    assert api.call("ApierV1.SetActionPlan", params) == "OK"


def attach_plans(api, *plan_ids: str) -> None:
    """ApierV2.SetAccount as the posts send it: ``ActionPlanIds``, spelt so."""
    params = {"Tenant": TENANT, "Account": ACCOUNT, "ActionPlanIds": list(plan_ids)}
    params.update(ActionPlansOverwrite=True, ReloadScheduler=True)
    assert api.call("ApierV2.SetAccount", params) == "OK"


def signup_bonus(api, capture) -> None:
    """Actions_ActionPlans: a bonus of 99 for a month, logged as a CDR, announced by HTTP."""
    set_actions(
        api,
        "ACT_WELCOME",
        [
            {
                "Identifier": "*topup_reset",
                "BalanceId": "welcome_credit",
                "BalanceType": "*monetary",
                "Units": 99,
                "ExpiryTime": "*month",
                "BalanceWeight": 1200,
                "Weight": 90,
            },
            {
                "Identifier": "*cdrlog",
                "BalanceId": "",
                "BalanceUuid": "",
                "BalanceType": "*monetary",
                "Directions": "*out",
                "Units": 0,
                "ExpiryTime": "",
                "BalanceWeight": 0,
                "BalanceBlocker": "false",
                "BalanceDisabled": "false",
                "Weight": 80,
                "ExtraParameters": json.dumps(
                    {"Category": "^welcome", "Destination": "Welcome credit"}
                ),
            },
            {
                "Identifier": "*http_post_async",
                "ExtraParameters": capture.url("/welcome"),
                "ExpiryTime": "*unlimited",
                "Weight": 70,
            },
            {"Identifier": "*log", "Weight": 60},
        ],
    )
    set_plan(api, "AP_WELCOME", "ACT_WELCOME", "*asap")
    every = api.call("APIerSv2.GetActions", {"Tenant": "cgrates.com"})
    assert [a["ActionType"] for a in every["ACT_WELCOME"]] == [
        "*topup_reset",
        "*cdrlog",
        "*http_post_async",
        "*log",
    ]
    attach_plans(api, "AP_WELCOME")


def test_signup_bonus_flow(api, capture):
    before = datetime.now(timezone.utc)
    signup_bonus(api, capture)
    account = api.call("ApierV2.GetAccount", {"Tenant": TENANT, "Account": ACCOUNT})
    bonus = balance(account, "*monetary", "welcome_credit")
    assert (bonus["Value"], bonus["Weight"]) == (99, 1200)
    expiry = datetime.fromisoformat(bonus["ExpirationDate"].replace("Z", "+00:00"))
    month_later = before.replace(
        month=before.month % 12 + 1, year=before.year + (before.month == 12)
    )
    assert abs(expiry - month_later) < timedelta(minutes=1)

    [cdr] = api.call("APIerSv2.GetCDRs", {"Sources": ["*cdrlog"], "Accounts": [ACCOUNT]})
    assert (cdr["RunID"], cdr["ToR"], Decimal(str(cdr["Cost"]))) == (
        "*topup_reset",
        "*monetary",
        99,
    )
    assert (cdr["Category"], cdr["Destination"], cdr["RequestType"]) == (
        "welcome",
        "Welcome credit",
        "*none",
    )

    [(path, body)] = capture.wait_for(1)
    assert path == "/welcome" and body["ID"] == f"{TENANT}:{ACCOUNT}"
    assert body["BalanceMap"]["*monetary"][0]["Value"] == 99

    # attaching the same plan again (overwrite) does not pay the bonus twice
    attach_plans(api, "AP_WELCOME")
    account = api.call("ApierV2.GetAccount", {"Tenant": TENANT, "Account": ACCOUNT})
    assert len(account["BalanceMap"]["*monetary"]) == 1


def test_minute_charge_and_low_balance_trigger_flow(api, capture):
    signup_bonus(api, capture)
    capture.wait_for(1)
    clock = [datetime(2030, 5, 1, 12, 0, 30, tzinfo=timezone.utc)]
    api.node.scheduler.stop()  # this test ticks the scheduler itself, on a fake clock
    api.node.scheduler.clock = lambda: clock[0]
    try:
        set_actions(
            api,
            "ACT_MINUTE_FEE",
            [
                {
                    "Identifier": "*debit",
                    "BalanceType": "*monetary",
                    "Units": 6,
                    "Id": "unknown_field_ignored",
                    "Weight": 70,
                },
                {"Identifier": "*log", "Weight": 60},
            ],
        )
        set_plan(api, "AP_MINUTE_FEE", "ACT_MINUTE_FEE", "*every_minute")
        status, reply = api.post(
            json.dumps({"id": 1, "method": "ApierV2.GetActionPlanIDs", "params": []}).encode()
        )
        assert (status, reply["result"]) == (200, ["AP_MINUTE_FEE", "AP_WELCOME"])
        [plan] = api.call("ApierV2.GetActionPlan", {"ID": "AP_MINUTE_FEE"})
        assert plan["ActionTimings"][0]["Timing"]["Timing"]["StartTime"] == "*every_minute"
        attach_plans(api, "AP_WELCOME", "AP_MINUTE_FEE")
        [plan] = api.call("ApierV2.GetActionPlan", {"ID": "AP_MINUTE_FEE"})
        assert plan["AccountIDs"] == {f"{TENANT}:{ACCOUNT}": True}

        set_actions(
            api,
            "ACT_NOTIFY_95",
            [
                {
                    "Identifier": "*http_post_async",
                    "ExtraParameters": capture.url("/below_95"),
                    "ExpiryTime": "*unlimited",
                    "Weight": 700,
                },
                {"Identifier": "*log", "Weight": 1200},
            ],
        )
        assert (
            api.call(
                "APIerSv1.SetActionTrigger",
                {
                    "GroupID": "ATG_BELOW_95",
                    "ActionTrigger": {
                        "BalanceType": "*monetary",
                        "Balance": {"ID": "*default", "Value": 95},  # ignored, as Go
                        "ThresholdType": "*min_balance",
                        "ThresholdValue": 95,
                        "Weight": 10,
                        "ActionsID": "ACT_NOTIFY_95",
                    },
                    "Overwrite": True,
                },
            )
            == "OK"
        )
        [trigger] = api.call("APIerSv1.GetActionTriggers", {"GroupID": "ATG_BELOW_95"})
        assert (trigger["ThresholdType"], trigger["ThresholdValue"]) == ("*min_balance", 95)
        assert (
            api.call(
                "APIerSv1.AddAccountActionTriggers",
                {
                    "Tenant": TENANT,
                    "Account": ACCOUNT,
                    "ActionTriggerIDs": ["ATG_BELOW_95"],
                    "ActionTriggersOverwrite": True,
                },
            )
            == "OK"
        )
        account = api.call("ApierV2.GetAccount", {"Tenant": TENANT, "Account": ACCOUNT})
        assert account["ActionTriggers"][0]["Executed"] is False

        assert api.node.scheduler.tick() == 0  # fixes the minute the charges start from
        clock[0] += timedelta(seconds=40)  # 12:01:10: the 12:01 charge is due
        assert api.node.scheduler.tick() == 1
        account = api.call("ApierV2.GetAccount", {"Tenant": TENANT, "Account": ACCOUNT})
        assert balance(account, "*monetary", "welcome_credit")["Value"] == 93
        assert account["ActionTriggers"][0]["Executed"] is True
        bodies = capture.wait_for(2)
        assert [path for path, _ in bodies] == ["/welcome", "/below_95"]
        assert bodies[1][1]["BalanceMap"]["*monetary"][0]["Value"] == 93

        clock[0] += timedelta(minutes=2)  # two more charges, no second notification
        assert api.node.scheduler.tick() == 2
        account = api.call("ApierV2.GetAccount", {"Tenant": TENANT, "Account": ACCOUNT})
        assert balance(account, "*monetary", "welcome_credit")["Value"] == 81
        [scheduled] = [
            s
            for s in api.call("APIerSv1.GetScheduledActions", {})
            if s["ActionPlanID"] == "AP_MINUTE_FEE"
        ]
        assert scheduled["NextRunTime"] == "2030-05-01T12:04:00Z"
    finally:
        api.node.scheduler.clock = times.now
        api.node.scheduler.start()


PLAN = {
    "Destinations.csv": """
        #Id,Prefix
        DST_AU,61
    """,
    "Rates.csv": """
        #Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
        RT_AU,0,0.12,60s,1s,0s
    """,
    "DestinationRates.csv": """
        #Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
        DR_AU,DST_AU,RT_AU,*up,4,0,
    """,
    "RatingPlans.csv": """
        #Id,DestinationRatesId,TimingTag,Weight
        RP_AU,DR_AU,*any,10
    """,
    "RatingProfiles.csv": """
        #Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
        cgrates.org,call,*any,2014-01-01T00:00:00Z,RP_AU,
    """,
}


def set_voice_balance(api, balance: dict) -> None:
    params = {"Tenant": TENANT, "Account": ACCOUNT, "BalanceType": "*voice"}
    params.update(Categories="*any", Balance=balance)  # Categories: ignored, as CGrateS
    assert api.call("ApierV1.SetBalance", params) == "OK"


def test_voice_balances_flow(api, tmp_path):
    assert (
        api.call(
            "APIerSv1.LoadTariffPlanFromFolder",
            {"FolderPath": str(write_plan(tmp_path / "au", PLAN))},
        )
        == "OK"
    )
    api.call(
        "APIerSv1.SetChargerProfile",
        {
            "Tenant": TENANT,
            "ID": "DEFAULT",
            "FilterIDs": [],
            "AttributeIDs": ["*none"],
            "Weight": 0,
        },
    )
    assert api.call("ApierV2.SetAccount", {"Tenant": TENANT, "Account": ACCOUNT}) == "OK"
    set_voice_balance(api, {"ID": "voice_5m", "Value": "5m", "Weight": 25})
    account = api.call("ApierV2.GetAccount", {"Tenant": TENANT, "Account": ACCOUNT})
    assert balance(account, "*voice", "voice_5m")["Value"] == 5 * MINUTE

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    def cdr(origin_id: str, usage: str, destination: str) -> None:
        assert (
            api.call(
                "CDRsV2.ProcessExternalCDR",
                {
                    "OriginID": origin_id,
                    "ToR": "*voice",
                    "RequestType": "*pseudoprepaid",
                    "AnswerTime": now,
                    "SetupTime": now,
                    "Tenant": TENANT,
                    "Account": ACCOUNT,
                    "Subject": destination,
                    "Destination": destination,
                    "Usage": usage,
                },
            )
            == "OK"
        )

    cdr("au-1", "150s", "61399990000")
    account = api.call("ApierV2.GetAccount", {"Tenant": TENANT, "Account": ACCOUNT})
    assert balance(account, "*voice", "voice_5m")["Value"] == 150 * 10**9

    for tp_id, prefixes in (
        ("Dest_AU_Fixed", ["612", "613", "617", "618"]),
        ("Dest_AU_Mobile", ["614"]),
    ):
        assert (
            api.call(
                "ApierV2.SetTPDestination",
                {"TPid": "tutorial_tp", "ID": tp_id, "Prefixes": prefixes},
            )
            == "OK"
        )
    assert (
        api.call(
            "APIerSv1.LoadTariffPlanFromStorDb",
            {
                "TPid": "tutorial_tp",
                "DryRun": False,
                "Validate": True,
                "APIOpts": None,
                "Caching": None,
            },
        )
        == "OK"
    )
    for balance_id, value, expiry, destinations in (
        ("fixed_100m", "100m", "*month_end", "Dest_AU_Fixed"),
        ("mobile_40m", "40m", "*daily", "Dest_AU_Mobile"),
    ):
        set_voice_balance(
            api,
            {
                "ID": balance_id,
                "Value": value,
                "ExpiryTime": expiry,
                "Weight": 60,
                "DestinationIDs": destinations,
            },
        )
    cdr("au-2", "30s", "61412341234")  # mobile
    cdr("au-3", "30s", "61212341234")  # fixed
    account = api.call("ApierV2.GetAccount", {"Tenant": TENANT, "Account": ACCOUNT})
    assert balance(account, "*voice", "mobile_40m")["Value"] == 40 * MINUTE - 30 * 10**9
    assert balance(account, "*voice", "fixed_100m")["Value"] == 100 * MINUTE - 30 * 10**9
    assert balance(account, "*voice", "voice_5m")["Value"] == 150 * 10**9
