"""``fs-cgr serve``: one gevent process with the node, its JSON-RPC API and the FreeSWITCH agent.

Imports stay inside ``run`` so gevent can patch the standard library before
anything (redis, PyMySQL, ssl) is loaded.
"""

import logging
import signal
import sys

log = logging.getLogger("fs_cgr")


def run(config_path=None, overrides=None, log_level: str = "INFO") -> int:
    from gevent import monkey

    monkey.patch_all()
    import gevent
    from gevent.event import Event

    from fs_cgr.api.server import ApiServer
    from fs_cgr.app import Node
    from fs_cgr.config import ConfigError, load_config

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(config_path, overrides)
    except ConfigError as exc:
        print(f"fs-cgr: {exc}", file=sys.stderr)
        return 2
    stopping = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # before anything that may take a while
        gevent.signal_handler(signum, stopping.set)
    try:
        node = Node(config).start()
    except ConfigError as exc:  # e.g. a cdrc folder that does not exist
        print(f"fs-cgr: {exc}", file=sys.stderr)
        return 2
    try:
        server = ApiServer(node)
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
        agent = start_freeswitch_agent(node)
    except ConfigError as exc:  # no event-socket password: no call control, the API still runs
        log.error("FreeSWITCH agent NOT started: %s", exc)
        agent = None
    log.info("fs_cgr running; stop with SIGTERM or Ctrl-C")
    stopping.wait()
    log.info("stopping")
    if agent is not None:
        agent.stop()
    server.stop()
    node.stop()
    return 0


def start_freeswitch_agent(node):
    """Hook for the FreeSWITCH agent: started when ``fs_cgr.agents.freeswitch`` exists.

    The agent is ``FreeSwitchAgent(node)`` with ``start()`` (listen for outbound
    ESL, connect inbound) and ``stop()``; without it the node serves the API only.
    """
    try:
        from fs_cgr.agents.freeswitch import FreeSwitchAgent
    except ModuleNotFoundError as exc:
        if exc.name != "fs_cgr.agents.freeswitch":
            raise
        log.info("FreeSWITCH agent not installed: serving the JSON-RPC API only")
        return None
    agent = FreeSwitchAgent(node)
    agent.start()
    return agent
