"""CGrateS' JSON-RPC envelope, independent of the HTTP server.

A request is ``{"method": "APIerSv1.GetCost", "params": [{...}], "id": 1}``
(``"jsonrpc": "2.0"`` is accepted and ignored); the reply is always
``{"id", "result", "error"}`` with ``error`` a plain string, as Go's net/rpc
sends it. Numbers are read as Decimal and Decimals are written back as JSON
numbers with their exact digits, so money never passes through a float.
"""

import json
import logging
from decimal import Decimal

from fs_cgr.api.params import GoParams
from fs_cgr.api.registry import resolve
from fs_cgr.api.wirejson import decode_bytes, encode_bytes
from fs_cgr.errors import CGRError
from fs_cgr.jsoncodec import encode
from fs_cgr.textcheck import lone_surrogate_path

__all__ = ["encode", "error_reply", "handle"]

log = logging.getLogger(__name__)


class InvalidRequest(CGRError):
    """The request itself is unusable (not JSON, no method, params of the wrong shape)."""

    code = "INVALID_REQUEST"


def handle(node, body: bytes) -> bytes:
    """Answer one request body; never raises."""
    request_id = None
    try:
        request = _parse(body)
        request_id = request.get("id")
        _refuse_invalid_text(body, request)
        result = _dispatch(node, request)
        reply = {"id": request_id, "result": result, "error": None}
    except CGRError as exc:
        reply = {"id": request_id, "result": None, "error": exc.message}
    except Exception as exc:  # a bug must cost one reply, never the server
        log.exception("JSON-RPC request failed: %.200r", body)
        reply = {"id": request_id, "result": None, "error": f"SERVER_ERROR: {exc}"}
    try:
        return encode_bytes(reply)
    except (TypeError, ValueError) as exc:  # a method returned something JSON cannot hold
        log.exception("cannot encode the reply to %.200r", body)
        error = {"id": request_id, "result": None, "error": f"SERVER_ERROR: {exc}"}
        return encode_bytes(error)


def error_reply(message: str) -> bytes:
    return encode_bytes({"id": None, "result": None, "error": message})


def _parse(body: bytes) -> dict:
    try:
        request = decode_bytes(body)
    except ValueError:  # the standard parser names the error, or takes what msgspec does not
        request = _parse_slowly(body)
    if not isinstance(request, dict):
        raise InvalidRequest("the request must be a JSON object with method and params")
    return request


def _parse_slowly(body: bytes):
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError:
        raise InvalidRequest("body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"body is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise InvalidRequest("body is JSON nested too deeply") from None


def _refuse_invalid_text(body: bytes, request: dict) -> None:
    """No store could hold a lone surrogate: refused before any method runs."""
    invalid = lone_surrogate_path(body, request)
    if invalid is not None:
        raise InvalidRequest(f"{invalid}: not valid Unicode text (a lone UTF-16 surrogate)")


def _dispatch(node, request: dict):
    name = request.get("method")
    if not isinstance(name, str) or not name:
        raise InvalidRequest("missing method")
    method = resolve(name)
    if method is None:
        raise _NoSuchMethod(name)
    return method(node, _single_param(request, method))


def _single_param(request: dict, method) -> dict:
    if "params" not in request:
        raise InvalidRequest(f"{method.name}: missing params (a list with one object)")
    params = request["params"]
    if params == [] or params is None:  # Go clients send no argument for an empty struct
        return GoParams({})
    if not isinstance(params, list) or len(params) != 1:
        raise InvalidRequest(f"{method.name}: params must be a list with one object")
    param = params[0]
    if param is None:  # Go clients send [null] for an empty argument
        return GoParams({})
    if isinstance(param, dict):
        return GoParams(param)
    if method.scalar_param and isinstance(param, (str, int, Decimal)):
        return {method.scalar_param: param}
    raise InvalidRequest(f"{method.name}: params must be a list with one object")


class _NoSuchMethod(CGRError):
    @property
    def message(self) -> str:
        return f"rpc: can't find method {self.detail}"
