"""CSV folder loading: CGrateS' format quirks, every file kind, errors pointing at the cell."""

import pytest

from fs_cgr.rating import TariffPlanError, folder_object_ids, load_folder

from .plans import BASE_PLAN, write_folder


def test_quirks_comments_blank_lines_empty_numbers_and_missing_newline(tmp_path):
    folder = write_folder(
        tmp_path,
        {
            "Rates.csv": (
                "#ID,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n"
                "\n"
                "# RT_A charges per minute, then per second ,,,,,\n"
                "RT_A,0.2,1.2,1m,1m,0\n"
                ",,,,,\n"
                "RT_A,,1.2,1m,1s,1m\n"
                "RT_SMS,,0.05,1,1,0"
            ),
        },
    )
    rates = load_folder(folder).live["rates"]
    assert rates == {
        "RT_A": {
            "ID": "RT_A",
            "RateSlots": [
                {
                    "ConnectFee": "0.2",
                    "Rate": "1.2",
                    "RateUnit": "1m",
                    "RateIncrement": "1m",
                    "GroupIntervalStart": "0",
                },
                {
                    "ConnectFee": "0",
                    "Rate": "1.2",
                    "RateUnit": "1m",
                    "RateIncrement": "1s",
                    "GroupIntervalStart": "1m",
                },
            ],
        },
        "RT_SMS": {
            "ID": "RT_SMS",
            "RateSlots": [
                {
                    "ConnectFee": "0",
                    "Rate": "0.05",
                    "RateUnit": "1",
                    "RateIncrement": "1",
                    "GroupIntervalStart": "0",
                }
            ],
        },
    }


def test_rating_documents_from_the_base_plan(tmp_path):
    plan = load_folder(write_folder(tmp_path, BASE_PLAN))
    live = plan.live
    assert live["destinations"]["DST_AU_FIXED"] == {
        "ID": "DST_AU_FIXED",
        "Prefixes": ["612", "613"],
    }
    assert live["timings"]["PEAK"] == {
        "ID": "PEAK",
        "Years": "*any",
        "Months": "*any",
        "MonthDays": "*any",
        "WeekDays": "1;2;3;4;5",
        "Time": "08:00:00",
    }
    assert live["destination_rates"]["DR_MAIN"]["DestinationRates"][2] == {
        "DestinationId": "DST_AU_FIXED",
        "RateId": "RT_FEE",
        "RoundingMethod": "*up",
        "RoundingDecimals": 4,
        "MaxCost": "0.12",
        "MaxCostStrategy": "*disconnect",
    }
    assert live["rating_plans"]["RP_WITH_ANY"]["RatingPlanBindings"] == [
        {"DestinationRatesId": "DR_US", "TimingId": "*any", "Weight": 10},
        {"DestinationRatesId": "DR_ANY", "TimingId": "*any", "Weight": 10},
    ]
    switcher = live["rating_profiles"]["cgrates.org:call:switcher"]
    assert [a["RatingPlanId"] for a in switcher["RatingPlanActivations"]] == ["RP_OLD", "RP_NEW"]
    fallback = live["rating_profiles"]["cgrates.org:call:us_fallback"]["RatingPlanActivations"]
    assert fallback == [
        {
            "ActivationTime": "2014-01-01T00:00:00Z",
            "RatingPlanId": "RP_US",
            "FallbackSubjects": "*any",
        }
    ]
    assert plan.account_actions == []


ACCOUNTING_FILES = {
    "Actions.csv": """
        #ActionsId[0],Action[1],ExtraParameters[2],Filter[3],BalanceId[4],BalanceType[5],Categories[6],DestinationIds[7],RatingSubject[8],SharedGroup[9],ExpiryTime[10],TimingIds[11],Units[12],BalanceWeight[13],BalanceBlocker[14],BalanceDisabled[15],Weight[16]
        ACT_TOPUP,*topup_reset,,,test,*monetary,,*any,,,*unlimited,,10,10,false,false,10
        ACT_TOPUP,*topup,,,,*voice,,DST_AU,,,*unlimited,,100s,20,false,false,20
        ACT_JSON,*cdrlog,"{""Category"":""^ddi""}",,,,,,,,,,,,false,false,10
    """,
    "ActionPlans.csv": """
        #Id,ActionsId,TimingId,Weight
        AP_PACKAGE,ACT_TOPUP,*asap,10
    """,
    "AccountActions.csv": """
        #Tenant,Account,ActionPlanId,ActionTriggersId,AllowNegative,Disabled
        cgrates.org,1001,AP_PACKAGE,STANDARD_TRIGGERS,,
        cgrates.org,1002,AP_PACKAGE,,true,false
    """,
}


