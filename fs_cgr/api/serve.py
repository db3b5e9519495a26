"""``fs-cgr serve``: a gevent node with its JSON-RPC API and the FreeSWITCH agent, in
this process or in worker processes under a supervisor (fs_cgr.workers).

Imports stay inside the functions so gevent can patch the standard library (in the
node's process, never in the supervisor) before anything (redis, PyMySQL, ssl) is
loaded.
"""

import logging
import os
import signal
import sys

log = logging.getLogger("fs_cgr")


def run(config_path=None, overrides=None, log_level: str = "INFO", workers=None) -> int:
    """Serve until SIGTERM/SIGINT: in this process, or in ``workers`` forked processes
    under a supervisor (None = the default for the configured databases)."""
    from fs_cgr.config import ConfigError, load_config

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(config_path, overrides)
        count = worker_count(config, workers)
    except ConfigError as exc:
        print(f"fs-cgr: {exc}", file=sys.stderr)
        return 2
    if count == 1:
        return serve_node(config)
    return _supervise(config, count)


def worker_count(config, requested: int | None) -> int:
    from fs_cgr.config import ConfigError
    from fs_cgr.workers.supervisor import default_count, shares_state

    if requested is None:
        count, why = default_count(config)
        log.info("serving with %s", why)
        return count
    if requested < 1:
        raise ConfigError(f"--workers must be 1 or more, got {requested}")
    if requested > 1 and not shares_state(config):
        raise ConfigError(
            "--workers above 1 needs a Redis DataDB and a StorDB outside one process's "
            "memory (sqlite:///file or mysql://): the embedded ones live in one process"
        )
    return requested


def _supervise(config, count: int) -> int:
    """Take the ports once (the API's reserved, the ESL's bound), then fork ``count``
    workers: each listens on the API port with a socket of its own and inherits the
    ESL one (fs_cgr.workers.supervisor says why)."""
    from fs_cgr.workers.supervisor import Supervisor, bind, reserve

    listeners = []
    for take, address in ((reserve, config.listen.http), (bind, config.freeswitch_agent.listen)):
        try:
            listeners.append(take(address))
        except OSError as exc:
            print(f"fs-cgr: cannot listen on {address}: {exc.strerror}", file=sys.stderr)
            return 2
    api, esl = listeners
    spool = config.cdrs.spool_dir

    def work(role, ready) -> int:
        if role.slot:  # each worker replays its own spool: no two replay one file
            config.cdrs.spool_dir = os.path.join(spool, f"worker{role.slot}")
        return serve_node(config, api, esl, ready=ready)

    return Supervisor(count, work).run()


def serve_node(config, api_port=None, esl_listener=None, ready=None) -> int:
    """One gevent node: the API, the FreeSWITCH agent; in a worker process, listening on
    the reserved API port (with a socket of its own, opened once the node is up, so no
    connection waits on a worker still starting) and the inherited ESL socket, else on
    the configured addresses."""
    from gevent import monkey

    monkey.patch_all()
    import gevent
    from gevent.event import Event

    from fs_cgr.api.server import ApiServer
    from fs_cgr.app import Node
    from fs_cgr.config import ConfigError
    from fs_cgr.workers import role as worker_role
    from fs_cgr.workers.supervisor import listen_reusing

    role = worker_role.current()
    if role.workers > 1:  # workers wait on one shared ESL listening socket
        from gevent.baseserver import BaseServer

        BaseServer.max_accept = 1  # take one connection per wake-up: a burst spreads over all
    stopping = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # before anything that may take a while
        gevent.signal_handler(signum, stopping.set)
    if role.supervisor:
        gevent.spawn(_stop_when_orphaned, role.supervisor, stopping)
    try:
        node = Node(config).start()
    except ConfigError as exc:  # e.g. a cdrc folder that does not exist
        print(f"fs-cgr: {exc}", file=sys.stderr)
        return 2
    try:
        listener = listen_reusing(api_port) if api_port is not None else None
        server = ApiServer(node, _cooperative(listener))
        server.start()
    except OSError as exc:
        print(f"fs-cgr: cannot listen on {config.listen.http}: {exc.strerror}", file=sys.stderr)
        node.stop()
        return 2
    except ConfigError as exc:  # e.g. TLS files that do not load
        print(f"fs-cgr: {exc}", file=sys.stderr)
        node.stop()
        return 2
    try:
        agent = start_freeswitch_agent(node, _cooperative(esl_listener), role.holds_node_duty)
    except ConfigError as exc:  # no event-socket password: no call control, the API still runs
        log.error("FreeSWITCH agent NOT started: %s", exc)
        agent = None
    if agent is not None and role.holds_node_duty and role.workers > 1:
        gevent.signal_handler(worker_role.ADOPT_SIGNAL, agent.adopt_soon)
    if ready is not None:
        ready()
    if role.workers > 1:
        duty = "holds the node duty" if role.holds_node_duty else "leaves the node duty to worker 0"
        log.info("worker %d of %d %s", role.slot, role.workers, duty)
    log.info("fs_cgr running; stop with SIGTERM or Ctrl-C")
    stopping.wait()
    log.info("stopping")
    if agent is not None:
        agent.stop(hangup=None if role.holds_node_duty else False)  # one hupall per node
    server.stop()
    node.stop()
    return 0


def _stop_when_orphaned(supervisor: int, stopping) -> None:
    """A worker whose supervisor died (e.g. SIGKILL) stops rather than hold the ports on."""
    import gevent

    while not stopping.is_set():
        if os.getppid() != supervisor:
            log.error("the supervisor (pid %d) is gone; stopping", supervisor)
            stopping.set()
        gevent.sleep(1.0)


def _cooperative(listener):
    """An inherited listening socket as a gevent socket (the process is patched now)."""
    if listener is None:
        return None
    import socket

    return socket.socket(fileno=listener.detach())


def start_freeswitch_agent(node, listener=None, recover: bool = True):
    """Hook for the FreeSWITCH agent: started when ``fs_cgr.agents.freeswitch`` exists.

    The agent is ``FreeSwitchAgent(node, listener)`` with ``start(recover=...)`` (listen
    for outbound ESL on ``listener`` or the configured address, connect inbound, resume
    the journaled sessions no live worker follows when ``recover``), ``adopt_soon()``
    and ``stop()``; without it the node serves the API only.
    """
    try:
        from fs_cgr.agents.freeswitch import FreeSwitchAgent
    except ModuleNotFoundError as exc:
        if exc.name != "fs_cgr.agents.freeswitch":
            raise
        log.info("FreeSWITCH agent not installed: serving the JSON-RPC API only")
        return None
    agent = FreeSwitchAgent(node, listener)
    agent.start(recover=recover)
    return agent
