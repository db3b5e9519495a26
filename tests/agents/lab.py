"""What the agent tests and bench/calls.py share: a per-second tariff plan, a wall clock
for the simulator, an AccountService that remembers every money movement, and when the
money of finished calls has settled."""

import time
from decimal import Decimal
from pathlib import Path

from fs_cgr.accounts.service import AccountService
from fs_cgr.money import ZERO
from tests.fssim import FakeClock

TENANT = "cgrates.org"
# 0.01 per second, billed per second; 33... is priced nowhere (unauthorized destination).
TARIFF_PLAN = {
    "Destinations.csv": "#Id,Prefix\nDST_DE,49\nDST_UK,44\n",
    "Rates.csv": "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n"
    "RT_SEC,0,0.01,1s,1s,0s\nRT_UK,0.05,0.6,60s,1s,0s\n",
    "DestinationRates.csv": "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,"
    "MaxCost,MaxCostStrategy\nDR_STD,DST_DE,RT_SEC,*up,4,0,\nDR_STD,DST_UK,RT_UK,*up,4,0,\n",
    "RatingPlans.csv": "#Id,DestinationRatesId,TimingTag,Weight\nRP_STD,DR_STD,*any,10\n",
    "RatingProfiles.csv": "#Tenant,Category,Subject,ActivationTime,RatingPlanId,"
    "RatesFallbackSubject\ncgrates.org,call,*any,2020-01-01T00:00:00Z,RP_STD,\n",
    "Chargers.csv": "#Tenant,ID,FilterIDs,ActivationInterval,RunID,AttributeIDs,Weight\n"
    "cgrates.org,DEFAULT,,,*default,*none,0\n",
    "Routes.csv": "#Tenant,ID,FilterIDs,ActivationInterval,Sorting,SortingParameters,RouteID,"
    "RouteFilterIDs,RouteAccountIDs,RouteRatingPlanIDs,RouteResourceIDs,RouteStatIDs,"
    "RouteWeight,RouteBlocker,RouteParameters,Weight\n"
    "cgrates.org,ROUTES_DE,,,*weight,,supplier1,,,,,,10,false,,10\n"
    "cgrates.org,ROUTES_DE,,,,,supplier2,,,,,,20,false,,\n",
}
DE = "4912345"  # a priced destination
UNPRICED = "3312345"


class WallClock(FakeClock):
    """The simulator's clock on real time (its timers, e.g. linger, never fire: the agent
    closes the socket itself)."""

    def now_us(self) -> int:
        return time.time_ns() // 1000

    def now(self) -> float:
        return time.time()


class RecordingAccounts(AccountService):
    """The real AccountService, remembering every money movement for the money check."""

    def __init__(self, node):
        super().__init__(node)
        self.reset()

    def debit(self, *args, **kwargs):
        debit = super().debit(*args, **kwargs)
        self.debited.append(debit.cost)
        return debit

    def refund(self, *args, **kwargs):
        refund = super().refund(*args, **kwargs)
        self.refunded.append(refund.cost)
        return refund

    def adjust(self, *args, **kwargs):
        adjustment = super().adjust(*args, **kwargs)
        self.adjusted.append(adjustment.amount)
        return adjustment

    def reset(self) -> None:
        self.debited, self.refunded, self.adjusted = [], [], []

    @property
    def net(self) -> Decimal:
        """Debits - refunds + adjustments: what left the accounts."""
        return sum(self.debited, ZERO) - sum(self.refunded, ZERO) + sum(self.adjusted, ZERO)


def settled(node, calls: int) -> bool:
    """Whether the money of ``calls`` finished calls has stopped moving: each has its CDR and
    no session is left. A session leaves the active list when its settling starts, and the
    CDR is stored last (after the refunds, the rounding and a *postpaid debit): an empty
    session list alone would let a money check read balances that the CDRs do not show yet
    (CDRs still queued for the StorDB, or link events still being handled)."""
    return not node.sessions.active() and node.stordb.count_cdrs({}) >= calls


def write_plan(path: Path) -> Path:
    for name, text in TARIFF_PLAN.items():
        (path / name).write_text(text)
    return path


# the directory entry's cgr_flags in the seeds: every subsystem
SEED_FLAGS = "*resources;*attributes;*sessions;*routes;*thresholds;*stats;*accounts"


def plan_node(prefix: str):
    """A Node on the embedded DataDB and a SQLite StorDB in a new temp folder, with the
    lab's tariff plan loaded (the benches' in-process node)."""
    import tempfile

    from fs_cgr.app import Node
    from fs_cgr.config import load_config

    folder = tempfile.mkdtemp(prefix=prefix)
    overrides = {"general.data_dir": folder, "stordb.url": f"sqlite:///{folder}/stordb.sqlite"}
    node = Node(load_config(overrides=overrides, env={}))
    node.datadb.flush()
    node.tariffplans.load_folder(write_plan(Path(folder)))
    node.rating.refresh()
    return node


def one_call_limit(limit: int) -> dict:
    """A ResourceS profile letting account 1001 hold ``limit`` calls at once."""
    return {
        "Tenant": "cgrates.org", "ID": "RES_1001", "UsageTTL": "1h", "Limit": limit,
        "FilterIDs": ["*string:~*req.Account:1001"], "Weight": 10,
    }  # fmt: skip
