"""``fs-cgr import-cdrs`` and ``fs-cgr cdrs`` against a running node."""

import csv
import io

from fs_cgr.api.cli import main
from tests.cdrs.test_freeswitch_import import _line


def test_import_then_list(api, tariffplans_dir, tmp_path, capsys):
    folder = str(tariffplans_dir / "cgrates_tutorial")
    api.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": folder})
    master = tmp_path / "Master.csv"
    master.write_text("\n".join([_line("cli-1"), '"bad"', _line("cli-2")]) + "\n")
    assert main(["import-cdrs", str(master), "--url", api.url]) == 1
    out, err = capsys.readouterr()
    assert out.strip() == "processed 3, stored 2, duplicates 0, failed 1, unrated runs 0"
    assert f"{master}:2: INVALID_ARGUMENT: expected 15 fields, got 1" in err

    assert main(["cdrs", "--url", api.url, "--run-id", "*default"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "AnswerTime",
        "Account",
        "Destination",
        "Usage",
        "RequestType",
        "RunID",
        "Cost",
        "ExtraInfo",
    ]
    assert [line.split()[1:7] for line in lines[1:]] == [
        ["1001", "1002", "2m0s", "*rated", "*default", "0.7002"]
    ] * 2

    assert main(["cdrs", "--url", api.url, "--csv", "--origin-id", "cli-2"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((row["RunID"], row["Cost"]) for row in rows) == [
        ("*default", "0.7002"),
        ("*raw", "-1"),
    ]
    assert main(["cdrs", "--url", api.url, "--account", "nobody"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == []
