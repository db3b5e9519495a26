"""The shared CGrateS conformance cases, through the real HTTP API, on both backends.

``public_cases.json`` runs whole. Of ``public_cases_subsystems.json`` the categories
in SUBSYSTEM_CATEGORIES run (add a category there once its subsystem is served).
"""

import json

import pytest

from tests.conformance_runner import SHARED, Client, Runner

CASES_FILE = SHARED / "conformance" / "public_cases.json"
SUBSYSTEM_CASES_FILE = SHARED / "conformance" / "public_cases_subsystems.json"
SUBSYSTEM_CATEGORIES = [
    "actionplans",
    "actiontriggers",
]


def _cases() -> list:
    if not CASES_FILE.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CASES_FILE} absent"))]
    cases = json.loads(CASES_FILE.read_text())
    if SUBSYSTEM_CASES_FILE.is_file():
        cases += [
            case
            for case in json.loads(SUBSYSTEM_CASES_FILE.read_text())
            if case["category"] in SUBSYSTEM_CATEGORIES
        ]
    return [pytest.param(case, id=case["id"]) for case in cases]


@pytest.mark.shared
@pytest.mark.parametrize("case", _cases())
def test_conformance_case(api, tariffplans_dir, case):
    runner = Runner(Client(api.url), tariffplans_dir)
    try:
        reason = runner.run_case(case)
    finally:
        runner.finish()
    assert reason is None, f"{case['id']}: {reason}"
