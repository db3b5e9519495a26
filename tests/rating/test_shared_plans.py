"""The licensed sample plans of ../shared: every folder loads and compiles, and the public
GetCost conformance cases that need no setup give CGrateS' figures straight from the engine."""

import json

import pytest

from fs_cgr.durations import parse_duration
from fs_cgr.errors import CGRError
from fs_cgr.rating import CallDescriptor, RatingEngine, load_folder
from fs_cgr.times import parse_time

pytestmark = pytest.mark.shared

CATEGORIES = {
    "connect_fee",
    "tiers",
    "longest_prefix",
    "timings",
    "fallback",
    "any_subject",
    "errors",
}


@pytest.fixture(scope="module")
def engines(tariffplans_dir):
    folders = sorted(path for path in tariffplans_dir.iterdir() if path.is_dir())
    assert folders, f"no tariff plans under {tariffplans_dir}"
    return {folder.name: RatingEngine.compile(load_folder(folder).live) for folder in folders}


def rating_cases(shared_dir):
    cases = json.loads((shared_dir / "conformance" / "public_cases.json").read_text())
    return [
        case
        for case in cases
        if case["category"] in CATEGORIES
        and not case.get("setup")
        and case["call"]["method"] == "APIerSv1.GetCost"
    ]


def test_every_folder_compiles(engines):
    assert len(engines) >= 5


def test_public_getcost_cases(engines, shared_dir):
    cases = rating_cases(shared_dir)
    assert len(cases) >= 15
    failures = []
    for case in cases:
        params = case["call"]["params"]
        cd = CallDescriptor(
            params["Tenant"],
            params["Category"],
            params["Subject"],
            params["Destination"],
            parse_time(params["AnswerTime"]),
            usage=parse_duration(params["Usage"]),
        )
        try:
            result = engines[case["tariffplan"]].get_cost(cd).to_event_cost()
        except CGRError as exc:
            if not case.get("expect_error") or case["expect_error"] not in exc.message:
                failures.append(f"{case['id']}: unexpected error {exc.message}")
            continue
        if case.get("expect_error"):
            failures.append(f"{case['id']}: expected error {case['expect_error']}")
            continue
        for path, expected in case["expect"].items():
            actual = result[path]
            if abs(actual - expected) > case.get("tolerance", 1e-6):
                failures.append(f"{case['id']}: {path} {actual} != {expected}")
    assert failures == []
