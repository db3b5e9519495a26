"""Issue 8, points 5 and 6 over real loopback sockets: API tokens, TLS, peer allow-lists,
slow clients cut off by a per-request deadline, connections capped per client address."""

import base64
import json
import socket
import subprocess
import sys
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from fs_cgr.api.client import RpcClient, RpcError
from fs_cgr.api.server import ServerThread
from fs_cgr.config import ConfigError, load_config
from tests.cdrs.helpers import TENANT, make_node, monetary, top_up, write_plan
from tests.conformance_runner import CallFailed, Client
from tests.http_wire import read_message

from .helpers import ROOT

TOKEN = "t0ken-of-the-test"
PING_BOUND = 1.0  # seconds: what "Ping still answers" means in these tests


def _cdr(origin_id: str, billsec: int) -> bytes:
    """A mod_json_cdr post: account 1001 called 1002 for ``billsec`` seconds (rated)."""
    return json.dumps(
        {
            "variables": {
                "uuid": origin_id,
                "cgr_reqtype": "*postpaid",
                "cgr_account": "1001",
                "start_uepoch": "1407157200000000",
                "answer_uepoch": "1407157200000000",
                "billsec": str(billsec),
            },
            "callflow": {"caller_profile": {"destination_number": "1002", "username": "1001"}},
        }
    ).encode()


class Served:
    """A node with its plan and account 1001 (10.00), behind a real server."""

    def __init__(self, request, tmp_path, **overrides):
        config = {"listen.http": "127.0.0.1:0", **overrides}
        self.node = make_node("embedded", request, tmp_path, **config)
        self.node.tariffplans.load_folder(write_plan(tmp_path / "plan"))
        top_up(self.node, "1001", 10)
        self.node.start()
        self.server = ServerThread(self.node).start()
        self.url = self.server.url

    def close(self):
        self.server.stop()
        self.node.stop()

    def post(self, body: bytes, path="/jsonrpc", headers=None, source="127.0.0.1"):
        """(status, body) of one raw HTTP/1.1 POST sent from ``source``."""
        parts = urlsplit(self.url)
        with socket.create_connection((parts.hostname, parts.port), 5, (source, 0)) as sock:
            head = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}"]
            head += [f"{name}: {value}" for name, value in (headers or {}).items()]
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            head, body = read_message(sock)
        return int(head.split(b" ", 2)[1]), body

    def balance(self) -> Decimal:
        return monetary(self.node, "1001")

    def cdrs(self) -> int:
        return len(self.node.stordb.get_cdrs({"Accounts": ["1001"]}) or [])


@pytest.fixture
def secured(request, tmp_path):
    served = Served(request, tmp_path, **{"listen.auth_tokens": [TOKEN]})
    yield served
    served.close()


def _rpc(method: str, params: dict) -> bytes:
    return json.dumps({"id": 1, "method": method, "params": [params]}).encode()


def _basic(password: str, user: str = "freeswitch") -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


ADD_1000 = _rpc(
    "APIerSv1.AddBalance",
    {"Tenant": TENANT, "Account": "1001", "BalanceType": "*monetary", "Value": 1000},
)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": TOKEN},
        _basic("wrong"),
        {"Authorization": "Basic !!notbase64"},
    ],
    ids=["none", "wrong", "longer", "shorter", "no-scheme", "basic-wrong", "basic-garbage"],
)
def test_without_a_valid_token_nothing_changes(secured, headers):
    status, body = secured.post(ADD_1000, headers=headers)
    assert status == 401 and b"UNAUTHORIZED" in body
    assert secured.balance() == Decimal("10")
    status, _ = secured.post(_cdr("forged-1", 3600), "/freeswitch_json", headers)
    assert status == 401
    assert secured.balance() == Decimal("10") and secured.cdrs() == 0