def test_actions_action_plans_and_account_actions(tmp_path):
    plan = load_folder(write_folder(tmp_path, ACCOUNTING_FILES))
    actions = plan.live["actions"]["ACT_TOPUP"]["Actions"]
    assert actions[0] == {
        "Identifier": "*topup_reset",
        "ExtraParameters": "",
        "Filter": "",
        "BalanceId": "test",
        "BalanceType": "*monetary",
        "Categories": "",
        "DestinationIds": "*any",
        "RatingSubject": "",
        "SharedGroups": "",
        "ExpiryTime": "*unlimited",
        "TimingTags": "",
        "Units": "10",
        "BalanceWeight": "10",
        "BalanceBlocker": "false",
        "BalanceDisabled": "false",
        "Weight": 10,
    }
    assert (actions[1]["Units"], actions[1]["DestinationIds"]) == ("100s", "DST_AU")
    assert plan.live["actions"]["ACT_JSON"]["Actions"][0]["ExtraParameters"] == (
        '{"Category":"^ddi"}'
    )
    assert plan.live["action_plans"]["AP_PACKAGE"] == {
        "ID": "AP_PACKAGE",
        "ActionPlan": [{"ActionsId": "ACT_TOPUP", "TimingId": "*asap", "Weight": 10}],
    }
    assert plan.account_actions == [
        {
            "Tenant": "cgrates.org",
            "Account": "1001",
            "ActionPlanId": "AP_PACKAGE",
            "ActionTriggersId": "STANDARD_TRIGGERS",
            "AllowNegative": False,
            "Disabled": False,
        },
        {
            "Tenant": "cgrates.org",
            "Account": "1002",
            "ActionPlanId": "AP_PACKAGE",
            "ActionTriggersId": "",
            "AllowNegative": True,
            "Disabled": False,
        },
    ]


PROFILE_FILES = {
    "Filters.csv": """
        #Tenant[0],ID[1],Type[2],Element[3],Values[4],ActivationInterval[5]
        cgrates.org,FLTR_1,*string,~*req.Account,1001;1002,2014-07-29T15:00:00Z
        cgrates.org,FLTR_1,*prefix,~*req.Destination,10;20,
        ,,*gte,~*req.Usage,1m,
    """,
    "Chargers.csv": """
        #Tenant,ID,FilterIDs,ActivationInterval,RunID,AttributeIDs,Weight
        cgrates.org,DEFAULT,,,*default,*none,0
        cgrates.org,SUPPLIER,*exists:~*req.Supplier:,,supplier,*constant:*req.RequestType:*rated,10
        ,,FLTR_1,,,*constant:*req.Category:~*req.Supplier,
    """,
    "Suppliers.csv": """
        #Tenant,ID,FilterIDs,ActivationInterval,Sorting,SortingParamameters,SupplierID,SupplierFilterIDs,SupplierAccountIDs,SupplierRatingPlanIDs,SupplierResourceIDs,SupplierStatIDs,SupplierWeight,SupplierBlocker,SupplierParameters,Weight
        cgrates.org,SPL_1,FLTR_1,2017-11-27T00:00:00Z,*least_cost,,supplier1,,,RP_1,,,10,,,20
        cgrates.org,SPL_1,,,,,supplier2,,,RP_2;RP_3,,,20,true,p2,
        ,,,,,,supplier1,,acc1,,,,,,,
    """,
}


