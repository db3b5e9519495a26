"""A small tariff plan of the tests' own, a rating engine on it, and AccountServices on
both DataDB backends (memory and a real Redis).

Prices (subject 1001, tenant cgrates.org, category call):
  1002...  DST_1002  connect fee 0.4; 0.2 per minute billed per minute for the first
                     minute, then 0.1 per minute billed per second (0.00167 per second)
  1003...  DST_1003  0.01 per second, MaxCost 0.12 *disconnect
  1004...  DST_1004  0.01 per second, MaxCost 0.05 *free
  1005...  DST_1005  free (0 per minute)
  49...    DST_DE    0.06 per minute billed per minute; 4917... also DST_DE_MOBILE
Subject SPECIAL (a balance's RatingSubject) pays 1002 at 0.05 per minute, no connect fee;
subject SAME_AS_1001 is priced like 1001.
"""

import os
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from fs_cgr.accounts.pricing import call_rater
from fs_cgr.accounts.service import AccountService
from fs_cgr.app import LiveRating
from fs_cgr.rating import CallDescriptor, RatingEngine
from fs_cgr.storage import open_datadb
from tests.api.conftest import api, api_server  # noqa: F401  (the API fixtures, for test_api)
from tests.storage.conftest import wipe_redis_prefix

T0 = datetime(2014, 8, 4, 13, 0, tzinfo=timezone.utc)

LIVE = {
    "destinations": {
        "DST_1002": {"ID": "DST_1002", "Prefixes": ["1002"]},
        "DST_1003": {"ID": "DST_1003", "Prefixes": ["1003"]},
        "DST_1004": {"ID": "DST_1004", "Prefixes": ["1004"]},
        "DST_1005": {"ID": "DST_1005", "Prefixes": ["1005"]},
        "DST_DE": {"ID": "DST_DE", "Prefixes": ["49"]},
        "DST_DE_MOBILE": {"ID": "DST_DE_MOBILE", "Prefixes": ["4917"]},
    },
    "rates": {
        "RT_20CNT": {
            "ID": "RT_20CNT",
            "RateSlots": [
                {
                    "ConnectFee": "0.4",
                    "Rate": "0.2",
                    "RateUnit": "60s",
                    "RateIncrement": "60s",
                    "GroupIntervalStart": "0s",
                },
                {
                    "ConnectFee": "0",
                    "Rate": "0.1",
                    "RateUnit": "60s",
                    "RateIncrement": "1s",
                    "GroupIntervalStart": "60s",
                },
            ],
        },
        "RT_1CNT_SEC": {
            "ID": "RT_1CNT_SEC",
            "RateSlots": [{"Rate": "0.01", "RateUnit": "1s", "RateIncrement": "1s"}],
        },
        "RT_FREE": {
            "ID": "RT_FREE",
            "RateSlots": [{"Rate": "0", "RateUnit": "60s", "RateIncrement": "60s"}],
        },
        "RT_6CNT_MIN": {
            "ID": "RT_6CNT_MIN",
            "RateSlots": [{"Rate": "0.06", "RateUnit": "60s", "RateIncrement": "60s"}],
        },
        "RT_5CNT_MIN": {
            "ID": "RT_5CNT_MIN",
            "RateSlots": [{"Rate": "0.05", "RateUnit": "60s", "RateIncrement": "60s"}],
        },
    },
    "destination_rates": {
        "DR_1001": {
            "ID": "DR_1001",
            "DestinationRates": [
                {"DestinationId": "DST_1002", "RateId": "RT_20CNT"},
                {
                    "DestinationId": "DST_1003",
                    "RateId": "RT_1CNT_SEC",
                    "MaxCost": "0.12",
                    "MaxCostStrategy": "*disconnect",
                },
                {
                    "DestinationId": "DST_1004",
                    "RateId": "RT_1CNT_SEC",
                    "MaxCost": "0.05",
                    "MaxCostStrategy": "*free",
                },
                {"DestinationId": "DST_1005", "RateId": "RT_FREE"},
                {"DestinationId": "DST_DE", "RateId": "RT_6CNT_MIN"},
            ],
        },
        "DR_SPECIAL": {
            "ID": "DR_SPECIAL",
            "DestinationRates": [{"DestinationId": "DST_1002", "RateId": "RT_5CNT_MIN"}],
        },
    },
    "rating_plans": {
        "RP_1001": {
            "ID": "RP_1001",
            "RatingPlanBindings": [{"DestinationRatesId": "DR_1001", "TimingId": "*any"}],
        },
        "RP_SPECIAL": {
            "ID": "RP_SPECIAL",
            "RatingPlanBindings": [{"DestinationRatesId": "DR_SPECIAL", "TimingId": "*any"}],
        },
    },
    "rating_profiles": {
        f"cgrates.org:call:{subject}": {
            "Tenant": "cgrates.org",
            "Category": "call",
            "Subject": subject,
            "RatingPlanActivations": [
                {"ActivationTime": "2014-01-01T00:00:00Z", "RatingPlanId": plan}
            ],
        }
        for subject, plan in (
            ("1001", "RP_1001"),
            ("SPECIAL", "RP_SPECIAL"),
            ("SAME_AS_1001", "RP_1001"),
        )
    },
    "actions": {
        "TOPUP_10": {
            "ID": "TOPUP_10",
            "Actions": [
                {
                    "Identifier": "*topup_reset",
                    "BalanceId": "main",
                    "BalanceType": "*monetary",
                    "Units": "10",
                    "BalanceWeight": "10",
                    "ExpiryTime": "*unlimited",
                    "DestinationIds": "*any",
                    "Weight": 10,
                },
                {
                    "Identifier": "*topup",
                    "BalanceId": "free_minutes",
                    "BalanceType": "*voice",
                    "Units": "90s",
                    "RatingSubject": "*zero1m",
                    "DestinationIds": "DST_1002",
                    "BalanceWeight": "20",
                    "Weight": 20,
                },
            ],
        },
        "DISABLE": {"ID": "DISABLE", "Actions": [{"Identifier": "*disable_account"}]},
    },
    "action_plans": {
        "AP_PACKAGE": {
            "ID": "AP_PACKAGE",
            "ActionPlan": [
                {"ActionsId": "TOPUP_10", "TimingId": "*asap", "Weight": 10},
                {"ActionsId": "TOPUP_10", "TimingId": "*monthly", "Weight": 10},
            ],
        }
    },
}


