"""Which worker this process is, and the one primitive for once-per-node work.

The supervisor numbers its workers 0..N-1 and restarts a dead one in the same slot.
The worker in slot 0 holds the node's duties: ``holds_node_duty()`` is true there and
nowhere else, and in a node run without workers (one process) it is simply true. A
duty therefore never runs twice at once: while slot 0 is being restarted nobody holds
it, and the supervisor starts a new slot 0 only after the old one is gone.

Usage, for anything that must happen once per node (a scheduler, a sweep)::

    from fs_cgr.workers import role

    if role.holds_node_duty():
        scheduler.start()
"""

import contextlib
import os
import signal
from dataclasses import dataclass

ADOPT_SIGNAL = signal.SIGUSR1  # "adopt handed-over sessions now", forwarded to slot 0


@dataclass(frozen=True)
class WorkerRole:
    slot: int = 0  # 0..workers-1, kept across restarts
    workers: int = 1  # how many the supervisor runs (1 = no supervisor)
    restarted: bool = False  # this slot ran before and died: the supervisor started it again
    supervisor: int = 0  # the supervisor's pid (0 = none): a worker outliving it stops

    @property
    def holds_node_duty(self) -> bool:
        return self.slot == 0

    @property
    def follows_link_events(self) -> bool:
        """Subscribe to events on the inbound links (and so follow embedded calls, finish
        calls whose socket died, adopt other workers' orphaned sessions): the duty worker
        only, so FreeSWITCH sends each event once per node."""
        return self.holds_node_duty


_current = WorkerRole()


def assume(role: WorkerRole) -> None:
    """Called once in a freshly forked worker, before the node starts."""
    global _current
    _current = role


def current() -> WorkerRole:
    return _current


def holds_node_duty() -> bool:
    """True in exactly one worker of the node (and in a node without workers)."""
    return _current.holds_node_duty


def wake_duty() -> None:
    """Ask the duty worker to adopt handed-over sessions now: ADOPT_SIGNAL to the
    supervisor, which forwards it to slot 0 (nothing to do in a node without workers)."""
    if _current.supervisor and not _current.holds_node_duty:
        with contextlib.suppress(OSError):  # the supervisor is gone: the workers stop anyway
            os.kill(_current.supervisor, ADOPT_SIGNAL)
