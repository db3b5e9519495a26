"""CGrateS v0.10's session refund test with the project's own plan: a session terminated
with Usage 0 gives back everything initiate debited, the connect fee included."""

from decimal import Decimal

from tests.cdrs.helpers import call, monetary, top_up


def test_terminate_with_zero_usage_refunds_everything(node):
    top_up(node, "1001", "10.65")
    event = call("z1", RequestType="*prepaid", Usage="120s", CGRDebitInterval="0s")
    node.sessions.initiate(event)
    assert monetary(node, "1001") == Decimal("10.65") - Decimal("0.7002")  # fee 0.4 included
    result = node.sessions.terminate(dict(event, Usage="0s"))
    assert result.costs == {"*default": Decimal("0")}
    assert monetary(node, "1001") == Decimal("10.65")
    (cdr,) = node.cdrs.get_cdrs({"OriginIDs": ["z1"]})
    assert (cdr["Cost"], cdr["Usage"]) == (Decimal("0"), 0)


def test_terminate_with_some_usage_keeps_the_connect_fee(node):
    top_up(node, "1001", "10.65")
    event = call("z2", RequestType="*prepaid", Usage="120s", CGRDebitInterval="0s")
    node.sessions.initiate(event)
    result = node.sessions.terminate(dict(event, Usage="1s"))
    assert result.costs == {"*default": Decimal("0.6")}  # fee + the first (whole) minute
    assert monetary(node, "1001") == Decimal("10.05")
