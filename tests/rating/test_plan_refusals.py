"""Issue 8, point 4: plans that rate nothing are refused, every refusal names the file, line
(and column where there is one), and a fuzzed folder never gets anything past the loader
but its own TariffPlanError, nor changes the live plan when it is refused."""

import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fs_cgr.app import Node
from fs_cgr.config import load_config
from fs_cgr.rating import RatingEngine, TariffPlanError, load_folder
from fs_cgr.rating.loader import _FILES

from .plans import BASE_PLAN, write_folder

SECRET = "root:$6$not-for-your-eyes"


def test_a_directory_named_like_a_plan_file_is_refused(tmp_path):
    folder = write_folder(tmp_path / "plan", BASE_PLAN)
    os.remove(os.path.join(folder, "Rates.csv"))
    os.mkdir(os.path.join(folder, "Rates.csv"))
    with pytest.raises(TariffPlanError, match=r"Rates.csv: not a regular file"):
        load_folder(folder)


def test_a_link_out_of_the_folder_is_refused_without_echoing_it(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET}\n")
    folder = write_folder(tmp_path / "plan", BASE_PLAN)
    os.remove(os.path.join(folder, "Destinations.csv"))
    os.symlink(secret, os.path.join(folder, "Destinations.csv"))
    with pytest.raises(TariffPlanError) as caught:
        load_folder(folder)
    assert "Destinations.csv: a link to a file outside the folder" in caught.value.message
    assert "root" not in caught.value.message


def test_file_content_is_never_echoed(tmp_path):
    folder = write_folder(tmp_path / "plan", {"Rates.csv": f"RT_A,{SECRET},0.1,60s,1s,0s\n"})
    with pytest.raises(TariffPlanError) as caught:
        load_folder(folder)
    assert caught.value.detail == "Rates.csv:1:2: column ConnectFee: not a decimal amount"


@pytest.fixture
def node(tmp_path):
    node = Node(load_config(overrides={"general.data_dir": str(tmp_path / "data")}, env={}))
    yield node
    node.stop()


@pytest.mark.parametrize(
    "file_name, old, new, message",
    [
        (
            "DestinationRates.csv",
            "DR_MAIN,DST_AU_MOB,RT_25_PS",
            "DR_MAIN,DST_AU_MOB,RT_NOPE",
            "DestinationRates.csv:{line}:3: DestinationRates DR_MAIN: RateId 'RT_NOPE' not found",
        ),
        (
            "DestinationRates.csv",
            "DR_MAIN,DST_AU_MOB,",
            "DR_MAIN,DST_NOWHERE,",
            "DestinationRates.csv:{line}:2: DestinationRates DR_MAIN: DestinationId 'DST_NOWHERE'",
        ),
        (
            "RatingPlans.csv",
            "RP_MAIN,DR_PEAK,PEAK,10",
            "RP_MAIN,DR_PEAK,NO_SUCH_TIMING,10",
            "RatingPlans.csv:{line}:3: RatingPlans RP_MAIN: TimingId 'NO_SUCH_TIMING' not found",
        ),
        (
            "RatingPlans.csv",
            "RP_US,DR_US,*any,10",
            "RP_US,DR_GONE,*any,10",
            "RatingPlans.csv:{line}:2: RatingPlans RP_US: DestinationRatesId 'DR_GONE' not found",
        ),
        (
            "RatingProfiles.csv",
            "cgrates.org,call,late,2030-01-01T00:00:00Z,RP_US,",
            "cgrates.org,call,late,2030-01-01T00:00:00Z,RP_NONE,",
            "RatingProfiles.csv:{line}:5: RatingProfiles cgrates.org:call:late: RatingPlanId",
        ),
    ],
)
def test_compile_errors_name_the_line_and_column(node, tmp_path, file_name, old, new, message):
    """The old plan stays live and rating."""
    node.tariffplans.load_folder(write_folder(tmp_path / "good", BASE_PLAN))
    version = node.datadb.live_version()
    before = node.tariffplans.live()
    text = BASE_PLAN[file_name]
    assert old in text
    broken = write_folder(tmp_path / "broken", {**BASE_PLAN, file_name: text.replace(old, new)})
    written = Path(broken, file_name).read_text().splitlines()
    line = next(number for number, row in enumerate(written, 1) if row.strip().startswith(new))
    with pytest.raises(TariffPlanError) as caught:
        node.tariffplans.load_folder(broken)
    assert caught.value.detail.startswith(message.format(line=line)), caught.value.detail
    assert node.datadb.live_version() == version and node.tariffplans.live() == before
    assert node.rating.engine.destination_ids("61412345")  # still rates with the old plan


