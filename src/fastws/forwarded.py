"""The client's address behind trusted proxies: ``X-Forwarded-For``.

Behind a load balancer or a reverse proxy, the TCP peer of a server is the
proxy, and the client's address travels in the ``X-Forwarded-For`` header,
which anyone can also forge. As uvicorn does (``--proxy-headers``,
``--forwarded-allow-ips``), the header is believed only when the peer is a
trusted proxy, and then read from the right: each proxy appends the address
it got the request from, so the first address from the right that is not a
trusted proxy is the client (if every address is trusted, the leftmost one).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from .headers import Headers

__all__ = ["TrustedProxies", "client_address"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed.

    Args:
        hosts: IP addresses and networks (``"10.0.0.0/8"``), as an iterable
            or one comma-separated string; ``"*"`` trusts every peer (only
            when nothing but the proxy can reach the server).

    Raises:
        ValueError: an entry is neither an address, a network nor ``*``.
    """

    def __init__(self, hosts: str | Iterable[str]) -> None:
        if isinstance(hosts, str):
            hosts = hosts.split(",")
        self.everyone = False
        self.networks: list[_Network] = []
        for host in (h.strip() for h in hosts):
            if not host:
                continue
            if host == "*":
                self.everyone = True
            else:
                self.networks.append(ipaddress.ip_network(host, strict=False))

    def __contains__(self, host: object) -> bool:
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(str(host))
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def __repr__(self) -> str:
        entries = ["*"] if self.everyone else [str(n) for n in self.networks]
        return f"TrustedProxies({','.join(entries)!r})"


def client_address(peer: Any, headers: Headers, trusted: TrustedProxies) -> Any:
    """The client's address: from ``X-Forwarded-For`` when ``peer`` is trusted.

    Args:
        peer: the TCP peer's address (``(host, port, ...)``), or None.
        headers: the request's headers.
        trusted: the trusted proxies.

    Returns:
        ``(host, 0)`` from the header (proxies do not forward the port), or
        ``peer`` itself when it is not a trusted proxy or sent no header.
    """
    if not peer or peer[0] not in trusted:
        return peer
    values = headers.get_all("X-Forwarded-For")
    hosts = [host.strip() for value in values for host in value.split(",") if host.strip()]
    if not hosts:
        return peer
    for host in reversed(hosts):
        if host not in trusted:
            return (host, 0)
    return (hosts[0], 0)
