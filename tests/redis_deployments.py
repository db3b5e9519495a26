"""Real Redis deployments of the tests' own: a 3-master Cluster and a Sentinel group.

Each server is a ``redis-server`` child process on a free loopback port (never the
shared 6379), with its files in a temporary directory, no persistence, and a log
the failure message quotes. ``tests/conftest.py`` starts each deployment once per
session (``redis_cluster``, ``redis_sentinel``) and stops every process it started.
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

START_TIMEOUT = 30.0  # seconds for a deployment to answer, shared CI machines included


class RedisServer:
    """One redis-server (or sentinel) process on ``port``, configured by ``config`` lines."""

    def __init__(self, directory: Path, port: int, config: list[str], *, sentinel=False):
        self.port = port
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path = directory / "redis.conf"
        self.log_path = directory / "redis.log"
        base = [
            "bind 127.0.0.1",
            f"port {port}",
            f"dir {directory}",
            f"logfile {self.log_path}",
            "daemonize no",
        ]
        if not sentinel:
            base += ['save ""', "appendonly no", "enable-debug-command yes"]
        self.config_path.write_text("\n".join(base + config) + "\n")
        command = ["redis-server", str(self.config_path)]
        if sentinel:
            command.append("--sentinel")
        self.command = command
        self.start()

    def start(self) -> None:
        """Start (or start again, after ``kill``) with the same port and configuration."""
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def client(self, **options) -> redis.Redis:
        options = {"socket_timeout": 2, "decode_responses": True, **options}
        return redis.Redis(port=self.port, **options)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis on port {self.port} exited: {self.log()}")
            try:
                with self.client() as probe:
                    probe.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis on port {self.port} never answered: {self.log()}")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the server vanishes as in a crash, nothing flushed, nothing said."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-2000:]
        except OSError:
            return "(no log)"


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports free right now (and their +10000 cluster bus ports)."""
    ports: list[int] = []
    while len(ports) < count:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        if port < 55000 and port not in ports and _free(port + 10000):
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def redis_available() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


class Cluster:
    """Three masters, no replicas, every slot covered; ``url`` opens it with fs_cgr."""

    def __init__(self, directory: Path):
        ports = free_ports(3)
        self.servers = [
            RedisServer(
                directory / f"node{port}",
                port,
                [
                    "cluster-enabled yes",
                    "cluster-config-file nodes.conf",
                    "cluster-node-timeout 5000",
                ],
            )
            for port in ports
        ]
        try:
            for server in self.servers:
                server.wait_ready()
            self._create()
        except BaseException:
            self.stop()
            raise
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)

    def _create(self) -> None:
        nodes = [f"127.0.0.1:{server.port}" for server in self.servers]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not all(self._state_ok(server) for server in self.servers):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster never reached cluster_state:ok")
            time.sleep(0.1)

    @staticmethod
    def _state_ok(server: RedisServer) -> bool:
        with server.client() as client:
            return client.cluster("info").get("cluster_state") == "ok"

    def stop(self) -> None:
        for server in self.servers:
            server.kill()


class SentinelGroup:
    """A master, one replica and three sentinels watching them as ``MASTER_NAME``.

    Sentinels judge the master down after ``DOWN_AFTER_MS`` and fail over at once,
    so a test sees a whole failover in a few seconds.
    """

    MASTER_NAME = "fscgr"
    DOWN_AFTER_MS = 1000
    FAILOVER_TIMEOUT_MS = 5000

    def __init__(self, directory: Path):
        master_port, replica_port, *sentinel_ports = free_ports(5)
        self.master = RedisServer(directory / "master", master_port, [])
        self.replica = RedisServer(
            directory / "replica", replica_port, [f"replicaof 127.0.0.1 {master_port}"]
        )
        self.sentinels = []
        try:
            self.master.wait_ready()
            self.replica.wait_ready()
            self._wait_replica_synced()
            for port in sentinel_ports:
                self.sentinels.append(
                    RedisServer(
                        directory / f"sentinel{port}", port, self._sentinel_config(), sentinel=True
                    )
                )
            for sentinel in self.sentinels:
                sentinel.wait_ready()
            self._wait_sentinels_know_each_other()
        except BaseException:
            self.stop()
            raise
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        self.url = f"redis+sentinel://{hosts}/{self.MASTER_NAME}/0"

    def _sentinel_config(self) -> list[str]:
        name = self.MASTER_NAME
        return [
            f"sentinel monitor {name} 127.0.0.1 {self.master.port} 2",
            f"sentinel down-after-milliseconds {name} {self.DOWN_AFTER_MS}",
            f"sentinel failover-timeout {name} {self.FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {name} 1",
        ]

    def _wait_replica_synced(self) -> None:
        self._until(
            lambda: self.replica.client().info("replication").get("master_link_status") == "up",
            "the replica never synced with the master",
        )

    def wait_replicated(self) -> None:
        """Wait until the replica holds every write the master has acknowledged so far: a
        test's set-up must not vanish in a failover when a loaded machine let ``WAIT``
        time out (that trade-off is ``wait_timeout``'s, not what a test examines)."""
        port = self.master_port()
        master, replica = (
            (self.master, self.replica) if port == self.master.port else (self.replica, self.master)
        )
        offset = master.client().info("replication")["master_repl_offset"]
        self._until(
            lambda: replica.client().info("replication").get("slave_repl_offset", -1) >= offset,
            "the replica never caught up with the master",
        )

    def _wait_sentinels_know_each_other(self) -> None:
        def ready():
            for sentinel in self.sentinels:
                with sentinel.client() as client:
                    state = client.sentinel_master(self.MASTER_NAME)
                    if int(state["num-other-sentinels"]) < 2 or int(state["num-slaves"]) < 1:
                        return False
            return True

        self._until(ready, "the sentinels never saw each other and the replica")

    def master_port(self) -> int:
        """The port of the master the sentinels name now."""
        with self.sentinels[0].client() as client:
            return int(client.sentinel_get_master_addr_by_name(self.MASTER_NAME)[1])

    def wait_failover(self, old_port: int, timeout: float = 30.0) -> int:
        """Wait until the sentinels name a master other than ``old_port``, which answers
        as a master; return its port."""
        by_port = {server.port: server for server in (self.master, self.replica)}

        def promoted():
            port = self.master_port()
            if port == old_port:
                return False
            with by_port[port].client() as client:
                return client.info("replication")["role"] == "master"

        self._until(promoted, "the sentinels never promoted the replica", timeout)
        return self.master_port()

    @staticmethod
    def _until(condition, failure: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if condition():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(failure)
            time.sleep(0.1)

    def heal(self) -> None:
        """Start every killed data server again and wait until it replicates the current
        master (the sentinels turn a returning old master into a replica)."""
        for server in (self.master, self.replica):
            if server.process.poll() is not None:
                server.start()
                server.wait_ready()
        current = self.master_port()
        replica = self.replica if current == self.master.port else self.master
        self._until(
            lambda: replica.client().info("replication").get("master_link_status") == "up",
            "the returning server never replicated the new master",
        )

    def stop(self) -> None:
        for server in [*self.sentinels, self.master, self.replica]:
            server.kill()
