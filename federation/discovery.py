"""Resolving a server name to where to connect (server-server "Resolving server names").

`ServerDiscovery.resolve(server_name)` walks the spec's steps: IP literal,
explicit port, `/.well-known/matrix/server` delegation (cached), SRV
(`_matrix-fed._tcp`, then the deprecated `_matrix._tcp`), and port 8448.
The answer says which host and port to connect to, and which `Host` header
and TLS name (certificate and SNI) the request must use: those stay the
server's (or delegated server's) name even when SRV points elsewhere.

DNS and the .well-known fetch come in as arguments, so the walk is tested
with fakes; `DnsResolver` is the real DNS side.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from protocol.identifiers import InvalidIdentifier, is_ip_literal, parse_server_name

log = logging.getLogger("dendray.federation")

DEFAULT_PORT = 8448
# Cache times for .well-known answers (the spec's recommendations).
WELL_KNOWN_DEFAULT_S = 24 * 3600.0
WELL_KNOWN_MAX_S = 48 * 3600.0
WELL_KNOWN_ERROR_S = 3600.0
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class ServerAddress:
    # Where to connect: an IP (no brackets) or a host name to resolve with A/AAAA.
    connect_host: str
    port: int
    # The Host header of requests.
    host_header: str
    # The name the certificate must be valid for; sent as SNI unless an IP.
    tls_name: str

    @property
    def tls_name_is_ip(self) -> bool:
        return _is_bare_ip(self.tls_name)


@dataclass(frozen=True)
class WellKnownResult:
    # The validated `m.server` value, or None for any error answer.
    server: str | None
    # How long to keep this answer.
    cache_s: float


class Resolver(Protocol):
    async def srv(self, name: str) -> list[SrvRecord]:
        """SRV records for `name`; empty when there are none (NXDOMAIN, no answer)."""
        ...

    async def addresses(self, host: str) -> list[str]:
        """The host's IPv6 and IPv4 addresses; empty when it has none."""
        ...


WellKnownFetcher = Callable[[str], Awaitable[WellKnownResult]]


class DiscoveryError(Exception):
    """The server name is not a valid server name."""


