"""FilterS subset: inline rules, referenced filters, ActivationInterval, *destinations."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from fs_cgr.cdrs.event import normalize
from fs_cgr.errors import ServerError
from fs_cgr.filters import FilterEngine, is_active, parse_inline, passes_rule
from fs_cgr.storage.base import FILTERS
from tests.cdrs.helpers import TENANT, call


@pytest.fixture
def engine(embedded):
    return FilterEngine(embedded)


@pytest.fixture
def event(embedded):
    return normalize(call("f1", Usage="90s", Supplier="carrier1"), embedded.config.general)


@pytest.mark.parametrize(
    "rule, expected",
    [
        ("*string:~*req.Account:1001", True),
        ("*string:~*req.Account:1002;1001", True),
        ("*string:~*req.Account:1002", False),
        ("*notstring:~*req.Account:1002", True),
        ("*prefix:~*req.Destination:10;20", True),
        ("*prefix:~*req.Destination:20", False),
        ("*suffix:~*req.Destination:02", True),
        ("*exists:~*req.Supplier:", True),
        ("*exists:~*req.Nothing:", False),
        ("*notexists:~*req.Nothing:", True),
        ("*string:~*req.Nothing:x", False),
        ("*notstring:~*req.Nothing:x", True),
        ("*string:~*req.Usage:1m30s", True),
        ("*gte:~*req.Usage:90s", True),
        ("*gt:~*req.Usage:90s", False),
        ("*lt:~*req.Usage:2m", True),
        ("*lte:~*req.Usage:89s", False),
        ("*gte:~*req.AnswerTime:2014-08-04T13:00:00Z", True),
        ("*lt:~*req.AnswerTime:2014-08-04T12:00:00Z", False),
        ("*string:~*req.Subject:~*req.Account", True),
        ("*destinations:~*req.Destination:DST_1002", True),
        ("*destinations:~*req.Destination:DST_FAST", False),
        ("*notdestinations:~*req.Destination:DST_FAST", True),
    ],
)
def test_inline_rules(engine, event, rule, expected):
    assert engine.matches(TENANT, [rule], event) is expected


def test_all_filters_must_pass(engine, event):
    assert engine.matches(TENANT, [], event)
    assert engine.matches(
        TENANT, ["*string:~*req.Account:1001", "*prefix:~*req.Destination:1"], event
    )
    assert not engine.matches(
        TENANT, ["*string:~*req.Account:1001", "*prefix:~*req.Destination:2"], event
    )


def _set_filter(node, filter_id, rules, interval=None):
    doc = {"Tenant": TENANT, "ID": filter_id, "Rules": rules, "ActivationInterval": interval}
    node.tariffplans.apply_live([(FILTERS, f"{TENANT}:{filter_id}", doc)])


def test_referenced_filter_needs_every_rule(embedded, engine, event):
    _set_filter(
        embedded,
        "FLTR_1001_1002",
        [
            {"Type": "*string", "Element": "~*req.Account", "Values": ["1001"]},
            {"Type": "*destinations", "Element": "~*req.Destination", "Values": ["DST_1002"]},
        ],
    )
    _set_filter(
        embedded,
        "FLTR_1001_FAST",
        [
            {"Type": "*string", "Element": "~*req.Account", "Values": ["1001"]},
            {"Type": "*destinations", "Element": "~*req.Destination", "Values": ["DST_FAST"]},
        ],
    )
    assert engine.matches(TENANT, ["FLTR_1001_1002"], event)
    assert not engine.matches(TENANT, ["FLTR_1001_FAST"], event)
    with pytest.raises(ServerError, match="NOT_FOUND:FLTR_MISSING"):
        engine.matches(TENANT, ["FLTR_MISSING"], event)


def test_inactive_filter_does_not_match(embedded, engine, event):
    rules = [{"Type": "*string", "Element": "~*req.Account", "Values": ["1001"]}]
    _set_filter(embedded, "FLTR_LATER", rules, {"ActivationTime": "2099-01-01T00:00:00Z"})
    _set_filter(embedded, "FLTR_OVER", rules, "2010-01-01T00:00:00Z;2011-01-01T00:00:00Z")
    _set_filter(embedded, "FLTR_NOW", rules, "2010-01-01T00:00:00Z")
    assert not engine.matches(TENANT, ["FLTR_LATER"], event)
    assert not engine.matches(TENANT, ["FLTR_OVER"], event)
    assert engine.matches(TENANT, ["FLTR_NOW"], event)


def test_activation_interval_forms():
    moment = datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert is_active(None, moment)
    assert is_active("2019-01-01T00:00:00Z", moment)
    assert not is_active("2021-01-01T00:00:00Z", moment)
    assert not is_active("2018-01-01T00:00:00Z;2019-01-01T00:00:00Z", moment)
    assert is_active({"ActivationTime": "", "ExpiryTime": "2021-01-01T00:00:00Z"}, moment)


def test_bad_rules_are_errors(engine, event):
    with pytest.raises(ServerError):
        engine.matches(TENANT, ["*regex:~*req.Account:1"], event)
    with pytest.raises(ServerError):
        engine.matches(TENANT, ["*string:Account:1001"], event)
    with pytest.raises(ServerError):
        engine.matches(TENANT, ["*string"], event)


def test_inline_string_rules_kept_compiled_answer_as_the_rule_itself(engine):
    """``*string`` / ``*notstring`` against constants are kept as a set lookup: for every
    kind of field value their answer is ``passes_rule``'s, and an element without
    ``~*req.`` is refused the same way."""
    when = datetime(2024, 6, 3, 10, 0, tzinfo=timezone.utc)
    values = {
        "Text": "1001", "Empty": "", "NoneValue": None, "Yes": True, "Number": 1001,
        "Usage": 90_000_000_000, "Cost": Decimal("1.50"), "AnswerTime": when,
    }  # fmt: skip
    constants = ["1001", "", "true", "1m30s", "1.50", "2024-06-03T10:00:00Z", "x;1001", "1001;"]
    for name in [*values, "Missing"]:
        event = {name: values[name]} if name in values else {}
        for kind in ("*string", "*notstring"):
            for constant in constants:
                rule = f"{kind}:~*req.{name}:{constant}"
                expected = passes_rule(*parse_inline(rule), event, lambda number: set())
                assert engine.matches(TENANT, [rule], event) is expected, rule
    for rule in ("*string:Account:1001", "*notstring:*req.Account:1001"):
        with pytest.raises(ServerError, match="valid prefix"):
            engine.matches(TENANT, [rule], {"Account": "1001"})
