"""cgr_flags: every CGrateS spelling read, IDs passed on, unknown flags logged once."""

import logging

import pytest

from fs_cgr.agents.flags import ChannelFlags
from fs_cgr.config import ConfigError, load_config

SEED = "*resources;*attributes;*sessions;*routes;*thresholds;*stats;*accounts"


def test_the_seeds_flags_turn_every_subsystem_on(caplog):
    caplog.set_level(logging.WARNING)
    flags = ChannelFlags.parse(SEED)
    assert flags == ChannelFlags(
        given=True, accounts=True, routes=True, resources=True, attributes=True,
        thresholds=True, stats=True,
    )  # fmt: skip
    assert caplog.records == []
    assert flags.reporting().stats and flags.reporting().thresholds
    assert flags.altering().attributes


def test_v010_and_v011_spellings_and_ids():
    flags = ChannelFlags.parse(
        ("*suppliers", "*suppliers_ignore_errors", "*attributes:ATTR_A&ATTR_B", "*stats:Q1",
         "*thresholds:T1&T2", "*fd", "*initiate", "*terminate", "*cdrs")
    )  # fmt: skip
    assert flags.routes and not flags.accounts
    assert flags.attribute_ids == ("ATTR_A", "ATTR_B")
    assert flags.altering().attribute_ids == ["ATTR_A", "ATTR_B"]
    assert flags.reporting().stat_ids == ["Q1"]
    assert flags.reporting().threshold_ids == ["T1", "T2"]


def test_max_usage_is_asked_as_cgrates_does():
    assert ChannelFlags.parse("").max_usage_asked(prepaid=False)  # no flags at all
    assert not ChannelFlags.parse("*routes").max_usage_asked(prepaid=False)
    assert ChannelFlags.parse("*routes").max_usage_asked(prepaid=True)
    assert ChannelFlags.parse("*accounts").max_usage_asked(prepaid=False)


def test_an_unknown_flag_is_logged_once(caplog):
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        flags = ChannelFlags.parse("*accounts;*acounts_typo")
    assert flags.accounts
    warned = [r.getMessage() for r in caplog.records if "unknown flag" in r.getMessage()]
    assert warned == ["cgr_flags: unknown flag '*acounts_typo' ignored"]


def test_attribute_config_keys(tmp_path):
    config = load_config(
        overrides={"attributes.process_runs": 2, "attributes.profile_runs": 1,
                   "cdrs.attributes": True, "chargers.attributes": "true",
                   "general.data_dir": str(tmp_path)}, env={},
    )  # fmt: skip
    assert (config.attributes.process_runs, config.attributes.profile_runs) == (2, 1)
    assert config.cdrs.attributes and config.chargers.attributes
    defaults = load_config(overrides={"general.data_dir": str(tmp_path)}, env={})
    assert (defaults.attributes.process_runs, defaults.attributes.profile_runs) == (1, 0)
    assert not defaults.cdrs.attributes and not defaults.chargers.attributes
    with pytest.raises(ConfigError, match="process_runs"):
        load_config(overrides={"attributes.process_runs": 0, "general.data_dir": str(tmp_path)},
                    env={})  # fmt: skip


def test_the_tutorial_branchs_settings_file_loads(tmp_path):
    """nickvsnetworking's AttributeS branch: its cgrates.json settings, in fs_cgr's keys."""
    path = tmp_path / "fs_cgr.json"
    path.write_text(
        '{"attributes": {"process_runs": 2, "profile_runs": 1},'
        ' "cdrs": {"attributes": true}, "chargers": {"attributes": true}}'
    )
    config = load_config(path, overrides={"general.data_dir": str(tmp_path)}, env={})
    assert (config.attributes.process_runs, config.attributes.profile_runs) == (2, 1)
    assert config.cdrs.attributes and config.chargers.attributes
