"""mod_cdr_csv files through the CDR pipeline, with every bad line reported."""

import csv
from decimal import Decimal

import pytest

from fs_cgr.cdrs.freeswitch import EXAMPLE_TEMPLATE, import_csv, parse_template
from fs_cgr.errors import InvalidArgument
from tests.cdrs.helpers import monetary, top_up

# FreeSWITCH's "example" template; 2014-08-04 13:00:00 in UTC.
GOOD = (
    '"Alice","1001","1002","default","2014-08-04 13:00:00","2014-08-04 13:00:00",'
    '"2014-08-04 13:02:00","120","120","NORMAL_CLEARING","{uuid}","","1001","PCMU","PCMU"'
)


def _line(call_uuid, **changes):
    """The GOOD line for ``call_uuid`` with some columns changed."""
    fields = dict(
        zip(EXAMPLE_TEMPLATE, next(csv.reader([GOOD.format(uuid=call_uuid)])), strict=True)
    )
    fields.update(changes)
    return ",".join(f'"{fields[name]}"' for name in EXAMPLE_TEMPLATE)


def test_example_template_with_bad_lines_reported(node):
    node.config.general.default_request_type = "*postpaid"
    top_up(node, "1001", 10)
    text = "\n".join(
        [
            _line("csv-1"),
            _line("csv-2", billsec="60", answer_stamp="2014-08-04 13:01:00"),
            '"too","few","fields"',
            _line("csv-4", answer_stamp="04/08/2014 13:00"),
            _line("csv-5", billsec="sixty"),
            _line(""),
            _line("csv-7", destination_number="999"),
            "",
            _line("csv-1"),
        ]
    )
    report = import_csv(node, "Master.csv", text)
    assert (report.processed, report.stored, report.duplicates, report.failed) == (8, 3, 1, 4)
    assert report.unrated_runs == 1
    assert report.problems == [
        "Master.csv:3: INVALID_ARGUMENT: expected 15 fields, got 3",
        "Master.csv:4: INVALID_ARGUMENT: field answer_stamp: invalid time '04/08/2014 13:00'",
        "Master.csv:5: INVALID_ARGUMENT: field billsec: not a whole number: 'sixty'",
        "Master.csv:6: INVALID_ARGUMENT: field uuid: empty",
        "Master.csv:7: run *default not rated: SERVER_ERROR: UNAUTHORIZED_DESTINATION",
    ]
    assert report.summary() == ("processed 8, stored 3, duplicates 1, failed 4, unrated runs 1")
    costs = {
        cdr["OriginID"]: cdr["Cost"]
        for cdr in node.cdrs.get_cdrs({"OriginIDs": ["csv-1", "csv-2", "csv-7"]})
    }
    assert costs == {"csv-1": Decimal("0.7002"), "csv-2": Decimal("0.6"), "csv-7": Decimal(-1)}
    assert monetary(node, "1001") == Decimal(10) - Decimal("0.7002") - Decimal("0.6")


def test_own_template_and_timezone(node):
    template = (
        '"${uuid}","${cgr_reqtype}","${accountcode}",'
        '"${destination_number}","${answer_stamp}","${billsec}"'
    )
    text = '"own-1","*rated","1001","1002","2014-08-04 15:00:00","120"\n'
    report = import_csv(node, "own.csv", text, template, "Europe/Berlin")
    assert (report.stored, report.failed) == (1, 0)
    (cdr,) = node.cdrs.get_cdrs({"OriginIDs": ["own-1"]})
    assert cdr["AnswerTime"].isoformat() == "2014-08-04T13:00:00+00:00"
    assert (cdr["RequestType"], cdr["Account"], cdr["Cost"]) == (
        "*rated",
        "1001",
        Decimal("0.7002"),
    )
    assert cdr["Source"] == "FreeSWITCHAgent"


def test_templates():
    assert parse_template(None) == EXAMPLE_TEMPLATE
    assert parse_template("uuid, billsec") == ("uuid", "billsec")
    assert parse_template('"${uuid}","${billsec}"') == ("uuid", "billsec")
    with pytest.raises(InvalidArgument):
        parse_template("uuid,,billsec")
