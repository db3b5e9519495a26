"""The shared CGrateS conformance cases, through the real HTTP API, on both backends.

``public_cases.json`` runs whole. Of ``public_cases_subsystems.json`` the categories
in SUBSYSTEM_CATEGORIES run (add a category there once its subsystem is served).
"""

import json

import pytest

from tests.conformance_runner import SHARED, Client, Runner

CONFORMANCE = SHARED / "conformance"
SUBSYSTEM_CATEGORIES = [
    "actionplans",
    "actiontriggers",
    "attributes",
    "resources",
    "sessions_flags",
    "stats",
    "thresholds",
]
CASE_FILES = (
    (CONFORMANCE / "public_cases.json", None),  # None: every category
    (CONFORMANCE / "public_cases_subsystems.json", SUBSYSTEM_CATEGORIES),
)


def _cases() -> list:
    params = []
    for path, categories in CASE_FILES:
        if not path.is_file():
            params.append(pytest.param(None, marks=pytest.mark.skip(reason=f"{path} absent")))
            continue
        params += [
            pytest.param(case, id=case["id"])
            for case in json.loads(path.read_text())
            if categories is None or case["category"] in categories
        ]
    return params


@pytest.mark.shared
@pytest.mark.parametrize("case", _cases())
def test_conformance_case(api, tariffplans_dir, case):
    runner = Runner(Client(api.url), tariffplans_dir)
    try:
        reason = runner.run_case(case)
    finally:
        runner.finish()
    assert reason is None, f"{case['id']}: {reason}"
