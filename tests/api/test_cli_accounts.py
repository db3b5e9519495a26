"""``fs-cgr account``, ``fs-cgr topup`` and the polish a new user asked for: --version,
``| head`` without a traceback, a load path that says what is wrong, unanswered calls."""

import subprocess
import sys

from fs_cgr import __version__
from fs_cgr.api.cli import main

from .helpers import ROOT


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_topup_and_account_tables(api, capsys):
    code, out, _ = _run(capsys, "topup", "acc1", "12.5", "--id", "main", "--url", api.url)
    assert code == 0 and "Account cgrates.org:acc1" in out
    code, out, _ = _run(
        capsys,
        "topup",
        "acc1",
        "10m",
        "--type",
        "*voice",
        "--id",
        "free",
        "--destinations",
        "DST_DE",
        "--expiry",
        "2031-01-01T00:00:00Z",
        "--url",
        api.url,
    )
    assert code == 0
    api.call(
        "APIerSv1.SetActions",
        {"ActionsId": "ACT_T", "Actions": [{"Identifier": "*log", "Weight": 10}]},
    )
    api.call(
        "APIerSv1.SetActionTrigger",
        {
            "GroupID": "LOW",
            "UniqueID": "low5",
            "ActionTrigger": {
                "ThresholdType": "*min_balance",
                "ThresholdValue": 5,
                "BalanceType": "*monetary",
                "ActionsID": "ACT_T",
            },
        },
    )
    api.call(
        "APIerSv1.SetActionPlan",
        {
            "Id": "AP_DAILY",
            "ActionPlan": [{"ActionsId": "ACT_T", "Time": "06:00:00", "Weight": 10}],
        },
    )
    api.call(
        "APIerSv2.SetAccount",
        {
            "Tenant": "cgrates.org",
            "Account": "acc1",
            "ActionPlanIDs": ["AP_DAILY"],
            "ActionTriggerIDs": ["LOW"],
        },
    )
    code, out, _ = _run(capsys, "account", "acc1", "--url", api.url)
    lines = out.splitlines()
    assert code == 0
    assert any(line.split()[:3] == ["*monetary", "main", "12.5"] for line in lines)
    voice = next(line for line in lines if line.startswith("*voice"))
    assert voice.split()[:3] == ["*voice", "free", "10m0s"] and "DST_DE" in voice
    assert "2031-01-01T00:00:00Z" in voice
    assert any(line.split()[:4] == ["LOW/low5", "*min_balance", "5", "*monetary"] for line in lines)
    assert any(line.split()[:3] == ["AP_DAILY", "ACT_T", "06:00:00"] for line in lines)


def test_account_not_found(api, capsys):
    assert _run(capsys, "account", "nobody", "--url", api.url)[0] == 1


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as done:
        assert done.code == 0
    assert capsys.readouterr().out.strip() == f"fs-cgr {__version__}"


def test_load_of_a_missing_folder_says_which_and_why(api, capsys):
    code, _, err = _run(capsys, "load", "/nonexistent/plan", "--url", api.url)
    assert code == 1
    assert "INVALID_PATH" in err and "/nonexistent/plan" in err and "no folder" in err


def test_cdrs_table_leaves_unanswered_times_empty_and_survives_a_closed_pipe(api, capsys):
    for index in range(300):
        event = {
            "OriginID": f"unanswered-{index}",
            "OriginHost": "cli",
            "ToR": "*voice",
            "RequestType": "*none",
            "Tenant": "cgrates.org",
            "Account": "acc1",
            "Destination": "1002",
            "SetupTime": "2024-05-06T10:00:00Z",
            "Usage": "0s",
        }
        api.call("CDRsV1.ProcessEvent", {"Flags": ["*chargers:false"], "Event": event})
    code, out, _ = _run(capsys, "cdrs", "--url", api.url, "--limit", "1")
    assert code == 0 and "0001-01-01" not in out
    assert out.splitlines()[1].split()[0] == "acc1"  # AnswerTime column empty
    piped = subprocess.run(
        f"{sys.executable} -m fs_cgr.api.cli cdrs --limit 300 --url {api.url} | head -2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert len(piped.stdout.splitlines()) == 2 and "Traceback" not in piped.stderr
