"""mod_cdr_csv files for the Mediator tests: the project's own calls, priced by
tests/cdrs/helpers.PLAN (a 60 s call to 1002 costs 0.6: 0.4 connect fee + 0.2 first minute)."""

import os
from datetime import timedelta

from tests.cdrs.helpers import T0

TEMPLATE = (
    "uuid,cgr_reqtype,accountcode,destination_number,start_stamp,answer_stamp,end_stamp,billsec"
)


def csv_line(uuid: str, seconds: int = 60, account: str = "1001", reqtype="*postpaid") -> str:
    answer = T0 + timedelta(minutes=sum(map(ord, uuid)) % 1000)
    stamps = [
        (answer - timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S"),
        answer.strftime("%Y-%m-%d %H:%M:%S"),
        (answer + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S"),
    ]
    fields = [uuid, reqtype, account, "1002", *stamps, str(seconds)]
    return ",".join(f'"{value}"' for value in fields)


def rotate_in(in_dir, name: str, lines: list[str]) -> str:
    """Write the file aside, then rename it in: how mod_cdr_csv's rotation delivers one."""
    aside = os.path.join(os.path.dirname(in_dir), "." + name)
    with open(aside, "w") as stream:
        stream.write("\n".join(lines) + "\n")
    target = os.path.join(in_dir, name)
    os.replace(aside, target)
    return target
