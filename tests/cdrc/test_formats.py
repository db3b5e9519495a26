"""The Mediator's other formats and its config checks (embedded backend)."""

import json
import threading

import pytest

from fs_cgr.cdrc.service import FolderMediator
from fs_cgr.config import CdrcConfig, ConfigError, load_config
from tests.cdrc.helpers import rotate_in


def _folder(node, tmp_path, **fields) -> FolderMediator:
    (tmp_path / "in").mkdir(exist_ok=True)
    spec = CdrcConfig(in_dir=str(tmp_path / "in"), out_dir=str(tmp_path / "out"), settle=0)
    for name, value in fields.items():
        setattr(spec, name, value)
    return FolderMediator(node, spec, threading.Event())


def test_cgrates_csv_default_columns(embedded, tmp_path):
    folder = _folder(embedded, tmp_path, format="cgrates_csv", cost_runs=["*default"])
    line = "x,y,*voice,cg-1,*rated,*out,cgrates.org,call,1001,1001,1002,"
    line += "2014-08-04T13:00:00Z,2014-08-04T13:00:00Z,60s"
    rotate_in(folder.spec.in_dir, "cdrs.csv", [line, "too,few"])
    assert folder.run_once() == 1
    (cdr,) = embedded.cdrs.get_cdrs({})
    assert (cdr["OriginID"], str(cdr["Cost"]), cdr["RunID"]) == ("cg-1", "0.6", "*default")
    assert (tmp_path / "out" / "cdrs.csv").read_text() == line + ",0.6\n"
    bad = (tmp_path / "out" / "cdrs.csv.bad").read_text()
    assert bad == "# line 2: INVALID_ARGUMENT: expected 14 fields, got 2\ntoo,few\n"


def test_freeswitch_json_one_document_per_file(embedded, tmp_path):
    folder = _folder(embedded, tmp_path, format="freeswitch_json")
    document = {
        "variables": {
            "uuid": "js-1",
            "cgr_reqtype": "*rated",
            "cgr_account": "1001",
            "answer_uepoch": "1407157200000000",
            "billsec": "60",
        },
        "callflow": {"caller_profile": {"destination_number": "1002"}},
    }
    rotate_in(folder.spec.in_dir, "a_js-1.cdr.json", [json.dumps(document)])
    rotate_in(folder.spec.in_dir, "b_broken.cdr.json", ["{not json"])
    assert folder.run_once() == 2
    (cdr,) = embedded.cdrs.get_cdrs({})
    assert (cdr["OriginID"], str(cdr["Cost"])) == ("js-1", "0.6")
    bad = (tmp_path / "out" / "b_broken.cdr.json.bad").read_text()
    assert bad.startswith("# line 1: INVALID_ARGUMENT: body is not JSON")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"in_dir": ""}, "in_dir is required"),
        ({"out_dir": "SAME"}, "out_dir must differ"),
        ({"format": "xml"}, "unknown CDR file format"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
    ],
)
def test_bad_cdrc_config_is_refused_clearly(embedded, tmp_path, fields, message):
    (tmp_path / "in").mkdir()
    if fields.get("out_dir") == "SAME":
        fields = {"out_dir": str(tmp_path / "in")}
    with pytest.raises(ConfigError, match=message):
        _folder(embedded, tmp_path, **fields)


def test_cdrc_config_from_json(tmp_path):
    entry = {"in_dir": "/a", "out_dir": "/b", "run_delay": "2s", "cost_runs": ["*default"]}
    config = load_config(overrides={"cdrc": [entry]}, env={})
    (spec,) = config.cdrc
    assert (spec.in_dir, spec.run_delay, spec.cost_runs) == ("/a", 2_000_000_000, ["*default"])
    with pytest.raises(ConfigError, match="cdrc"):
        load_config(overrides={"cdrc": [{"in_dirr": "/a"}]}, env={})
