"""Who follows a journaled session, and whether that follower is gone.

Every journal record names its owner: the node (``general.node_id``, else host name and
API address: the same across restarts of that node) and the process (pid, its start
time, and a token of the session service), so that:

* a node never takes over the sessions of another node sharing its DataDB;
* the worker holding the node duty adopts the sessions of a worker of its node that
  died (its pid no longer runs that process) or that handed them over (``RELEASED``:
  the worker lost the call's socket and follows no link events, docs/workers.md);
* a live worker's sessions are left alone.

The process check reads ``/proc/<pid>/stat`` (the start time tells a reused pid from
the owner); without /proc a process that exists counts as alive.
"""

import os
import socket
import uuid

RELEASED = "released"  # the process field of a handed-over session: any worker may adopt it


def node_name(node_id: str, api_address: str) -> str:
    """The node: ``general.node_id``, else this host and its API address (one node per
    address on a host). '|' separates the owner's fields, so it is left out of the id."""
    return (node_id or f"{socket.gethostname()}|{api_address}").replace("|", "/")


def token(node: str) -> str:
    """The owner of sessions the calling session service follows (one per service)."""
    pid = os.getpid()
    return f"{node}|{pid}:{_started(pid)}:{uuid.uuid4().hex[:8]}"


def released(node: str) -> str:
    return f"{node}|{RELEASED}"


def orphaned(owner: str | None, mine: str) -> bool:
    """Whether a session owned by ``owner`` may be adopted by the service owning ``mine``:
    records without an owner (older journals), handed-over ones and those of a gone
    process of the same node. Never another node's, never a live process's."""
    if not owner:
        return True
    node, _, process = owner.rpartition("|")
    my_node = mine.rpartition("|")[0]
    if node != my_node or owner == mine:
        return False
    if process == RELEASED:
        return True
    pid, started, _ = (process.split(":") + ["", "", ""])[:3]
    if pid == str(os.getpid()):
        return True  # an earlier session service of this process (a restart in tests)
    return not (pid.isdigit() and _started(int(pid)) == started and _exists(int(pid)))


def _started(pid: int) -> str:
    """The process's start time (clock ticks since boot); "" when unknown or when it has
    exited (a zombie its parent did not reap yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return ""
    return "" if fields[0] == "Z" else fields[19]


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
