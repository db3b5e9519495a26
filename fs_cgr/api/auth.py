"""API tokens: ``Authorization: Bearer <token>`` or the password of HTTP Basic.

mod_json_cdr can only send Basic credentials (its ``cred`` param is ``user:password``),
so a token is also accepted as the Basic password, whatever the user name. Tokens are
compared in constant time, and every configured token is compared on every request,
so the reply time does not tell which token came close.
"""

import base64
import binascii
import hmac

CHALLENGE = ("WWW-Authenticate", 'Bearer realm="fs_cgr", Basic realm="fs_cgr"')


class TokenGuard:
    """``allows(authorization)``: True when no tokens are configured or the request's
    ``Authorization`` header carries one."""

    def __init__(self, tokens):
        self._tokens = [token.encode() for token in tokens]

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def allows(self, authorization: str) -> bool:
        if not self._tokens:
            return True
        presented = presented_token(authorization)
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(presented, token)
        return matched and bool(presented)


def presented_token(header: str) -> bytes:
    """The token of a Bearer header or the password of a Basic one; b"" for anything else."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value.encode("utf-8", "replace")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return b""
        return decoded.partition(b":")[2]
    return b""
