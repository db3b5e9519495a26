"""FreeSWITCH event socket: wire format, connections, outbound server, inbound client."""

from fs_cgr.esl.connection import Connection, ConnectionClosed, ESLError, ESLTimeout
from fs_cgr.esl.frames import Event, Message, ProtocolError
from fs_cgr.esl.inbound import AuthError, InboundClient
from fs_cgr.esl.outbound import OutboundConnection, OutboundServer

__all__ = [
    "AuthError",
    "Connection",
    "ConnectionClosed",
    "ESLError",
    "ESLTimeout",
    "Event",
    "InboundClient",
    "Message",
    "OutboundConnection",
    "OutboundServer",
    "ProtocolError",
]
