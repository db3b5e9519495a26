"""The CPU a local MariaDB/MySQL server has used, for the CDR benches' "server CPU per CDR".

The server's pid comes from its ``@@pid_file``; its CPU from /proc. None when the server
is not on this machine (or not readable). The figure covers every client of the server,
so it means the bench's own cost only while nothing else uses that server.
"""

import os
from urllib.parse import unquote, urlsplit

import pymysql


def server_pid(url: str) -> int | None:
    parts = urlsplit(url)
    try:
        conn = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            connect_timeout=5,
        )
        with conn, conn.cursor() as cursor:
            cursor.execute("SELECT @@pid_file")
            (path,) = cursor.fetchone()
        with open(path) as pid_file:
            return int(pid_file.read().strip())
    except (OSError, ValueError, pymysql.MySQLError):
        return None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` so far."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