@pytest.fixture(scope="session")
def engine() -> RatingEngine:
    return RatingEngine.compile(LIVE)


def call(destination: str, usage: int, *, account="1001", subject="1001", duration_index=0):
    """A call of ``usage`` ns at T0, rated as ``subject``, charged to ``account``."""
    return CallDescriptor(
        "cgrates.org",
        "call",
        subject,
        destination,
        T0,
        account=account,
        duration_index=duration_index,
        usage=usage,
    )


def rater(engine: RatingEngine, destination: str, usage: int, duration_index: int = 0):
    """(rate, destinations) for the pure planners, as the service builds them."""
    return call_rater(engine, call(destination, usage, duration_index=duration_index))


def service_on(datadb) -> AccountService:
    """An AccountService on ``datadb``, emptied and loaded with LIVE."""
    datadb.flush()
    datadb.write_live(
        [(kind, obj_id, doc) for kind, objs in LIVE.items() for obj_id, doc in objs.items()]
    )
    return AccountService(SimpleNamespace(datadb=datadb, rating=LiveRating(datadb)))


def redis_test_url(redis_url: str) -> str:
    return f"{redis_url}?prefix=fs_cgr_accounts_test_{os.getpid()}"


@pytest.fixture(params=["memory", "redis"])
def service(request):
    if request.param == "memory":
        datadb = open_datadb("internal://")
    else:
        datadb = open_datadb(redis_test_url(request.getfixturevalue("redis_url")))
    yield service_on(datadb)
    datadb.close()
    if request.param == "redis":  # every key, version counters too (flush keeps those)
        wipe_redis_prefix(request.getfixturevalue("redis_url"), datadb.prefix)