class ServerDiscovery:
    def __init__(
        self, resolver: Resolver, fetch_well_known: WellKnownFetcher,
        *, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver = resolver
        self._fetch_well_known = fetch_well_known
        self._clock = clock
        self._well_known: dict[str, tuple[float, str | None]] = {}
        self._inflight: dict[str, asyncio.Future[str | None]] = {}

    async def resolve(self, server_name: str) -> list[ServerAddress]:
        """Where to reach `server_name`, best first (several only with SRV)."""
        try:
            host, port = parse_server_name(server_name)
        except InvalidIdentifier as e:
            raise DiscoveryError(str(e)) from None
        if is_ip_literal(host):
            # Step 1: the IP itself; Host is the server name as given.
            ip = host.strip("[]")
            return [ServerAddress(ip, port or DEFAULT_PORT, server_name, ip)]
        if port is not None:
            # Step 2: explicit port, A/AAAA of the host name.
            return [ServerAddress(host, port, server_name, host)]
        delegated = await self._delegated(host)
        if delegated is not None:
            return await self._resolve_delegated(delegated)
        # Steps 4 and 5: SRV of the server name, then the name itself on 8448.
        return await self._srv_or_default(host)

    async def _resolve_delegated(self, delegated: str) -> list[ServerAddress]:
        d_host, d_port = parse_server_name(delegated)
        if is_ip_literal(d_host):
            ip = d_host.strip("[]")
            return [ServerAddress(ip, d_port or DEFAULT_PORT, delegated, ip)]
        if d_port is not None:
            return [ServerAddress(d_host, d_port, delegated, d_host)]
        return await self._srv_or_default(d_host)

    async def _srv_or_default(self, host: str) -> list[ServerAddress]:
        for prefix in ("_matrix-fed._tcp.", "_matrix._tcp."):
            records = await self._resolver.srv(prefix + host)
            if records:
                return [ServerAddress(r.target, r.port, host, host) for r in order_srv(records)]
        return [ServerAddress(host, DEFAULT_PORT, host, host)]

    async def _delegated(self, host: str) -> str | None:
        """The `m.server` of `host`'s .well-known, from the cache when fresh."""
        cached = self._well_known.get(host)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        # One fetch per host at a time: concurrent requests share its answer.
        pending = self._inflight.get(host)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._inflight[host] = future
        try:
            try:
                result = await self._fetch_well_known(host)
            except Exception as e:  # a fetch failure is an error answer, cached as such
                log.info("well-known of %s failed: %s", host, e)
                result = WellKnownResult(None, WELL_KNOWN_ERROR_S)
            server = result.server
            if server is not None and not _valid_server_name(server):
                server = None
            self._well_known[host] = (self._clock() + result.cache_s, server)
            future.set_result(server)
            return server
        finally:
            self._inflight.pop(host, None)
            if not future.done():
                future.cancel()


def parse_well_known(status: int, body: bytes, cache_control: str | None) -> WellKnownResult:
    """A `/.well-known/matrix/server` answer: its `m.server` if valid, and for how long to keep it."""
    if status != 200:
        return WellKnownResult(None, WELL_KNOWN_ERROR_S)
    try:
        value = json.loads(body)
    except ValueError:
        return WellKnownResult(None, WELL_KNOWN_ERROR_S)
    server = value.get("m.server") if isinstance(value, dict) else None
    if not isinstance(server, str) or not _valid_server_name(server):
        return WellKnownResult(None, WELL_KNOWN_ERROR_S)
    return WellKnownResult(server, cache_time(cache_control))


def cache_time(cache_control: str | None) -> float:
    """Seconds to keep a valid .well-known answer, from its Cache-Control header."""
    if cache_control:
        lowered = cache_control.lower()
        if "no-store" in lowered or "no-cache" in lowered:
            return 0.0
        m = _MAX_AGE.search(cache_control)
        if m:
            return min(float(m.group(1)), WELL_KNOWN_MAX_S)
    return WELL_KNOWN_DEFAULT_S


def order_srv(records: list[SrvRecord]) -> list[SrvRecord]:
    """RFC 2782 order: by priority, then a weighted random pick within each priority.

    A single record with target "." means the service is decidedly not there.
    """
    usable = [r for r in records if r.target not in (".", "")]
    out: list[SrvRecord] = []
    for priority in sorted({r.priority for r in usable}):
        group = [r for r in usable if r.priority == priority]
        while group:
            total = sum(r.weight for r in group)
            if total == 0:
                pick = group[0]
            else:
                point = random.uniform(0, total)
                acc = 0
                pick = group[-1]
                for r in group:
                    acc += r.weight
                    if acc >= point:
                        pick = r
                        break
            out.append(pick)
            group.remove(pick)
    return out


def _valid_server_name(name: str) -> bool:
    try:
        parse_server_name(name)
    except InvalidIdentifier:
        return False
    return True


def _is_bare_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


class DnsResolver:
    """The real DNS: SRV through dnspython (with its cache), A/AAAA through getaddrinfo."""

    def __init__(self) -> None:
        import dns.asyncresolver
        import dns.resolver

        self._dns = dns.asyncresolver.Resolver()
        self._dns.cache = dns.resolver.Cache()

    async def srv(self, name: str) -> list[SrvRecord]:
        import dns.exception
        import dns.resolver

        try:
            answer = await self._dns.resolve(name, "SRV")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return []
        except dns.exception.DNSException as e:
            log.info("SRV lookup of %s failed: %s", name, e)
            return []
        return [SrvRecord(r.priority, r.weight, r.port, r.target.to_text(omit_final_dot=True))
                for r in answer]

    async def addresses(self, host: str) -> list[str]:
        if _is_bare_ip(host):
            return [host]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            return []
        seen: list[str] = []
        for family, _, _, _, sockaddr in infos:
            ip = str(sockaddr[0])
            if family in (socket.AF_INET, socket.AF_INET6) and ip not in seen:
                seen.append(ip)
        return seen
