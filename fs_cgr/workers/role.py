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

from dataclasses import dataclass


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
    def adopts_journal(self) -> bool:
        """Resume journaled sessions at start-up: only the duty worker, and only when the
        node starts. Later the journal also holds the live sessions of the other workers,
        which a restarted worker must not take over (they would be charged twice)."""
        return self.holds_node_duty and not self.restarted


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
