"""A call's hangup reaches the StorDB once: its session costs, the duplicate check, the
session cost look-up of an unanswered ``*prepaid`` call and its CDRs all go in the group
commit's one StorDB call (for SQLite: one crossing to its thread). What fails there
fails as it did when each was a call of its own."""

from decimal import Decimal

from fs_cgr import jsoncodec
from fs_cgr.cdrs.rater import NO_SESSION_COST, CDRRater
from fs_cgr.cdrs.service import CallCommit
from fs_cgr.encoded import EncodedDict
from fs_cgr.errors import StorageUnavailable
from tests.cdrs.helpers import call, top_up
from tests.cdrs.test_group_commit import HeldStore, _end_calls


class CountingStorDB:
    """The node's StorDB behind a ``run`` like ThreadedStorDB's: records which StorDB
    methods were called inside a ``run`` and which outside."""

    def __init__(self, stordb):
        self._stordb = stordb
        self.runs = 0
        self.inside: list[str] = []
        self.outside: list[str] = []
        self._depth = 0

    def __getattr__(self, name):
        attribute = getattr(self._stordb, name)
        if not callable(attribute):
            return attribute

        def called(*args, **kwargs):
            (self.inside if self._depth else self.outside).append(name)
            return attribute(*args, **kwargs)

        return called

    def run(self, fn, *args, **kwargs):
        self.runs += 1
        self._depth += 1
        try:
            return fn(*args, **kwargs)
        finally:
            self._depth -= 1


def _counting(node) -> CountingStorDB:
    node.stordb = CountingStorDB(node.stordb)
    return node.stordb


def _prepaid(origin_id, **fields):
    return call(origin_id, **{"RequestType": "*prepaid", "Usage": "120s", **fields})


def test_a_prepaid_call_ending_makes_one_stordb_call_for_its_cost_and_cdr(embedded):
    top_up(embedded, "1001", 10)
    event = _prepaid("one")
    embedded.sessions.initiate(event)
    stordb = _counting(embedded)
    result = embedded.sessions.terminate(dict(event, Usage="90s"))
    assert stordb.runs == 1
    assert stordb.outside == []
    assert stordb.inside == ["set_session_cost", "stored_runs", "store_cdrs"]
    (outcome,) = result.cdr
    assert outcome.stored == 1
    stored = embedded.stordb.get_session_cost(outcome.cdrs[0]["CGRID"], "*default")
    assert stored["Usage"] == 90 * 10**9
    assert Decimal(str(stored["CostDetails"]["Cost"])) == result.costs["*default"]
    assert embedded.cdrs.get_cdrs({})[0]["Cost"] == result.costs["*default"] == Decimal("0.6501")


def test_a_prepaid_calls_event_cost_is_encoded_once_for_its_session_cost_and_cdr(node, monkeypatch):
    top_up(node, "1001", 10)
    event = _prepaid("encoded-once")
    node.sessions.initiate(event)
    encoded, encode = [], jsoncodec.encode

    def counting(value):
        if isinstance(value, dict) and "RatingFilters" in value:  # an EventCost
            encoded.append(value)
        return encode(value)

    monkeypatch.setattr(jsoncodec, "encode", counting)
    result = node.sessions.terminate(dict(event, Usage="90s"))
    monkeypatch.undo()
    (outcome,) = result.cdr
    (details,) = encoded
    assert outcome.cdrs[0]["CostDetails"] is details
    assert details["Cost"] == result.costs["*default"] == Decimal("0.6501")
    (cdr,) = node.cdrs.get_cdrs({})
    stored = node.stordb.get_session_cost(cdr["CGRID"], "*default")
    as_stored = jsoncodec.decode(jsoncodec.encode(details))
    assert cdr["CostDetails"] == stored["CostDetails"] == as_stored
    assert cdr["Cost"] == Decimal("0.6501")


def test_a_session_cost_with_another_cost_in_its_details_is_copied_into_the_cdr():
    details = EncodedDict({"Cost": Decimal("0.5"), "Charges": []})
    session_cost = {"Cost": Decimal("0.6"), "CostSource": "*sessions", "CostDetails": details}
    cdr = {}
    CDRRater(None).use_session_cost(cdr, session_cost)
    assert cdr["CostDetails"] == {"Cost": Decimal("0.6"), "Charges": []}
    assert cdr["CostDetails"].__class__ is dict
    assert details["Cost"] == Decimal("0.5")


