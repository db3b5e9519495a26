"""``fs-cgr``: the client commands against a live server, and ``serve`` as a real process."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from fs_cgr.api.cli import main

from .helpers import EXAMPLE_PLAN, PEAK, ROOT


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_explains_the_commands(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for name in ("serve", "load", "cost", "ping"):
        assert name in out
    assert "http://127.0.0.1:2080/jsonrpc" in out


def test_module_entry_point_help():
    done = subprocess.run(
        [sys.executable, "-m", "fs_cgr.api.cli", "cost", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0
    assert "--destination" in done.stdout and "--usage" in done.stdout


def test_load_and_cost(api, capsys):
    assert _run(capsys, "load", str(EXAMPLE_PLAN), "--url", api.url) == (0, "OK\n", "")
    code, out, err = _run(
        capsys,
        "cost",
        "--url",
        api.url,
        "--subject",
        "1002",
        "--destination",
        "4915112345678",
        "--usage",
        "2m30s",
        "--answer-time",
        PEAK,
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Cost:  0.4"
    assert lines[1] == "Usage: 2m30s"
    assert lines[2] == "Rated: DST_DE_MOBILE (prefix 4915) by RP_STANDARD, rating subject *any"


def test_cost_json_and_rpc_errors(api, capsys):
    _run(capsys, "load", str(EXAMPLE_PLAN), "--url", api.url)
    code, out, _ = _run(
        capsys,
        "cost",
        "--url",
        api.url,
        "--json",
        "--subject",
        "1001",
        "--destination",
        "4930123456",
        "--usage",
        "90s",
        "--answer-time",
        PEAK,
    )
    assert code == 0 and '"Cost": 0.0251' in out
    unknown = ["--subject", "1001", "--destination", "33", "--usage", "1s"]
    code, out, err = _run(capsys, "cost", "--url", api.url, *unknown)
    assert (code, out) == (1, "")
    assert err == "fs-cgr: SERVER_ERROR: UNAUTHORIZED_DESTINATION\n"


def test_load_remove(api, capsys):
    _run(capsys, "load", str(EXAMPLE_PLAN), "--url", api.url)
    assert _run(capsys, "load", "--remove", str(EXAMPLE_PLAN), "--url", api.url)[0] == 0
    assert api.node.tariffplans.live().get("destinations", {}) == {}


def test_server_down_is_a_clear_message(capsys):
    code, out, err = _run(capsys, "ping", "--url", f"http://127.0.0.1:{_free_port()}/jsonrpc")
    assert code == 2 and out == ""
    assert "cannot reach fs_cgr at http://127.0.0.1:" in err and "fs-cgr serve" in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_ping(url: str, server: subprocess.Popen, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"fs-cgr serve exited: {server.communicate()[1]}")
        if main(["ping", "--url", url, "--timeout", "2"]) == 0:
            return
        time.sleep(0.2)
    raise AssertionError("fs-cgr serve did not answer in time")


def test_serve_runs_a_node_until_sigterm(tmp_path, capsys):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/jsonrpc"
    command = [
        sys.executable,
        "-m",
        "fs_cgr.api.cli",
        "serve",
        "--api",
        f"127.0.0.1:{port}",
        "--esl",
        f"127.0.0.1:{_free_port()}",
        "--fs",
        f"127.0.0.1:{_free_port()}",
        "--datadb",
        "internal://",
        "--stordb",
        f"sqlite:///{tmp_path}/stordb.sqlite",
    ]
    env = {**os.environ, "FS_CGR_DATA_DIR": str(tmp_path)}
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_ping(url, server)
        capsys.readouterr()
        assert _run(capsys, "load", str(EXAMPLE_PLAN), "--url", url)[:2] == (0, "OK\n")
        code, out, _ = _run(
            capsys,
            "cost",
            "--url",
            url,
            "--subject",
            "1001",
            "--destination",
            "4915112345678",
            "--usage",
            "2m30s",
            "--answer-time",
            PEAK,
        )
        assert code == 0 and out.startswith("Cost:  0.15\n")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