def test_filters_chargers_and_suppliers_with_continuation_rows(tmp_path):
    live = load_folder(write_folder(tmp_path, PROFILE_FILES)).live
    assert live["filters"]["cgrates.org:FLTR_1"] == {
        "Tenant": "cgrates.org",
        "ID": "FLTR_1",
        "Rules": [
            {"Type": "*string", "Element": "~*req.Account", "Values": ["1001", "1002"]},
            {"Type": "*prefix", "Element": "~*req.Destination", "Values": ["10", "20"]},
            {"Type": "*gte", "Element": "~*req.Usage", "Values": ["1m"]},
        ],
        "ActivationInterval": {"ActivationTime": "2014-07-29T15:00:00Z", "ExpiryTime": ""},
    }
    assert live["chargers"]["cgrates.org:SUPPLIER"] == {
        "Tenant": "cgrates.org",
        "ID": "SUPPLIER",
        "FilterIDs": ["*exists:~*req.Supplier:", "FLTR_1"],
        "ActivationInterval": None,
        "RunID": "supplier",
        "AttributeIDs": [
            "*constant:*req.RequestType:*rated",
            "*constant:*req.Category:~*req.Supplier",
        ],
        "Weight": 10,
    }
    route = live["routes"]["cgrates.org:SPL_1"]
    assert (route["Sorting"], route["Weight"], route["FilterIDs"]) == (
        "*least_cost",
        20,
        ["FLTR_1"],
    )
    assert route["Routes"] == [
        {
            "ID": "supplier1",
            "FilterIDs": [],
            "AccountIDs": ["acc1"],
            "RatingPlanIDs": ["RP_1"],
            "ResourceIDs": [],
            "StatIDs": [],
            "Weight": 10,
            "Blocker": False,
            "RouteParameters": "",
        },
        {
            "ID": "supplier2",
            "FilterIDs": [],
            "AccountIDs": [],
            "RatingPlanIDs": ["RP_2", "RP_3"],
            "ResourceIDs": [],
            "StatIDs": [],
            "Weight": 20,
            "Blocker": True,
            "RouteParameters": "p2",
        },
    ]
    assert "stats" not in live


def test_routes_csv_is_read_like_suppliers_csv(tmp_path):
    text = PROFILE_FILES["Suppliers.csv"].replace("Supplier", "Route")
    live = load_folder(write_folder(tmp_path, {"Routes.csv": text})).live
    assert [r["ID"] for r in live["routes"]["cgrates.org:SPL_1"]["Routes"]] == [
        "supplier1",
        "supplier2",
    ]


def test_folder_object_ids_lists_every_live_object(tmp_path):
    folder = write_folder(
        tmp_path, {**ACCOUNTING_FILES, "Chargers.csv": PROFILE_FILES["Chargers.csv"]}
    )
    assert folder_object_ids(folder) == [
        ("action_plans", "AP_PACKAGE"),
        ("actions", "ACT_JSON"),
        ("actions", "ACT_TOPUP"),
        ("chargers", "cgrates.org:DEFAULT"),
        ("chargers", "cgrates.org:SUPPLIER"),
    ]


RATE = "RT_A,0,0.1,60s,1s,0s\n"
TIMING = "T,*any,*any,*any,1,08:00:00\n"
DEST_RATE = "DR_A,DST,RT,*up,4,0,\n"
CHARGER = "cgrates.org,CRG,,,*default,*none,0\n"
ROUTE = "cgrates.org,RTE,,,*weight,,r1,,,,,,10,false,,0\n"
FILTER = "cgrates.org,FLT,*string,~*req.Account,1001,\n"


def _column(line: str, index: int, value: str) -> str:
    """``line`` with its column ``index`` (from 0) replaced."""
    cells = line.rstrip("\n").split(",")
    cells[index] = value
    return ",".join(cells) + "\n"


def _cell(file_name: str, line: str, index: int, value: str, message: str) -> tuple:
    """A case: ``line`` with ``value`` in column ``index``, refused at 1:index+1."""
    return file_name, _column(line, index, value), f"{file_name}:1:{index + 1}: column {message}"