# -- fuzz ---------------------------------------------------------------------------------

_TOKENS = st.sampled_from(
    [
        "", "0", "1", "-1", "0.1", "1e309", "NaN", "-Infinity", "60s", "0s", "1m", "-1s",
        "*any", "*up", "*middle", "25:99:00", "08:00:00", "8", "1;2;3", "true", "maybe",
        "*string:~*req.Account:1001", "*nope:x:y", "*weight", "*lc", "DST_A", "RT_A",
        "DR_A", "RP_A", "cgrates.org", "call", "2014-01-01T00:00:00Z", '"', '""', "#",
        "\x00", "\u00e9", "\ud7ff", "99999999999999999999999999",
    ]
)  # fmt: skip
_CELL = st.one_of(_TOKENS, st.text(string.printable, max_size=12))
_ROW = st.lists(_CELL, min_size=0, max_size=18).map(lambda cells: ",".join(cells))
_FILE = st.lists(_ROW, max_size=6).map(lambda rows: "\n".join(rows))
_FOLDER = st.dictionaries(st.sampled_from(sorted(_FILES)), _FILE, min_size=1, max_size=5)


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=_FOLDER)
def test_fuzzed_folders_load_or_are_refused_cleanly(node, tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("fuzz")
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    version = node.datadb.live_version()
    before = node.tariffplans.live()
    try:
        plan = load_folder(folder)
        RatingEngine.compile(plan.live)
    except TariffPlanError as exc:
        assert exc.message.startswith("SERVER_ERROR: ")
    try:
        node.tariffplans.load_folder(folder)
    except TariffPlanError:
        assert node.datadb.live_version() == version and node.tariffplans.live() == before
    except Exception as exc:  # only actions that cannot run may refuse otherwise
        assert type(exc).__name__ == "InvalidArgument", repr(exc)
        assert node.datadb.live_version() == version and node.tariffplans.live() == before


CHARGERS = "#Tenant,ID,FilterIDs,ActivationInterval,RunID,AttributeIDs,Weight\n"
FILTERS = "#Tenant,ID,Type,Element,Values,ActivationInterval\n"


def test_chargers_and_routes_name_only_existing_filters(node, tmp_path):
    node.tariffplans.load_folder(write_folder(tmp_path / "good", BASE_PLAN))
    version = node.datadb.live_version()
    broken = write_folder(
        tmp_path / "broken",
        {
            "Filters.csv": FILTERS + "cgrates.org,FLT_1001,*string,~*req.Account,1001,\n",
            "Chargers.csv": CHARGERS
            + "cgrates.org,CRG_OK,FLT_1001,,*default,*none,0\n"
            + "cgrates.org,CRG_BAD,FLT_NOPE,,*default,*none,0\n",
        },
    )
    with pytest.raises(TariffPlanError) as caught:
        node.tariffplans.load_folder(broken)
    assert caught.value.detail == (
        "Chargers.csv:3:3: Chargers cgrates.org:CRG_BAD: FilterIDs 'FLT_NOPE': no such filter"
    )
    assert node.datadb.live_version() == version
    route = {"Tenant": "cgrates.org", "ID": "RTE", "Sorting": "*weight",
             "Routes": [{"ID": "r1", "FilterIDs": ["*strnig:~*req.Account:1"]}]}  # fmt: skip
    with pytest.raises(TariffPlanError, match="Routes cgrates.org:RTE: .*unknown filter type"):
        node.routes.set_profile(route)
    assert node.datadb.live_version() == version
