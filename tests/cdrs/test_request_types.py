"""Every RequestType as CGrateS treats it, on both backends: what is priced, what is
debited, what is stored; and CDRsV1.RateCDRs after a tariff fix."""

from decimal import Decimal

import pytest

from fs_cgr.cdrs.event import cgrid
from fs_cgr.durations import SECOND
from tests.cdrs.helpers import PLAN, call, monetary, top_up, write_plan

MINUTE_TO_1002 = Decimal("0.6")  # 0.4 connect fee + 0.2 the first minute


@pytest.mark.parametrize(
    "request_type, priced, debited",
    [
        ("*none", False, False),
        ("*postpaid", True, True),
        ("*pseudoprepaid", True, True),
        ("postpaid", True, True),  # CGrateS' CDR server debits the old spelling too
        ("*rated", True, False),
        ("rated", True, False),
        ("*raw", True, False),  # the seed's part 4
        ("*monetary", True, False),  # anything else: priced, nothing debited
    ],
)
def test_each_request_type(node, request_type, priced, debited):
    top_up(node, "1001", 10)
    outcome = node.cdrs.process_event(call("rt", RequestType=request_type, Usage="60s"))
    assert outcome.error is None and outcome.stored == 1
    (cdr,) = node.cdrs.get_cdrs({"OriginIDs": ["rt"]})
    assert cdr["RequestType"] == request_type  # stored as given
    assert cdr["Cost"] == (MINUTE_TO_1002 if priced else -1)
    assert monetary(node, "1001") == (10 - MINUTE_TO_1002 if debited else 10)


@pytest.mark.parametrize("request_type", ["*prepaid", "prepaid"])
def test_prepaid_takes_the_session_cost(node, request_type):
    top_up(node, "1001", 10)
    event = call("pp", RequestType=request_type, Usage="60s")
    node.stordb.set_session_cost(
        {
            "CGRID": cgrid("pp", "tests"),
            "RunID": "*default",
            "CostSource": "*sessions",
            "Usage": 60 * SECOND,
            "CostDetails": {"Cost": "0.55"},
        }
    )
    node.cdrs.process_event(event)
    (cdr,) = node.cdrs.get_cdrs({"OriginIDs": ["pp"]})
    assert (cdr["Cost"], cdr["CostSource"]) == (Decimal("0.55"), "*sessions")
    assert monetary(node, "1001") == 10  # the session charged it, not the CDR


def test_unknown_request_type_is_authorized_like_rated_without_account(node):
    event = call("auth", account="nobody", RequestType="*raw", Usage="60s")
    assert node.sessions.authorize(event) == {"MaxUsage": 60 * SECOND}
    node.sessions.initiate(dict(event, CGRDebitInterval="0s"))
    result = node.sessions.terminate(dict(event, Usage="30s"))
    assert result.costs == {}  # nothing charged live
    (cdr,) = node.cdrs.get_cdrs({"OriginIDs": ["auth"]})
    assert cdr["Cost"] == Decimal("0.6") and cdr["RequestType"] == "*raw"


def test_rate_cdrs_after_a_tariff_fix_charges_once(node, tmp_path):
    top_up(node, "1001", 10)
    node.cdrs.process_event(call("charged", RequestType="*postpaid", Usage="60s"))
    node.cdrs.process_event(
        call("unrated", destination="1004", RequestType="*postpaid", Usage="60s")
    )
    node.cdrs.process_event(call("rated", destination="1004", RequestType="*rated", Usage="60s"))
    (unrated,) = node.cdrs.get_cdrs({"OriginIDs": ["unrated"]})
    assert unrated["Cost"] == -1 and "UNAUTHORIZED_DESTINATION" in unrated["ExtraInfo"]
    assert monetary(node, "1001") == Decimal("9.4")
    fixed = dict(PLAN)
    fixed["Destinations.csv"] = PLAN["Destinations.csv"] + "\n        DST_1002,1004\n"
    node.tariffplans.load_folder(write_plan(tmp_path / "fixed", fixed))
    node.rating.refresh()
    for _ in range(2):  # twice: the second time there is nothing left to charge
        report = node.cdrs.rate_cdrs({})
        assert report.charged >= 1  # a *postpaid CDR charged before is left alone
    costs = {cdr["OriginID"]: cdr["Cost"] for cdr in node.cdrs.get_cdrs({})}
    assert costs == {"charged": MINUTE_TO_1002, "unrated": MINUTE_TO_1002, "rated": MINUTE_TO_1002}
    assert monetary(node, "1001") == Decimal("8.8")  # the fixed CDR charged, once


def _repriced_plan(tmp_path):
    """The plan with the first minute to 1002 at 0.3 instead of 0.2 (a tariff fix)."""
    fixed = dict(PLAN)
    fixed["Rates.csv"] = PLAN["Rates.csv"].replace("RT_20CNT,0.4,0.2,60s", "RT_20CNT,0.4,0.3,60s")
    return write_plan(tmp_path / "repriced", fixed)


def test_rerate_refunds_and_charges_the_new_price_once(node, tmp_path):
    top_up(node, "1001", 10)
    node.cdrs.process_event(call("r1", RequestType="*postpaid", Usage="60s"))
    node.cdrs.process_event(call("r2", destination="1009", RequestType="*postpaid", Usage="90s"))
    assert monetary(node, "1001") == 10 - MINUTE_TO_1002 - Decimal("0.66")  # 0.6501 -> 0.66
    node.tariffplans.load_folder(_repriced_plan(tmp_path))
    node.rating.refresh()
    assert node.cdrs.rate_cdrs({}).charged == 2  # without *rerate: left alone
    for _ in range(2):  # re-rating twice charges the new price once
        assert node.cdrs.rate_cdrs({}, rerate=True).rated == 2
        costs = {cdr["OriginID"]: cdr["Cost"] for cdr in node.cdrs.get_cdrs({})}
        assert costs == {"r1": Decimal("0.7"), "r2": Decimal("0.76")}
        assert monetary(node, "1001") == 10 - Decimal("0.7") - Decimal("0.76")


def test_an_interrupted_rerate_repairs_itself(embedded, tmp_path, monkeypatch):
    top_up(embedded, "1001", 10)
    embedded.cdrs.process_event(call("r3", RequestType="*postpaid", Usage="60s"))
    embedded.tariffplans.load_folder(_repriced_plan(tmp_path))
    embedded.rating.refresh()
    real_debit = embedded.accounts.debit

    def crash(*args, **kwargs):
        raise OSError("crashed after the refund")

    monkeypatch.setattr(embedded.accounts, "debit", crash)
    with pytest.raises(OSError):
        embedded.cdrs.rate_cdrs({}, rerate=True)
    assert monetary(embedded, "1001") == 10  # refunded, not charged again yet
    monkeypatch.setattr(embedded.accounts, "debit", real_debit)
    embedded.cdrs.rate_cdrs({}, rerate=True)
    assert monetary(embedded, "1001") == Decimal("9.3")
    (cdr,) = embedded.cdrs.get_cdrs({})
    assert cdr["Cost"] == Decimal("0.7")
