"""A MariaDB server of a test's own: its data directory in a temporary folder, a free
loopback port, no grant tables (root, no password), so the test may restart it, kill it
or fill its connections without touching the shared server.
"""

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pymysql

START_TIMEOUT = 60.0  # seconds: InnoDB start-up and crash recovery on a busy machine
MAX_CONNECTIONS = 10  # MariaDB's lowest allowed value


def mariadb_available() -> bool:
    return bool(shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists()) and bool(
        shutil.which("mariadb-install-db")
    )


class MariaDBServer:
    def __init__(self, directory: Path, database: str = "fscgr"):
        self.directory, self.database = directory, database
        self.data = directory / "data"
        self.log_path = directory / "mariadb.log"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True, timeout=START_TIMEOUT,
        )  # fmt: skip
        self.process = None
        self.start()
        with self.connect(database=None) as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        self.url = f"mysql://root@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        binary = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.process = subprocess.Popen(
            [binary, "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.directory}/mariadb.sock",
             f"--pid-file={self.directory}/mariadb.pid", "--user=root", "--skip-grant-tables",
             f"--max-connections={MAX_CONNECTIONS}", "--innodb-buffer-pool-size=16M",
             "--skip-log-bin", f"--log-error={self.log_path}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.connect(database=None).close()
                return
            except pymysql.err.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mariadbd on port {self.port} did not start: {self.log()}")
                time.sleep(0.2)

    def connect(self, database: str | None = "") -> pymysql.Connection:
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", connect_timeout=2,
            database=self.database if database == "" else database,
        )  # fmt: skip

    def crash(self) -> None:
        """SIGKILL: the server vanishes mid-stream; ``start`` then runs crash recovery."""
        self.process.kill()
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.crash()

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-2000:]
        except OSError:
            return "(no log)"