def test_an_unanswered_prepaid_call_looks_its_session_cost_up_in_the_same_stordb_call(embedded):
    stordb = _counting(embedded)
    outcome = embedded.sessions.process_cdr(_prepaid("unanswered", Usage="0s", AnswerTime=None))
    assert stordb.runs == 1
    assert stordb.outside == []
    assert stordb.inside == ["stored_runs", "get_session_cost", "store_cdrs"]
    (cdr,) = embedded.cdrs.get_cdrs({})
    assert (cdr["Cost"], cdr["ExtraInfo"]) == (0, NO_SESSION_COST)
    assert outcome.stored == 1


def test_an_unanswered_prepaid_cdr_takes_the_session_cost_stored_for_it(embedded):
    event = _prepaid("had-a-session", Usage="0s")
    first = embedded.cdrs.process_call_events([dict(event, RequestType="*rated")])[0]
    cgrid = first.cdrs[0]["CGRID"]
    embedded.stordb.flush()
    embedded.stordb.set_session_cost(
        {
            "CGRID": cgrid,
            "RunID": "*default",
            "OriginID": "had-a-session",
            "CostSource": "*sessions",
            "Usage": 0,
            "CostDetails": {"Cost": 0.25, "Charges": []},
        }
    )
    outcome = embedded.cdrs.process_call_events([event])[0]
    (cdr,) = outcome.cdrs
    assert (cdr["Cost"], cdr["CostSource"], cdr["ExtraInfo"]) == (Decimal("0.25"), "*sessions", "")
    (stored,) = embedded.cdrs.get_cdrs({})
    assert (stored["Cost"], stored["ExtraInfo"]) == (Decimal("0.25"), "")


def test_a_session_cost_look_up_the_stordb_refuses_leaves_the_cdr_unpriced_saying_why(embedded):
    def down(*key):
        raise StorageUnavailable("stordb busy")

    embedded.stordb.get_session_cost = down
    outcome = embedded.sessions.process_cdr(_prepaid("lookup-fails", Usage="0s"))
    assert outcome.stored == 1
    (cdr,) = embedded.cdrs.get_cdrs({})
    assert cdr["Cost"] == -1 and "stordb busy" in cdr["ExtraInfo"]


def test_a_session_cost_the_stordb_refuses_keeps_the_debit_keys_and_the_cdr_its_cost(embedded):
    top_up(embedded, "1001", 10)
    event = _prepaid("cost-refused")
    embedded.sessions.initiate(event)
    forgotten = []
    embedded.datadb.forget_idempotency = lambda *args: forgotten.append(args)

    def refused(doc):
        raise StorageUnavailable("stordb down")

    embedded.stordb.set_session_cost = refused
    result = embedded.sessions.terminate(dict(event, Usage="90s"))
    assert result.costs == {"*default": Decimal("0.6501")}
    (outcome,) = result.cdr
    assert outcome.stored == 1
    assert embedded.cdrs.get_cdrs({})[0]["Cost"] == Decimal("0.6501")
    assert forgotten == []  # not settled: a later terminate finds the keys, not a stored cost
    assert embedded.datadb.journal_all() == []


def test_a_batch_failing_stores_each_callers_session_costs_again_apart(embedded):
    def refuse_bad(cdrs):
        if any(cdr["OriginID"] == "bad" for cdr in cdrs):
            raise ValueError("bad CDR")

    names = ["c0", "c1", "bad", "c2"]
    commits = {
        name: CallCommit(
            session_costs=[
                {"CGRID": f"cgrid-{name}", "RunID": "*default", "Usage": 0, "CostDetails": {}}
            ]
        )
        for name in names
    }
    original = embedded.cdrs.process_call_events

    def with_costs(events, *args):
        (event,) = events
        return original(events, True, None, commits[event["OriginID"]])

    embedded.cdrs.process_call_events = with_costs
    events = [call(name, RequestType="*rated", Usage="60s") for name in names]
    results = _end_calls(embedded, HeldStore(embedded, refuse_bad), events)
    assert isinstance(results.pop(2), ValueError)
    assert [outcome.stored for outcome in results] == [1, 1, 1]
    for name in ("c0", "c1", "c2"):
        assert commits[name].costs_stored is True
        assert embedded.stordb.get_session_cost(f"cgrid-{name}", "*default") is not None
