"""Which journaled sessions a session service may adopt (fs_cgr.sessions.owner)."""

import os
import subprocess
import sys

from fs_cgr.sessions import owner


def _process(node: str, pid: int, started: str) -> str:
    return f"{node}|{pid}:{started}:cafe0001"


def test_only_sessions_of_this_node_that_no_live_process_follows_are_orphaned():
    node = owner.node_name("", "127.0.0.1:2080")
    mine = owner.token(node)
    parent = os.getppid()
    assert not owner.orphaned(mine, mine)  # followed here
    assert owner.orphaned(None, mine) and owner.orphaned("", mine)  # journals before owners
    assert owner.orphaned(owner.released(node), mine)  # handed over by a worker
    assert not owner.orphaned(owner.released("other|127.0.0.1:2080"), mine)  # another node's
    assert not owner.orphaned(_process(node, parent, owner._started(parent)), mine)  # alive
    assert owner.orphaned(_process(node, parent, "1"), mine)  # the pid now runs another process
    assert owner.orphaned(owner.token(node), mine)  # an earlier service of this process
    with subprocess.Popen([sys.executable, "-c", "pass"]) as gone:
        started = owner._started(gone.pid)
    assert owner.orphaned(_process(node, gone.pid, started), mine)  # exited and reaped


def test_node_id_names_the_node_whatever_the_host():
    assert owner.node_name("edge-1", "127.0.0.1:2080") == "edge-1"
    assert owner.node_name("a|b", "x") == "a/b"  # '|' separates the owner's fields
    assert owner.node_name("", "127.0.0.1:2080").endswith("/127.0.0.1:2080")
