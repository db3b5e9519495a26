"""Fuzzing the JSON-RPC layer: every body gets one well-formed reply, never an exception,
and a reply with an error changed nothing (accounts, CDRs, sessions, live objects)."""

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fs_cgr.api import jsonrpc
from fs_cgr.api.registry import load_method_modules
from tests.cdrs.helpers import make_node, top_up, write_plan

FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
METHODS = [
    "APIerSv1.AddBalance",
    "APIerSv1.DebitBalance",
    "APIerSv1.DebitUsage",
    "APIerSv1.DebitUsageWithOptions",
    "APIerSv1.SetBalance",
    "APIerSv1.RemoveBalances",
    "APIerSv1.SetAccount",
    "APIerSv2.SetAccount",
    "APIerSv1.ExecuteAction",
    "APIerSv1.GetCost",
    "APIerSv1.GetMaxUsage",
    "APIerSv2.GetAccounts",
    "CDRsV1.ProcessCDR",
    "CDRsV1.ProcessEvent",
    "CDRsV1.ProcessExternalCDR",
    "SessionSv1.AuthorizeEvent",
    "SessionSv1.InitiateSession",
    "SessionSv1.UpdateSession",
    "SessionSv1.TerminateSession",
    "SessionSv1.ProcessCDR",
]
CALL = {
    "Tenant": "cgrates.org",
    "Account": "1001",
    "Subject": "1001",
    "Destination": "1002",
    "Category": "call",
    "RequestType": "*postpaid",
    "OriginID": "fuzz",
    "SetupTime": "2014-08-04T13:00:00Z",
    "AnswerTime": "2014-08-04T13:00:00Z",
    "Usage": "60s",
    "BalanceType": "*monetary",
    "Value": 1,
}
SUBSYSTEMS = {
    flag: True for flag in ("GetMaxUsage", "InitiateSession", "UpdateSession", "TerminateSession")
}
FIELDS = sorted(CALL) + ["ExtraFields", "Event", "Flags", "CGRID", "RunID", "Cost", "ID"]

scalars = st.one_of(
    st.sampled_from(["1001", "1002", "*prepaid", "*rated", "*monetary", "-5", "1e400", "0s"]),
    st.text(max_size=20),
    st.text(alphabet=st.sampled_from("\ud800\udfffa;= \n"), max_size=5),
    st.sampled_from(["x" * 129, "1002" + "9" * 200]),
    st.integers(-(10**20), 10**20),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner),
    max_leaves=6,
)


@st.composite
def request(draw) -> bytes:
    params = dict(CALL)  # a request that would pass, with up to two fields changed
    params.update(draw(st.dictionaries(st.sampled_from(FIELDS), values, max_size=2)))
    if draw(st.booleans()):  # the shape of the SessionSv1 and CDRsV1.ProcessEvent methods
        params = {"Event": params, "Tenant": "cgrates.org", **SUBSYSTEMS}
    body = {"method": draw(st.sampled_from(METHODS)), "params": [params], "id": 1}
    text = json.dumps(body, default=str)
    cut = draw(st.none() | st.integers(0, len(text)))  # a cut body is not JSON
    return text[:cut].encode()


@pytest.fixture
def node(request, tmp_path):
    load_method_modules()
    node = make_node("embedded", request, tmp_path / "data")
    node.tariffplans.load_folder(write_plan(tmp_path / "plan"))
    top_up(node, "1001", 10)
    yield node
    node.stop()


def state(node):
    accounts = {
        account_id: node.datadb.get_account(*account_id.split(":", 1))
        for account_id in node.datadb.account_ids()
    }
    journal = sorted(doc["CGRID"] for doc in node.datadb.journal_all())
    return accounts, node.cdrs.count_cdrs({}), journal, len(node.sessions.active())


@FUZZ
@given(body=request())
def test_every_body_gets_one_reply_and_an_error_changes_nothing(node, body):
    before = state(node)
    reply = json.loads(jsonrpc.handle(node, body), parse_float=Decimal)
    assert set(reply) == {"id", "result", "error"}
    if reply["error"] is not None:
        assert reply["result"] is None and isinstance(reply["error"], str)
        assert not reply["error"].startswith("SERVER_ERROR: 'utf-8'"), reply["error"]
        assert state(node) == before, (body, reply["error"])


@FUZZ
@given(body=st.binary(max_size=300))
def test_any_bytes_get_one_error_reply(node, body):
    before = state(node)
    reply = json.loads(jsonrpc.handle(node, body))
    assert set(reply) == {"id", "result", "error"}
    assert reply["error"] is not None and state(node) == before


@pytest.mark.parametrize("stored_as", ["*rated", "*prepaid"])
@pytest.mark.parametrize("method", ["SessionSv1.ProcessCDR", "CDRsV1.ProcessEvent"])
def test_a_cdr_stored_before_under_another_type_is_exists_with_no_debit(node, stored_as, method):
    """Found by the fuzz test: a *postpaid CDR whose CGRID/RunID was stored before as
    *rated was priced (debited) first and only then found stored."""
    stored = _call(node, "CDRsV1.ProcessCDR", {**CALL, "RequestType": stored_as})
    assert stored["error"] is None
    before = state(node)
    reply = _call(node, method, {"Event": dict(CALL), "Tenant": "cgrates.org"})
    assert reply["error"] == "EXISTS"
    assert state(node) == before


def _call(node, method: str, params: dict) -> dict:
    body = json.dumps({"method": method, "params": [params], "id": 1}).encode()
    return json.loads(jsonrpc.handle(node, body), parse_float=Decimal)
