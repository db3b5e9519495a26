"""No default event-socket password: the agent refuses to start with none or with
FreeSWITCH's well-known one, and says how to fix it."""

import pytest

from fs_cgr.agents.freeswitch import FreeSwitchAgent
from fs_cgr.app import Node
from fs_cgr.config import ConfigError, load_config


@pytest.mark.parametrize("password", [None, "", "ClueCon", "cluecon", " ClueCon "])
def test_agent_refuses_a_missing_or_default_password(tmp_path, password):
    conn = {"address": "127.0.0.1:8021"}
    if password is not None:
        conn["password"] = password
    overrides = {
        "general.data_dir": str(tmp_path),
        "freeswitch_agent.event_socket_conns": [conn],
    }
    node = Node(load_config(overrides=overrides, env={}))
    try:
        with pytest.raises(ConfigError) as caught:
            FreeSwitchAgent(node)
        message = str(caught.value)
        assert "event_socket_conns[0].password" in message
        assert "fs_cgr_vars.xml" in message and "docs/freeswitch.md" in message
    finally:
        node.stop()
