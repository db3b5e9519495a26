"""A small hand-written tariff plan (CSV) shared by the rating tests.

Rates (per RateUnit, charged in RateIncrement steps from GroupIntervalStart on):
  RT_25_PS   0.25/min per second          RT_25_PM  0.25/min per minute
  RT_20CNT   0.4 fee, 0.2/min per minute for the first minute, then 0.1/min per second
  RT_FEE     20 fee, no rate              RT_CENTS  22 per 60s in 60s steps
  RT_PEAK    0.6/min per second           RT_OFF    0.3/min per second
"""

import datetime as dt
import textwrap

BASE_PLAN = {
    "Destinations.csv": """
        #Id,Prefix
        DST_AU,61
        DST_AU_MOB,614
        DST_AU_FIXED,612
        DST_AU_FIXED,613
        DST_US,1
        DST_TIERS,49
        DST_CENTS,44
        DST_FEE,33
        DST_PEAK,39
        DST_UNRATED,7
    """,
    "Timings.csv": """
        #Tag,Years,Months,MonthDays,WeekDays,Time
        PEAK,*any,*any,*any,1;2;3;4;5,08:00:00
        OFFPEAK_MORNING,*any,*any,*any,1;2;3;4;5,00:00:00
        OFFPEAK_EVENING,*any,*any,*any,1;2;3;4;5,19:00:00
        WEEKEND,*any,*any,*any,6;7,00:00:00
    """,
    "Rates.csv": """
        #Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
        RT_25_PS,0,0.25,60s,1s,0s
        RT_25_PM,0,0.25,60s,60s,0s
        RT_20CNT,0.4,0.2,60s,60s,0s
        RT_20CNT,0,0.1,60s,1s,60s
        RT_FEE,20,0,60s,60s,0s
        RT_CENTS,0,22,60s,60s,0s
        RT_PEAK,0,0.6,60s,1s,0s
        RT_OFF,0,0.3,60s,1s,0s
    """,
    "DestinationRates.csv": """
        #Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
        DR_MAIN,DST_AU,RT_25_PM,*up,4,0,
        DR_MAIN,DST_AU_MOB,RT_25_PS,*up,4,0,
        DR_MAIN,DST_AU_FIXED,RT_FEE,*up,4,0.12,*disconnect
        DR_MAIN,DST_TIERS,RT_20CNT,*up,4,0,
        DR_MAIN,DST_CENTS,RT_CENTS,*middle,2,50,*free
        DR_PEAK,DST_PEAK,RT_PEAK,*up,4,0,
        DR_OFF,DST_PEAK,RT_OFF,*up,4,0,
        DR_US,DST_US,RT_25_PS,*up,4,0,
        DR_ANY,*any,RT_FEE,*up,4,0,
        DR_CHEAP,DST_AU,RT_OFF,*up,4,0,
    """,
    "RatingPlans.csv": """
        #Id,DestinationRatesId,TimingTag,Weight
        RP_MAIN,DR_MAIN,*any,10
        RP_MAIN,DR_PEAK,PEAK,10
        RP_MAIN,DR_OFF,OFFPEAK_MORNING,10
        RP_MAIN,DR_OFF,OFFPEAK_EVENING,10
        RP_MAIN,DR_OFF,WEEKEND,10
        RP_US,DR_US,*any,10
        RP_WITH_ANY,DR_US,*any,10
        RP_WITH_ANY,DR_ANY,*any,10
        RP_OLD,DR_MAIN,*any,10
        RP_NEW,DR_CHEAP,*any,10
    """,
    "RatingProfiles.csv": """
        #Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
        cgrates.org,call,*any,2014-01-01T00:00:00Z,RP_MAIN,
        cgrates.org,call,us_only,2014-01-01T00:00:00Z,RP_US,
        cgrates.org,call,us_fallback,2014-01-01T00:00:00Z,RP_US,*any
        cgrates.org,call,with_any,2014-01-01T00:00:00Z,RP_WITH_ANY,
        cgrates.org,call,switcher,2014-01-01T00:00:00Z,RP_OLD,
        cgrates.org,call,switcher,2024-06-03T12:00:00Z,RP_NEW,
        cgrates.org,call,late,2030-01-01T00:00:00Z,RP_US,
        cgrates.org,call,newcomer,2024-06-03T13:00:30Z,RP_NEW,
    """,
}

MONDAY_1PM = dt.datetime(2024, 6, 3, 13, 0, tzinfo=dt.timezone.utc)


def write_folder(path, files: dict) -> str:
    """Write CSV files (dedented, stripped of the leading newline) into ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(textwrap.dedent(text).lstrip("\n"))
    return str(path)


def seconds(value) -> int:
    return int(value * 1_000_000_000)
