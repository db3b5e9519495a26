"""The conformance runner itself: path syntax, comparisons, ${RUN}, and its summary line."""

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from tests.conformance_runner import CheckFailed, matches, resolve, substitute

from .helpers import EXAMPLE_PLAN, PEAK, ROOT

ACCOUNT = {
    "ID": "cgrates.org:1001",
    "BalanceMap": {
        "*monetary": [
            {"ID": "welcome", "Value": Decimal("5"), "Weight": 10},
            {"ID": "test", "Value": Decimal("10"), "Weight": 20},
        ],
        "*voice": [{"ID": "v1", "Value": 60}, {"ID": "v2", "Value": 30}],
    },
    "Flags": {"a.b": 1},
}


@pytest.mark.parametrize(
    "path, value",
    [
        ("ID", "cgrates.org:1001"),
        ("BalanceMap.*monetary.1.ID", "test"),
        ("BalanceMap.*monetary[ID=test].Value", Decimal("10")),
        ("BalanceMap.*monetary[Weight=10].ID", "welcome"),
        ("BalanceMap.*voice.Value", [60, 30]),
        ("sum:BalanceMap.*voice.Value", Decimal(90)),
        ("sum:BalanceMap.*monetary.Value", Decimal(15)),
        ("len:BalanceMap.*monetary", 2),
        ("len:$", 3),
        ("$", ACCOUNT),
    ],
)
def test_paths(path, value):
    assert resolve(ACCOUNT, path) == value


@pytest.mark.parametrize("path", ["Nope", "BalanceMap.*monetary[ID=none].Value", "ID.x.y"])
def test_missing_paths_fail_the_check(path):
    with pytest.raises(CheckFailed):
        resolve(ACCOUNT, path)


def test_comparisons():
    tolerance = Decimal("1e-6")
    assert matches(0.7002, Decimal("0.7002004"), tolerance) is None
    assert "expected 0.7002" in matches(0.7002, Decimal("0.7003"), tolerance)
    assert matches("2m0s", "2m0s", tolerance) is None
    assert matches(True, 1, tolerance) is not None  # booleans are not numbers
    assert matches(None, None, tolerance) is None
    assert matches({"ID": "test"}, {"ID": "test", "Value": 1}, tolerance) is None  # subset
    assert matches([1, 2], [1, 2, 3], tolerance) is not None


def test_run_token_replaces_everywhere():
    case = {"call": {"params": {"OriginID": "o-${RUN}", "${RUN}": ["${RUN}"]}}}
    assert substitute(case, "T1") == {"call": {"params": {"OriginID": "o-T1", "T1": ["T1"]}}}


def test_script_prints_cases_and_summary(api, tmp_path):
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "example").symlink_to(EXAMPLE_PLAN)
    params = {"Subject": "1002", "Destination": "4915112345678", "AnswerTime": PEAK}
    cases = [
        {
            "id": "good",
            "tariffplan": "example",
            "call": {"method": "APIerSv1.GetCost", "params": {**params, "Usage": "2m30s"}},
            "expect": {"Cost": 0.4, "Usage": 150e9},
        },
        {
            "id": "wrong",
            "tariffplan": "example",
            "call": {"method": "APIerSv1.GetCost", "params": {**params, "Usage": "60s"}},
            "expect": {"Cost": 0.4},
        },
        {
            "id": "error",
            "tariffplan": "example",
            "call": {
                "method": "APIerSv1.GetCost",
                "params": {**params, "Destination": "33", "Usage": "1s"},
            },
            "expect_error": "UNAUTHORIZED_DESTINATION",
        },
    ]
    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps(cases))
    done = subprocess.run(
        [
            sys.executable,
            "tests/conformance_runner.py",
            "--url",
            api.url,
            "--cases",
            str(cases_file),
            "--tariffplans",
            str(plans),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "PASS good"
    assert lines[1].startswith("FAIL wrong: Cost: expected 0.4, got 0.22")
    assert lines[2] == "PASS error"
    assert lines[3] == "2 passed, 1 failed"
    assert done.returncode == 1
    assert api.node.tariffplans.live().get("destinations", {}) == {}  # last folder removed
