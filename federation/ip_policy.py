"""Which addresses federation may connect to.

By default only globally routable unicast addresses: a remote server name
(or its .well-known, or its SRV target) must never make us talk to loopback,
the private network, link-local or other special ranges (SSRF). A closed test
network on one machine turns this off (`allow_private_destinations`).
"""

from __future__ import annotations

import ipaddress


def is_allowed_address(address: str, *, allow_private: bool) -> bool:
    """Whether federation may connect to this IP address (no brackets, no port)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if allow_private:
        return not ip.is_unspecified and not ip.is_multicast
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 carried in IPv6 is judged as the IPv4 address it reaches.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return _is_public(embedded)
        if ip.teredo is not None:
            return _is_public(ip.teredo[1])
    return _is_public(ip)


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # is_global excludes private, loopback, link-local, shared (100.64/10),
    # documentation and reserved ranges; multicast is never a server.
    return ip.is_global and not ip.is_multicast