def test_bearer_and_basic_tokens_are_accepted(secured):
    status, body = secured.post(ADD_1000, headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and json.loads(body)["result"] == "OK"
    assert secured.balance() == Decimal("1010")
    status, body = secured.post(_rpc("APIerSv1.Ping", {}), headers=_basic(TOKEN, user=""))
    assert status == 200 and json.loads(body)["result"] == "Pong"
    # mod_json_cdr's cred=user:token arrives as Basic: the CDR is charged
    status, _ = secured.post(_cdr("fs-json-ok", 60), "/freeswitch_json", _basic(TOKEN))
    assert status == 200
    assert secured.balance() < Decimal("1010") and secured.cdrs() >= 1


def test_client_and_cli_send_the_token(secured, monkeypatch):
    assert RpcClient(secured.url, token=TOKEN).call("APIerSv1.Ping") == "Pong"
    with pytest.raises(RpcError, match="UNAUTHORIZED"):
        RpcClient(secured.url, token="").call("APIerSv1.Ping")
    cli = [sys.executable, "-m", "fs_cgr.api.cli", "ping", "--url", secured.url]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "FS_CGR_TOKEN": TOKEN})  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "Pong")
    done = subprocess.run([*cli, "--token", "nope"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "UNAUTHORIZED" in done.stderr


def test_conformance_runner_sends_the_token(secured):
    assert Client(secured.url, token=TOKEN).call("APIerSv1.Ping", {}) == "Pong"
    with pytest.raises(CallFailed, match="HTTP 401"):
        Client(secured.url).call("APIerSv1.Ping", {})


def test_health_needs_no_token(secured):
    parts = urlsplit(secured.url)
    with socket.create_connection((parts.hostname, parts.port), 5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_message(sock)[0].startswith(b"HTTP/1.1 200")


def test_freeswitch_json_only_from_allowed_peers(request, tmp_path):
    served = Served(request, tmp_path, **{"listen.freeswitch_json_allow_from": ["127.0.0.2"]})
    try:
        status, _ = served.post(_cdr("from-elsewhere", 3600), "/freeswitch_json")
        assert status == 403
        assert served.balance() == Decimal("10") and served.cdrs() == 0
        status, _ = served.post(_cdr("from-fs", 60), "/freeswitch_json", source="127.0.0.2")
        assert status == 200 and served.cdrs() >= 1
    finally:
        served.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_an_api_off_loopback_needs_tokens(tmp_path, host):
    address = f"[{host}]:2080" if ":" in host else f"{host}:2080"
    overrides = {"general.data_dir": str(tmp_path), "listen.http": address}
    with pytest.raises(ConfigError, match="listen.auth_tokens"):
        load_config(overrides=overrides, env={})
    config = load_config(overrides={**overrides, "listen.auth_tokens": "a,b"}, env={})
    assert config.listen.auth_tokens == ["a", "b"]


def test_serve_refuses_to_start_open_to_the_network(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "fs_cgr.api.cli", "serve", "--api", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "FS_CGR_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert done.returncode == 2
    assert "listen.auth_tokens is empty" in done.stderr


def test_tls(request, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    served = Served(
        request,
        tmp_path,
        **{"listen.tls_cert": str(cert), "listen.tls_key": str(key), "listen.auth_tokens": [TOKEN]},
    )
    try:
        assert served.url.startswith("https://")
        assert RpcClient(served.url, token=TOKEN, cafile=str(cert)).call("APIerSv1.Ping") == "Pong"
        with pytest.raises(RpcError):  # an unverified certificate is not trusted
            RpcClient(served.url, token=TOKEN, timeout=5).call("APIerSv1.Ping")
        plain = served.url.replace("https://", "http://")
        with pytest.raises(RpcError):
            RpcClient(plain, token=TOKEN, timeout=5).call("APIerSv1.Ping")
    finally:
        served.close()


def test_tls_needs_both_files(tmp_path):
    overrides = {"general.data_dir": str(tmp_path), "listen.tls_cert": "/x.pem"}
    with pytest.raises(ConfigError, match="tls_key"):
        load_config(overrides=overrides, env={})


# -- slow clients ---------------------------------------------------------------------


def _ping_seconds(url: str) -> float:
    started = time.monotonic()
    assert RpcClient(url, timeout=PING_BOUND * 5).call("APIerSv1.Ping") == "Pong"
    return time.monotonic() - started


def _closed_within(sock, seconds: float) -> bool:
    """Whether the server hung up (or answered and hung up) within ``seconds``."""
    sock.settimeout(0.1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            sock.send(b"x")
            if sock.recv(65536) == b"":
                return True
        except (TimeoutError, BlockingIOError):
            continue
        except OSError:
            return True
    return False


@pytest.fixture
def slow_guarded(request, tmp_path):
    served = Served(
        request,
        tmp_path,
        **{"listen.read_timeout": "1s", "listen.max_connections_per_client": 50},
    )
    yield served
    served.close()


def test_a_client_trickling_bytes_is_cut_off(slow_guarded):
    parts = urlsplit(slow_guarded.url)
    for prefix in (
        b"",  # the request line never ends
        b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # a header never ends
        b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",  # the body
    ):
        with socket.create_connection((parts.hostname, parts.port), 5) as sock:
            sock.sendall(prefix)
            started = time.monotonic()
            assert _closed_within(sock, 5.0)  # one byte every 0.1 s: never idle 30 s
            assert time.monotonic() - started < 3.0


def test_slow_clients_neither_stay_nor_block_ping(slow_guarded):
    """200 trickling sockets from 127.0.0.2 (50 kept, the rest turned away) and Ping from
    127.0.0.1 still answers within the bound; after the deadline every slow socket is gone."""
    parts = urlsplit(slow_guarded.url)
    slow = []
    for _ in range(200):
        sock = socket.create_connection((parts.hostname, parts.port), 5, ("127.0.0.2", 0))
        sock.sendall(b"P")
        slow.append(sock)
    try:
        latencies = [_ping_seconds(slow_guarded.url) for _ in range(5)]
        assert max(latencies) < PING_BOUND
        time.sleep(2.5)  # past read_timeout (1 s) for every one of them
        still_open = sum(1 for sock in slow if not _closed_within(sock, 0.2))
        assert still_open == 0
        assert _ping_seconds(slow_guarded.url) < PING_BOUND
    finally:
        for sock in slow:
            sock.close()


def test_connections_are_capped_per_client_address(slow_guarded):
    parts = urlsplit(slow_guarded.url)
    held = [
        socket.create_connection((parts.hostname, parts.port), 5, ("127.0.0.3", 0))
        for _ in range(50)
    ]
    try:
        time.sleep(0.3)
        extra = socket.create_connection((parts.hostname, parts.port), 5, ("127.0.0.3", 0))
        extra.settimeout(0.5)
        assert extra.recv(1) == b""  # turned away at once, long before read_timeout
        extra.close()
        other = socket.create_connection((parts.hostname, parts.port), 5, ("127.0.0.4", 0))
        other.close()
        assert _ping_seconds(slow_guarded.url) < PING_BOUND
    finally:
        for sock in held:
            sock.close()