@pytest.mark.parametrize(
    "file_name, text, message",
    [
        (
            "Rates.csv",
            "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n"
            "RT_A,0,0.1,60s,1s,0s\n\n"
            "RT_B,0,0.1,x,1s,0s\n",
            "Rates.csv:4:4: column RateUnit: not a duration",
        ),
        _cell("Rates.csv", RATE, 1, "zero", "ConnectFee: not a decimal"),
        _cell("Rates.csv", RATE, 4, "-1s", "RateIncrement: negative"),
        _cell("Rates.csv", RATE, 2, "1e309", "Rate: larger than"),
        _cell("Rates.csv", RATE, 2, "NaN", "Rate: not a decimal"),
        _cell("Rates.csv", RATE, 2, "Infinity", "Rate: not a decimal"),
        _cell("Rates.csv", RATE, 2, "-0.1", "Rate: must not be negative"),
        _cell("Rates.csv", RATE, 2, "1e-30", "Rate: more than 20"),
        _cell("Rates.csv", RATE, 3, "0", "RateUnit: must be greater"),
        _cell("Rates.csv", RATE, 4, "0s", "RateIncrement: must be"),
        ("Rates.csv", "RT_A,0,0.1,60s\n", "Rates.csv:1:1: expected 6 columns, got 4"),
        ("Rates.csv", 'RT_A,0,"0.1,60s,1s,0s\n', "Rates.csv:1:1: unexpected end of data"),
        _cell("DestinationRates.csv", DEST_RATE, 4, "four", "RoundingDecimals: not an integer"),
        _cell("DestinationRates.csv", DEST_RATE, 4, "-1", "RoundingDecimals: must be from 0 to 20"),
        _cell("DestinationRates.csv", DEST_RATE, 5, "-5", "MaxCost: must not be negative"),
        _cell("DestinationRates.csv", DEST_RATE, 3, "*sideways", "RoundingMethod: unknown value"),
        _cell("DestinationRates.csv", DEST_RATE, 6, "*cheap", "MaxCostStrategy: unknown value"),
        ("RatingPlans.csv", "RP,DR,*any,heavy\n", "RatingPlans.csv:1:4: column Weight: not a"),
        ("RatingPlans.csv", "RP,DR,*any,inf\n", "RatingPlans.csv:1:4: column Weight: not a fin"),
        (
            "RatingProfiles.csv",
            "cgrates.org,call,1001,yesterday,RP,\n",
            "RatingProfiles.csv:1:4: column ActivationTime: not a time",
        ),
        ("Destinations.csv", "DST_A,\n", "Destinations.csv:1:2: column Prefix: must not be empty"),
        _cell("Timings.csv", TIMING, 4, "mon", "WeekDays"),
        _cell("Timings.csv", TIMING, 4, "8", "WeekDays: invalid Week"),
        _cell("Timings.csv", TIMING, 2, "13", "Months: invalid"),
        _cell("Timings.csv", TIMING, 3, "32", "MonthDays: invalid"),
        _cell("Timings.csv", TIMING, 5, "8am", "Time"),
        _cell("Timings.csv", TIMING, 5, "25:99:00", "Time: invalid"),
        (
            "AccountActions.csv",
            "cgrates.org,1001,AP,,maybe,\n",
            "AccountActions.csv:1:5: column AllowNegative: expected true or false",
        ),
        ("Destinations.csv", "DST_A,1,2\n", "Destinations.csv:1:1: expected 2 columns, got 3"),
        ("Chargers.csv", ",,,,*default,,\n", "Chargers.csv:1:2: column ID: must not be empty"),
        _cell(
            "Chargers.csv",
            CHARGER,
            2,
            "*strng:~*req.Account:1001",
            "FilterIDs: unknown filter type",
        ),
        _cell("Chargers.csv", CHARGER, 2, "*string:1001", "FilterIDs: an inline filter is"),
        _cell("Filters.csv", FILTER, 2, "*regexp", "Type: unknown"),
        _cell("Routes.csv", ROUTE, 4, "*cheapest", "Sorting: unknown"),
        _cell(
            "Routes.csv", ROUTE, 7, "*foo:~*req.Account:1", "RouteFilterIDs: unknown filter type"
        ),
    ],
)
def test_bad_rows_name_file_line_and_column(tmp_path, file_name, text, message):
    folder = write_folder(tmp_path, {file_name: text})
    with pytest.raises(TariffPlanError) as caught:
        load_folder(folder)
    assert caught.value.detail.startswith(message)
    assert caught.value.message.startswith("SERVER_ERROR: ")
    assert "1001" not in caught.value.detail.partition(": column")[2]  # values are not echoed


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(TariffPlanError, match="not a directory"):
        load_folder(tmp_path / "absent")
