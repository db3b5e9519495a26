"""The API's wire codec: JSON-RPC requests and replies through msgspec.

The same exact numbers as ``fs_cgr.jsoncodec`` (a Decimal is written as a JSON number, a
non-integer number read as a Decimal) at a tenth of the CPU: a GetCost reply in ~1 µs
instead of ~13, which matters at thousands of requests a second. Kept apart from
``jsoncodec`` because FreeSWITCH's embedded Python, which imports that one, need not have
msgspec.
"""

from decimal import Decimal

import msgspec

from fs_cgr.jsoncodec import refuse


def encode_bytes(value) -> bytes:
    """``jsoncodec.encode`` as UTF-8 bytes. Unlike it, it writes a float that is
    not finite as null and a set as a list: a reply carries money as Decimal, and a
    Decimal that is not finite is still refused (ValueError)."""
    return _FAST_ENCODER.encode(value)


def decode_bytes(raw: bytes):
    """``jsoncodec.decode`` by msgspec; ValueError for anything it does not take (not JSON, not
    UTF-8, nested too deeply, and also NaN or a lone surrogate escape, which ``jsoncodec.decode``
    takes: a caller wanting those, or a precise message, falls back on ``decode``)."""
    try:
        return _FAST_DECODER.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


_FAST_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=refuse)
_FAST_DECODER = msgspec.json.Decoder(float_hook=Decimal)
