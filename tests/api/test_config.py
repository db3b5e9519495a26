"""Config: documented defaults, file < env < overrides, and refusals that name the key."""

import json

import pytest

from fs_cgr.config import Config, ConfigError, load_config, to_dict
from fs_cgr.durations import HOUR, SECOND


def _write(tmp_path, doc) -> str:
    path = tmp_path / "fs_cgr.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def test_defaults(tmp_path):
    config = load_config(overrides={"general.data_dir": str(tmp_path)}, env={})
    assert config.general.default_tenant == "cgrates.org"
    assert config.general.default_category == "call"
    assert config.general.default_request_type == "*rated"
    assert config.general.rounding_decimals == 5
    assert config.listen.http == "127.0.0.1:2080"
    assert config.datadb.url == "internal://"
    assert config.stordb.url == f"sqlite:///{tmp_path}/stordb.sqlite"
    assert config.cdrs.spool_dir == f"{tmp_path}/cdr-spool"
    assert config.cdrs.store_batch == 500
    sessions = config.sessions
    assert (sessions.debit_interval, sessions.min_call_duration) == (10 * SECOND, 0)
    assert (sessions.max_call_duration, sessions.channel_sync_interval) == (3 * HOUR, 60 * SECOND)
    agent = config.freeswitch_agent
    assert agent.listen == "127.0.0.1:8084"
    assert [(c.address, c.password, c.reconnects) for c in agent.event_socket_conns] == [
        ("127.0.0.1:8021", "", -1)  # no default password: FreeSWITCH sets its own
    ]
    assert (agent.linger, agent.hangup_on_shutdown, agent.create_cdr) == (10, True, True)
    assert agent.max_connections == 10000
    assert Config().datadb.url == "internal://"  # usable without load_config too


def test_file_env_and_overrides_in_that_order(tmp_path):
    path = _write(
        tmp_path,
        {
            "general": {"data_dir": str(tmp_path), "default_tenant": "example.net"},
            "datadb": {"url": "redis://10.0.0.1:6379/0"},
            "sessions": {"debit_interval": "30s", "max_call_duration": "2h30m"},
            "freeswitch_agent": {
                "linger": "20s",
                "event_socket_conns": [{"address": "10.0.0.5:8021", "password": "pw"}],
            },
        },
    )
    env = {"FS_CGR_DATADB": "redis://127.0.0.1:6379/3", "FS_CGR_API": "0.0.0.0:2081"}
    config = load_config(path, overrides={"listen.http": "127.0.0.1:2999"}, env=env)
    assert config.general.default_tenant == "example.net"
    assert config.datadb.url == "redis://127.0.0.1:6379/3"  # env beats the file
    assert config.listen.http == "127.0.0.1:2999"  # overrides beat env
    assert config.sessions.debit_interval == 30 * SECOND
    assert config.sessions.max_call_duration == 2 * HOUR + 30 * 60 * SECOND
    assert config.freeswitch_agent.linger == 20
    (conn,) = config.freeswitch_agent.event_socket_conns
    assert (conn.address, conn.password, conn.reconnects) == ("10.0.0.5:8021", "pw", -1)
    assert to_dict(config)["sessions"]["debit_interval"] == "30s"


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"sessions": {"debit_intervall": "1s"}}, "unknown key 'sessions.debit_intervall'"),
        ({"sesions": {}}, "unknown key 'sesions'"),
        ({"sessions": {"debit_interval": "soon"}}, "sessions.debit_interval: invalid duration"),
        ({"sessions": {"debit_interval": "-1s"}}, "sessions.debit_interval: must not be negative"),
        ({"general": {"rounding_decimals": "five"}}, "general.rounding_decimals: expected an int"),
        ({"freeswitch_agent": {"create_cdr": "yes"}}, "create_cdr: expected true or false"),
        ({"datadb": {"url": 5}}, "datadb.url: expected a string"),
        ({"listen": {"http": "localhost"}}, "listen.http: expected host:port"),
        ({"datadb": "redis://x"}, "datadb must be an object"),
        (
            {"freeswitch_agent": {"event_socket_conns": [{"adress": "x"}]}},
            "unknown key 'freeswitch_agent.event_socket_conns[0].adress'",
        ),
        ("[1, 2]", "the top level must be an object of sections"),
        ('{"general": {', "invalid JSON at line 1 column 14"),
    ],
)
def test_bad_files_are_refused_with_the_key(tmp_path, doc, message):
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, doc), env={})
    assert message in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.json", env={})
