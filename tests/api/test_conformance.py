"""The shared CGrateS conformance cases, through the real HTTP API, on both backends.

Categories whose methods another subsystem still has to provide are listed in
NOT_YET_SERVED; every other case must pass.
"""

import json

import pytest

from tests.conformance_runner import SHARED, Client, Runner

NOT_YET_SERVED: tuple[str, ...] = ()  # every category is served now
CASES_FILE = SHARED / "conformance" / "public_cases.json"
SUBSYSTEMS_FILE = SHARED / "conformance" / "public_cases_subsystems.json"
# Categories of the subsystems file that run; each subsystem adds its own line.
SUBSYSTEM_CATEGORIES = [
    "stats",
    "thresholds",
]


def _cases() -> list:
    if not CASES_FILE.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CASES_FILE} absent"))]
    cases = json.loads(CASES_FILE.read_text())
    if SUBSYSTEMS_FILE.is_file():
        subsystems = json.loads(SUBSYSTEMS_FILE.read_text())
        cases += [case for case in subsystems if case["category"] in SUBSYSTEM_CATEGORIES]
    return [
        pytest.param(case, id=case["id"])
        for case in cases
        if case["category"] not in NOT_YET_SERVED
    ]


@pytest.mark.shared
@pytest.mark.parametrize("case", _cases())
def test_conformance_case(api, tariffplans_dir, case):
    runner = Runner(Client(api.url), tariffplans_dir)
    try:
        reason = runner.run_case(case)
    finally:
        runner.finish()
    assert reason is None, f"{case['id']}: {reason}"
