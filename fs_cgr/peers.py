"""Which peer addresses may talk to a listener: a list of addresses and networks.

Used for the outbound ESL server (``freeswitch_agent.allow_from``) and for
``POST /freeswitch_json`` (``listen.freeswitch_json_allow_from``): both accept
facts that move money (a call's account, a CDR), so by default only loopback.
"""

import ipaddress

KNOWN_HOSTS = 256


class AllowList:
    """``allows(host)`` for ``["127.0.0.0/8", "::1", "10.0.0.5"]``; an empty list allows no one."""

    def __init__(self, entries):
        self.entries = list(entries)
        try:
            self._networks = [ipaddress.ip_network(entry, strict=False) for entry in self.entries]
        except ValueError as exc:
            raise ValueError(f"not an address or network: {exc}") from None
        self._known: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        """Cached by host: a FreeSWITCH box connects from one address for every call, and
        reading it costs more than the rest of accepting the socket. The cache holds at
        most ``KNOWN_HOSTS`` answers (then starts over), so strangers cannot grow it."""
        known = self._known.get(host)
        if known is None:
            if len(self._known) >= KNOWN_HOSTS:
                self._known.clear()
            known = self._known[host] = self._allows(host)
        return known

    def _allows(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(str(host).split("%", 1)[0])
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket
        return any(address in network for network in self._networks)
