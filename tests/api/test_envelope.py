"""The JSON-RPC envelope: CGrateS' shape, exact numbers, errors that never take the server down."""

import json
from decimal import Decimal

import pytest

from fs_cgr.api.client import RpcError
from fs_cgr.api.jsonrpc import encode
from fs_cgr.api.registry import resolve, rpc

from .helpers import EXAMPLE_PLAN


@rpc("TestSv1.Boom")
def _boom(node, params):
    raise RuntimeError("boom")


@rpc("TestSv1.Unencodable")
def _unencodable(node, params):
    return {"when": object()}


@rpc("TestSv1.Echo")
def _echo(node, params):
    return params


@rpc("APIerSv2.TestOnlyInV2")
def _only_v2(node, params):
    return "v2"


def _rpc(api, body, path="/jsonrpc"):
    status, reply = api.post(body if isinstance(body, bytes) else body.encode(), path)
    assert status == 200, reply
    assert set(reply) == {"id", "result", "error"}
    return reply


def _assert_still_serving(api):
    assert api.call("APIerSv1.Ping") == "Pong"


def test_reply_shape_and_id_echo(api):
    body = '{"jsonrpc": "2.0", "id": "req-7", "method": "APIerSv1.Ping", "params": [{}]}'
    assert _rpc(api, body) == {"id": "req-7", "result": "Pong", "error": None}


def test_null_param_means_no_arguments(api):
    reply = _rpc(api, '{"id": 4, "method": "APIerSv1.Ping", "params": [null]}')
    assert reply == {"id": 4, "result": "Pong", "error": None}


def test_post_to_root_path_works_too(api):
    reply = _rpc(api, '{"id": 3, "method": "APIerSv1.Ping", "params": [{}]}', path="/")
    assert reply == {"id": 3, "result": "Pong", "error": None}


@pytest.mark.parametrize("name", ["APIerSv1.Ping", "ApierV1.Ping", "ApierV2.Ping", "APIerSv2.Ping"])
def test_service_aliases(api, name):
    assert api.call(name) == "Pong"


def test_v1_name_falls_back_to_a_v2_only_method(api):
    assert api.call("APIerSv1.TestOnlyInV2") == "v2"
    assert api.call("ApierV1.TestOnlyInV2") == "v2"


def test_registry_resolves_exact_names_first():
    assert resolve("APIerSv1.Ping").name == "APIerSv1.Ping"
    assert resolve("APIerSv2.TestOnlyInV2").name == "APIerSv2.TestOnlyInV2"
    assert resolve("APIerSv1.NoSuchThing") is None
    with pytest.raises(ValueError, match="registered twice"):
        rpc("TestSv1.Echo")(lambda node, params: None)


def test_unknown_method_uses_go_net_rpc_wording(api):
    with pytest.raises(RpcError) as err:
        api.call("APIerSv1.NoSuchMethod")
    assert err.value.message == "rpc: can't find method APIerSv1.NoSuchMethod"
    _assert_still_serving(api)


@pytest.mark.parametrize(
    "body, wanted",
    [
        (b"{not json", "INVALID_REQUEST: body is not valid JSON (line 1 column 2"),
        (b"", "INVALID_REQUEST: body is not valid JSON"),
        (b"\xff\xfe\x00garbage", "INVALID_REQUEST: body is not UTF-8 text"),
        (b"[1, 2]", "INVALID_REQUEST: the request must be a JSON object"),
        (b'{"id": 1, "params": [{}]}', "INVALID_REQUEST: missing method"),
        (b'{"id": 1, "method": "APIerSv1.Ping"}', "INVALID_REQUEST: APIerSv1.Ping: missing params"),
        (b'{"method": "APIerSv1.Ping", "params": {}}', "params must be a list with one object"),
        (b'{"method": "APIerSv1.Ping", "params": [{}, {}]}', "params must be a list with one"),
        (b'{"method": "APIerSv1.Ping", "params": ["x"]}', "params must be a list with one"),
    ],
)
def test_malformed_requests_get_a_clear_error_and_the_server_stays_up(api, body, wanted):
    reply = _rpc(api, body)
    assert reply["result"] is None
    assert wanted in reply["error"]
    _assert_still_serving(api)


def test_scalar_param_only_where_cgrates_takes_one(api):
    api.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(EXAMPLE_PLAN)})
    reply = _rpc(api, '{"id": 1, "method": "APIerSv1.GetDestination", "params": ["DST_UK"]}')
    assert reply["result"] == {"Id": "DST_UK", "Prefixes": ["44"]}


def test_unexpected_exception_is_answered_logged_and_not_fatal(api, caplog):
    with pytest.raises(RpcError) as err:
        api.call("TestSv1.Boom")
    assert err.value.message == "SERVER_ERROR: boom"
    assert any("RuntimeError: boom" in (r.exc_text or "") for r in caplog.records)
    _assert_still_serving(api)


def test_a_reply_json_cannot_hold_is_an_error_reply(api):
    with pytest.raises(RpcError) as err:
        api.call("TestSv1.Unencodable")
    assert err.value.message.startswith("SERVER_ERROR: cannot store object")
    _assert_still_serving(api)


def test_body_over_the_limit_is_refused_without_reading_it(api):
    limit = api.node.config.listen.max_request_bytes
    padding = "x" * (limit + 10)
    body = json.dumps({"id": 1, "method": "TestSv1.Echo", "params": [{"Pad": padding}]})
    status, reply = api.post(body.encode())
    assert status == 413
    assert reply["error"] == f"INVALID_REQUEST: request body larger than {limit} bytes"
    _assert_still_serving(api)


def test_numbers_keep_their_exact_digits_both_ways(api):
    exact = "0.1000000000000000055511"  # a float would come back as 0.1
    body = '{"id": 1, "method": "TestSv1.Echo", "params": [{"A": ' + exact + ', "B": 7}]}'
    status, raw = api.post(body.encode())
    assert status == 200
    assert raw["result"] == {"A": Decimal(exact), "B": 7}
    assert encode({"A": Decimal("0.10020"), "B": 7}) == '{"A":0.10020,"B":7}'


def test_health_and_other_paths(api):
    status, reply = api.post(b"", path="/health", verb="GET")
    assert status == 200 and reply["status"] == "ok"
    status, reply = api.post(b"", path="/jsonrpc", verb="GET")
    assert status == 405 and "POST" in reply["error"]
    status, _ = api.post(b"{}", path="/nope")
    assert status == 404
