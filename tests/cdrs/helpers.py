"""Nodes on both backends and a small tariff plan of these tests' own.

Prices (tenant cgrates.org, category call, any subject), all from 2014-01-01:
  1002...  DST_1002  connect fee 0.4; 0.2/min per minute for the first minute, then
                     0.1/min per second (CGrateS tutorial's RT_20CNT); *up 4 decimals
  1003...  DST_FAST  0.01 per second, charged per 100 ms (0.001 each); *up 4 decimals
  1009...  DST_1009  as 1002, but *up 2 decimals: 90 s cost 0.6501, rounded 0.66
  anything else is not rated (UNAUTHORIZED_DESTINATION)
One charger, DEFAULT (*default run, no attributes).
"""

import textwrap
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from fs_cgr.accounts.views import account_view
from fs_cgr.app import Node
from fs_cgr.config import load_config

BACKENDS = ("embedded", "redis+mariadb")
TENANT = "cgrates.org"
T0 = datetime(2014, 8, 4, 13, 0, tzinfo=timezone.utc)

PLAN = {
    "Destinations.csv": """
        #Id,Prefix
        DST_1002,1002
        DST_FAST,1003
        DST_1009,1009
    """,
    "Rates.csv": """
        #Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
        RT_20CNT,0.4,0.2,60s,60s,0s
        RT_20CNT,0,0.1,60s,1s,60s
        RT_FAST,0,0.01,1s,100ms,0s
    """,
    "DestinationRates.csv": """
        #Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
        DR_1002,DST_1002,RT_20CNT,*up,4,0,
        DR_FAST,DST_FAST,RT_FAST,*up,4,0,
        DR_1009,DST_1009,RT_20CNT,*up,2,0,
    """,
    "RatingPlans.csv": """
        #Id,DestinationRatesId,TimingTag,Weight
        RP_TEST,DR_1002,*any,10
        RP_TEST,DR_FAST,*any,10
        RP_TEST,DR_1009,*any,10
    """,
    "RatingProfiles.csv": """
        #Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
        cgrates.org,call,*any,2014-01-01T00:00:00Z,RP_TEST,
    """,
    "Chargers.csv": """
        #Tenant,ID,FilterIDs,ActivationInterval,RunID,AttributeIDs,Weight
        cgrates.org,DEFAULT,,,*default,*none,0
    """,
}


def write_plan(folder, files: dict = PLAN):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).strip() + "\n")
    return folder


def make_node(backend: str, request, data_dir, **overrides) -> Node:
    """A Node with emptied databases: memory + SQLite file, or Redis + MariaDB."""
    config = {"general.data_dir": str(data_dir), **overrides}
    if backend == "embedded":
        config.setdefault("stordb.url", f"sqlite:///{data_dir}/stordb.sqlite")
    else:
        redis_url = request.getfixturevalue("redis_url")
        mysql_url = request.getfixturevalue("mysql_url")
        config["datadb.url"] = f"{redis_url}?prefix=fs_cgr_charging_test"
        config.setdefault("stordb.url", f"{mysql_url}?table_prefix=charging_test_")
    node = Node(load_config(overrides=config, env={}))
    node.datadb.flush()
    node.stordb.flush()
    node.rating.refresh()
    return node


def monetary(node, account: str) -> Decimal:
    """The sum of an account's *monetary balances."""
    balances = account_view(node.accounts.get_account(TENANT, account))["BalanceMap"]
    return sum((Decimal(b["Value"]) for b in balances.get("*monetary", ())), Decimal(0))


def top_up(node, account: str, amount, allow_negative: bool = False) -> None:
    node.accounts.set_account(TENANT, account, allow_negative=allow_negative)
    if Decimal(str(amount)):
        node.accounts.add_balance(TENANT, account, "*monetary", str(amount), {"ID": "main"})


def call(origin_id: str, account: str = "1001", destination: str = "1002", **fields) -> dict:
    """A neutral call event answered at T0 (override with AnswerTime=...)."""
    event = {
        "Tenant": TENANT,
        "Category": "call",
        "ToR": "*voice",
        "OriginID": origin_id,
        "OriginHost": "tests",
        "Account": account,
        "Subject": account,
        "Destination": destination,
        "SetupTime": T0,
        "AnswerTime": T0,
    }
    event.update(fields)
    return event


def recent(seconds_ago: float = 0.0) -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)
