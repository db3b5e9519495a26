#!/usr/bin/env python3
"""Run CGrateS-compatibility conformance cases against any JSON-RPC server.

Implements ../shared/conformance/README.md: for each case, isolate with
``APIerSv1.RemoveTPFromFolder``, load the case's tariff plan with
``APIerSv1.LoadTariffPlanFromFolder``, run ``setup``, ``call``, the checks and
``teardown``, print ``PASS <id>`` / ``FAIL <id>: <reason>`` and finally
``N passed, M failed``. It imports nothing from fs_cgr, so it can be pointed
at a real CGrateS too::

    python tests/conformance_runner.py --url http://127.0.0.1:2080/jsonrpc \\
        --cases ../shared/conformance/public_cases.json --tariffplans ../shared/tariffplans
"""

import argparse
import contextlib
import itertools
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:2080/jsonrpc"
DEFAULT_TOLERANCE = Decimal("1e-6")
SHARED = Path(os.environ.get("FS_CGR_SHARED", Path(__file__).resolve().parents[2] / "shared"))


class CallFailed(Exception):
    """The server answered with an error (``str(exc)`` is its message)."""


class CheckFailed(Exception):
    """A case did not get what it expected."""


class Client:
    """Minimal JSON-RPC client: one POST per call, numbers read as Decimal."""

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 60.0, token: str = ""):
        self.url = url
        self.timeout = timeout
        self.token = token  # sent as "Authorization: Bearer" (fs_cgr's listen.auth_tokens)
        self._ids = itertools.count(1)

    def call(self, method: str, params: dict):
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": [params]}
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read(), parse_float=Decimal)
        except urllib.error.HTTPError as exc:
            raise CallFailed(f"HTTP {exc.code} from {self.url}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CallFailed(f"cannot reach {self.url}: {exc}") from None
        except ValueError as exc:
            raise CallFailed(f"reply is not JSON: {exc}") from None
        error = reply.get("error")
        if error is not None:
            raise CallFailed(error.get("message", str(error)) if isinstance(error, dict) else error)
        return reply.get("result")


# -- ${RUN} ----------------------------------------------------------------------
def substitute(value, token: str):
    """Replace ``${RUN}`` in every string (keys included) with the run's token."""
    if isinstance(value, str):
        return value.replace("${RUN}", token)
    if isinstance(value, list):
        return [substitute(item, token) for item in value]
    if isinstance(value, dict):
        return {substitute(key, token): substitute(item, token) for key, item in value.items()}
    return value


# -- paths -----------------------------------------------------------------------
_MISSING = object()


def split_path(path: str) -> list[str]:
    """Split on dots outside ``[...]`` so ``[ID=a.b]`` stays one segment."""
    segments, current, depth = [], [], 0
    for char in path:
        if char == "." and depth == 0:
            segments.append("".join(current))
            current = []
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current.append(char)
    segments.append("".join(current))
    return segments


def resolve(result, path: str):
    """The value at ``path`` (README "Paths in expect"); raises CheckFailed when absent."""
    if path.startswith("sum:"):
        values = _flatten(resolve(result, path[4:]))
        numbers = [v for v in values if _is_number(v)]
        if len(numbers) != len(values):
            raise CheckFailed(f"{path}: not all values are numbers: {values!r}")
        return sum((Decimal(v) for v in numbers), Decimal(0))
    if path.startswith("len:"):
        value = resolve(result, path[4:])
        if not isinstance(value, (list, dict, str)):
            raise CheckFailed(f"{path}: {value!r} has no length")
        return len(value)
    if path == "$":
        return result
    value = result
    for segment in split_path(path):
        value = _step(value, segment)
        if value is _MISSING:
            raise CheckFailed(f"{path}: no {segment!r} in the result")
    return value


def _step(value, segment: str):
    key, selector = segment, None
    if segment.endswith("]") and "[" in segment:
        key, _, selector = segment[:-1].partition("[")
    if key:
        value = _key(value, key)
    if selector is not None and value is not _MISSING:
        value = _select(value, selector)
    return value


def _key(value, key: str):
    if isinstance(value, dict):
        return value.get(key, _MISSING)
    if isinstance(value, list):
        if key.lstrip("-").isdigit():
            index = int(key)
            return value[index] if -len(value) <= index < len(value) else _MISSING
        mapped = [_key(item, key) for item in value]  # map a name over the list
        return [item for item in mapped if item is not _MISSING]
    return _MISSING


def _select(value, selector: str):
    """``[Key=Value]``: the first list element whose Key equals Value."""
    field, sep, wanted = selector.partition("=")
    if not sep or not isinstance(value, list):
        return _MISSING
    for item in value:
        if isinstance(item, dict) and field in item and _same_text(item[field], wanted):
            return item
    return _MISSING


def _same_text(actual, wanted: str) -> bool:
    if isinstance(actual, str):
        return actual == wanted
    if _is_number(actual):
        try:
            return Decimal(actual) == Decimal(wanted)
        except InvalidOperation:
            return False
    return json.dumps(actual) == wanted


def _flatten(value) -> list:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


def _is_number(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


# -- comparing -------------------------------------------------------------------
def matches(expected, actual, tolerance: Decimal) -> str | None:
    """None when ``actual`` satisfies ``expected``, else why not."""
    if _is_number(expected):
        if not _is_number(actual):
            return f"expected {expected}, got {actual!r}"
        if abs(Decimal(str(expected)) - Decimal(str(actual))) > tolerance:
            return f"expected {expected}, got {actual}"
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"expected an object, got {actual!r}"
        for key, item in expected.items():
            if key not in actual:
                return f"missing key {key!r}"
            reason = matches(item, actual[key], tolerance)
            if reason:
                return f"{key}: {reason}"
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"expected {_show(expected)}, got {_show(actual)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            reason = matches(want, got, tolerance)
            if reason:
                return f"[{index}]: {reason}"
        return None
    if expected != actual or type(expected) is not type(actual):
        return f"expected {_show(expected)}, got {_show(actual)}"
    return None


def _show(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:200] + "..."


# -- running ---------------------------------------------------------------------
def check_step(client: Client, step: dict, tolerance: Decimal) -> None:
    """Make one call and check its ``expect`` / ``expect_error``; raise CheckFailed."""
    method, params = step["method"], step.get("params", {})
    expect_error = step.get("expect_error")
    try:
        result = client.call(method, params)
    except CallFailed as exc:
        if expect_error is True or (isinstance(expect_error, str) and expect_error in str(exc)):
            return
        if expect_error:
            raise CheckFailed(f"{method}: error {exc} does not contain {expect_error!r}")
        if step.get("ignore_error"):
            return
        raise CheckFailed(f"{method} failed: {exc}")
    if expect_error:
        raise CheckFailed(f"{method}: expected an error, got {_show(result)}")
    for path, want in (step.get("expect") or {}).items():
        reason = matches(want, resolve(result, path), tolerance)
        if reason:
            raise CheckFailed(f"{path}: {reason}")


class Runner:
    """Runs cases in order, remembering which folder is loaded for the isolation step."""

    def __init__(self, client: Client, tariffplans: Path, token: str | None = None):
        self.client = client
        self.tariffplans = Path(tariffplans).resolve()
        self.token = token or uuid.uuid4().hex[:10]
        self.loaded: str | None = None

    def folder(self, name: str) -> str:
        return os.fspath(self.tariffplans / name)

    def run_case(self, case: dict) -> str | None:
        """None when the case passed, else the reason it failed."""
        case = substitute(case, self.token)
        tolerance = Decimal(str(case.get("tolerance", DEFAULT_TOLERANCE)))
        try:
            self._load(case["tariffplan"])
            for step in case.get("setup") or []:
                check_step(self.client, step, tolerance)
            call = dict(case["call"], expect=case.get("expect"))
            call["expect_error"] = case.get("expect_error")
            check_step(self.client, call, tolerance)
        except CheckFailed as exc:
            return str(exc)
        finally:
            for step in case.get("teardown") or []:
                with contextlib.suppress(CallFailed):
                    self.client.call(step["method"], step.get("params", {}))
        return None

    def _load(self, name: str) -> None:
        folder = self.folder(name)
        if self.loaded and self.loaded != folder:
            self._remove(self.loaded)
        self._remove(folder)
        self.loaded = None
        try:
            self.client.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": folder})
        except CallFailed as exc:
            raise CheckFailed(f"LoadTariffPlanFromFolder {name}: {exc}") from None
        self.loaded = folder

    def _remove(self, folder: str) -> None:
        with contextlib.suppress(CallFailed):
            self.client.call("APIerSv1.RemoveTPFromFolder", {"FolderPath": folder})

    def finish(self) -> None:
        """After the last case the last loaded folder is removed again."""
        if self.loaded:
            self._remove(self.loaded)
            self.loaded = None

    def run(self, cases: list[dict], out=print) -> tuple[int, int]:
        passed = failed = 0
        try:
            for case in cases:
                reason = self.run_case(case)
                if reason is None:
                    passed += 1
                    out(f"PASS {case['id']}")
                else:
                    failed += 1
                    out(f"FAIL {case['id']}: {reason}")
        finally:
            self.finish()
        out(f"{passed} passed, {failed} failed")
        return passed, failed


def load_cases(paths) -> list[dict]:
    cases = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            cases.extend(json.load(handle))
    return cases


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help=f"JSON-RPC URL (default {DEFAULT_URL})")
    parser.add_argument(
        "--cases",
        nargs="+",
        default=[SHARED / "conformance" / "public_cases.json"],
        help="case files (JSON lists)",
    )
    parser.add_argument(
        "--tariffplans", default=SHARED / "tariffplans", help="folder holding the tariff plans"
    )
    parser.add_argument("--category", action="append", help="run only these categories")
    parser.add_argument("--exclude-category", action="append", default=[], help="skip these")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
    parser.add_argument(
        "--token",
        default=os.environ.get("FS_CGR_TOKEN", ""),
        help="API token for a server with auth (default: $FS_CGR_TOKEN)",
    )
    args = parser.parse_args(argv)
    cases = [
        case
        for case in load_cases(args.cases)
        if (not args.category or case.get("category") in args.category)
        and case.get("category") not in args.exclude_category
    ]
    runner = Runner(Client(args.url, args.timeout, args.token), Path(args.tariffplans))
    _, failed = runner.run(cases)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
