"""Input checks shared by the DataDB backends: bad input fails before anything is written."""

from collections.abc import Iterable, Iterator

import gevent

from fs_cgr import jsoncodec
from fs_cgr.encoded import encode_document, json_text
from fs_cgr.storage.base import LIVE_KINDS

# the part of an account document that usually comes already encoded (fs_cgr.encoded)
ACTION_TRIGGERS_FIELD = "ActionTriggers"


class EncodedDoc(str):
    """A live document already encoded with ``jsoncodec.encode``: a big tariff-plan load
    encodes in a worker thread (fs_cgr.offload) and ``write_live`` stores the text as is."""


def encode_live_changes(
    changes: Iterable[tuple[str, str, dict | None]],
) -> list[tuple[str, str, str | None]]:
    """``(kind, id, JSON text or None)`` for every change, or ValueError naming the bad one."""
    encoded = []
    for change in changes:
        try:
            kind, obj_id, doc = change
        except (TypeError, ValueError):
            raise ValueError(f"a live change is (kind, id, doc), got {change!r}") from None
        if kind not in LIVE_KINDS:
            raise ValueError(f"unknown live kind {kind!r}; one of {', '.join(LIVE_KINDS)}")
        require_id("live object id", obj_id)
        if isinstance(doc, EncodedDoc):  # encoded by the caller, beside the event loop
            encoded.append((kind, obj_id, str(doc)))
            continue
        if doc is not None and not isinstance(doc, dict):
            raise ValueError(f"{kind} {obj_id}: document must be a dict or None")
        encoded.append((kind, obj_id, None if doc is None else jsoncodec.encode(doc)))
    return encoded


LIVE_CHUNK = 5000  # live changes written per step of a big write, other greenlets run between
_PAUSE = 0.001  # seconds: a timer, not sleep(0), so the loop also polls sockets (the API)


def encoded_chunks(changes: list, size: int = LIVE_CHUNK) -> Iterator[list]:
    """``encode_live_changes`` of ``changes``, ``size`` at a time, letting the event loop run
    between two chunks: a big plan's write is checked and sent in steps of milliseconds."""
    for start in range(0, len(changes), size):
        if start:
            gevent.sleep(_PAUSE)
        yield encode_live_changes(changes[start : start + size])


def require_id(what: str, value) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")


def require_account(tenant, account) -> None:
    """Account ids are ``tenant:account`` (as in CGrateS), so a tenant holds no colon."""
    require_id("tenant", tenant)
    require_id("account", account)
    if ":" in tenant:
        raise ValueError(f"a tenant cannot contain ':', got {tenant!r}")


def encode_cas(tenant, account, expected_version, doc, idempotency_key, result) -> tuple[str, str]:
    """The JSON texts of a ``cas_account`` step (document, result) once its input is valid."""
    require_account(tenant, account)
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise ValueError(f"expected_version must be an int, got {expected_version!r}")
    if expected_version < 0:
        raise ValueError(f"expected_version must be >= 0, got {expected_version}")
    if not isinstance(doc, dict):
        raise ValueError(f"account document must be a dict, got {type(doc).__name__}")
    if idempotency_key is not None:
        require_id("idempotency key", idempotency_key)
    return encode_document(doc, ACTION_TRIGGERS_FIELD), json_text(result)
