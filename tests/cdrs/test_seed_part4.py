"""The seed's part 4 against ``fs-cgr serve`` as a real process, with the project's own plan
(22c per minute to Australian mobiles, charged per minute), on both backends; then the
Mediator that serve starts from its config, and ``fs-cgr cdrs`` streaming the result."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal

import pytest

from fs_cgr.api import cli
from fs_cgr.api.client import RpcClient, RpcError
from fs_cgr.storage import open_datadb, open_stordb
from tests.api.test_cli import _free_port, _wait_for_ping
from tests.cdrc.helpers import TEMPLATE, csv_line, rotate_in

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAN = {
    "Destinations.csv": "#Id,Prefix\nDST_AUS_Mobile,614\nDST_1002,1002\n",
    "Rates.csv": "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n"
    "RT_AU_Mobile,0,0.22,60s,60s,0s\nRT_20CNT,0.4,0.2,60s,60s,0s\n",
    "DestinationRates.csv": "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,"
    "MaxCost,MaxCostStrategy\nDR_AU_Mobile,DST_AUS_Mobile,RT_AU_Mobile,*up,4,0,\n"
    "DR_1002,DST_1002,RT_20CNT,*up,4,0,\n",
    "RatingPlans.csv": "#Id,DestinationRatesId,TimingTag,Weight\n"
    "RP_AU,DR_AU_Mobile,*any,10\nRP_AU,DR_1002,*any,10\n",
    "RatingProfiles.csv": "#Tenant,Category,Subject,ActivationTime,RatingPlanId,"
    "RatesFallbackSubject\ncgrates.org,call,*any,2014-01-01T00:00:00Z,RP_AU,\n",
}
# the seed's CDR as it posts it (Direction and all)
SEED_CDR = {
    "Direction": "*out",
    "Category": "call",
    "RequestType": "*raw",
    "ToR": "*monetary",
    "Tenant": "cgrates.org",
    "Account": "1002",
    "Subject": "1002",
    "Destination": "6141111124211",
    "AnswerTime": "2022-02-15 13:07:39",
    "SetupTime": "2022-02-15 13:07:30",
    "Usage": "181s",
    "OriginID": "API Function Example",
}
DEFAULT_CHARGER = {
    "Tenant": "cgrates.org",
    "ID": "DEFAULT",
    "FilterIDs": [],
    "AttributeIDs": ["*none"],
    "Weight": 0,
}


def _databases(backend: str, request, tmp_path) -> tuple[str, str]:
    if backend == "embedded":
        return "internal://", f"sqlite:///{tmp_path}/stordb.sqlite"
    datadb = request.getfixturevalue("redis_url") + "?prefix=fs_cgr_seed4"
    stordb = request.getfixturevalue("mysql_url") + "?table_prefix=seed4_"
    for opened in (open_datadb(datadb), open_stordb(stordb)):
        opened.flush()
        opened.close()
    return datadb, stordb


@pytest.fixture(params=["embedded", "redis+mariadb"])
def served(request, tmp_path):
    """``fs-cgr serve`` with a config file watching ``tmp_path/in``; yields (url, tmp_path)."""
    datadb, stordb = _databases(request.param, request, tmp_path)
    (tmp_path / "in").mkdir()
    port = _free_port()
    config = {
        "general": {"data_dir": str(tmp_path / "data")},
        "listen": {"http": f"127.0.0.1:{port}"},
        "datadb": {"url": datadb},
        "stordb": {"url": stordb},
        "freeswitch_agent": {
            "listen": f"127.0.0.1:{_free_port()}",
            "event_socket_conns": [
                {"address": f"127.0.0.1:{_free_port()}", "password": "s3cret", "reconnects": 0}
            ],
        },
        "tariffplans": {"base_dirs": [str(tmp_path)]},
        "cdrc": [
            {
                "in_dir": str(tmp_path / "in"),
                "out_dir": str(tmp_path / "out"),
                "template": TEMPLATE,
                "settle": "200ms",
            }
        ],
    }
    (tmp_path / "fs_cgr.json").write_text(json.dumps(config))
    command = [sys.executable, "-m", "fs_cgr.api.cli", "serve", "--config"]
    server = subprocess.Popen(
        [*command, str(tmp_path / "fs_cgr.json")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/jsonrpc"
    try:
        _wait_for_ping(url, server)
        yield url, tmp_path
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        server.stderr.close()


def test_seed_part4_flow_then_the_mediator_and_the_export(served, capsys, monkeypatch):
    url, tmp_path = served
    plan = tmp_path / "plan"
    plan.mkdir()
    for name, text in PLAN.items():
        (plan / name).write_text(textwrap.dedent(text))
    assert cli.main(["load", str(plan), "--url", url]) == 0
    api = RpcClient(url, timeout=30)
    with pytest.raises(RpcError, match="PARTIALLY_EXECUTED"):
        api.call("CDRsV1.ProcessExternalCDR", SEED_CDR)
    assert api.call("APIerSv1.SetChargerProfile", DEFAULT_CHARGER) == "OK"
    assert api.call("ApierV1.GetChargerProfile", {"Tenant": "cgrates.org", "ID": "DEFAULT"})
    assert api.call("CDRsV1.ProcessExternalCDR", SEED_CDR) == "OK"
    query = {
        "Direction": "*out",
        "Tenants": ["cgrates.org"],
        "Accounts": ["1002"],
        "TimeStart": "2022-02-14 13:07:39",
        "TimeEnd": "2022-02-16 13:07:39",
        "Limit": 100,
    }
    (cdr,) = api.call("ApierV1.GetCDRs", query)
    assert (cdr["RequestType"], cdr["ToR"], cdr["Usage"]) == ("*raw", "*monetary", "181000000000")
    assert cdr["Cost"] == Decimal("0.88")  # 4 started minutes at 0.22

    rotate_in(
        str(tmp_path / "in"),
        "Master.csv.1",
        [csv_line(f"m{n}", reqtype="*rated") for n in range(5)],
    )
    deadline = time.monotonic() + 30
    while os.listdir(tmp_path / "in"):
        assert time.monotonic() < deadline, "the Mediator did not take the file"
        time.sleep(0.1)
    assert os.listdir(tmp_path / "out") == ["Master.csv.1"]
    assert api.call("CDRsV1.GetCDRsCount", {"Accounts": ["1001"]}) == 5

    capsys.readouterr()
    monkeypatch.setattr(cli, "CDR_PAGE", 2)  # three pages for six CDRs
    assert cli.main(["cdrs", "--url", url, "--format", "json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["OriginID"] for line in lines] == [
        "API Function Example",
        *(f"m{n}" for n in range(5)),
    ]
    assert cli.main(["cdrs", "--url", url, "--format", "csv", "--account", "1001"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("CGRID,RunID,OrderID") and len(rows) == 6
