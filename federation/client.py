"""The outbound federation client: signed JSON requests to other homeservers.

`FederationClient(config)` resolves the destination (federation.discovery),
refuses addresses the policy forbids (federation.ip_policy), signs each
request with X-Matrix under our current signing key, and keeps one pooled
httpx client. Any actor that talks to other servers makes its own instance.

Paths are sent exactly as given (callers percent-encode path parameters,
e.g. `quote(room_id, safe="")`); query values are encoded here. The signed
`uri` is byte for byte what goes on the wire.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from dendray.config import Config
from federation.discovery import (
    WELL_KNOWN_ERROR_S,
    DiscoveryError,
    DnsResolver,
    Resolver,
    ServerAddress,
    ServerDiscovery,
    WellKnownResult,
    parse_well_known,
)
from federation.ip_policy import is_allowed_address
from protocol.canonical_json import CanonicalJsonError, encode_canonical_json, parse_json
from protocol.signing import read_signing_keys
from protocol.x_matrix import sign_request

log = logging.getLogger("dendray.federation")

USER_AGENT = "dendray"
# Answers bigger than this are refused (a transaction reply, a state
# snapshot and a backfill batch all fit well within it).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_MAX_WELL_KNOWN_BYTES = 64 * 1024
_MAX_REDIRECTS = 5

Query = Mapping[str, str | int | bool | list[str]]


class FederationError(Exception):
    """The destination answered with an error (or an answer that is not a JSON object)."""

    def __init__(self, status: int, errcode: str | None, body: Any) -> None:
        super().__init__(status, errcode, body)
        self.status = status
        self.errcode = errcode
        self.body = body

    def __str__(self) -> str:
        return f"{self.status} {self.errcode or ''}: {self.body!r}"[:500]


class FederationUnreachable(Exception):
    """The destination could not be reached (no address, refused address, network, TLS)."""


class FederationClient:
    def __init__(self, config: Config, *, resolver: Resolver | None = None) -> None:
        fed = config.federation
        self._enabled = fed.enabled
        self._origin = config.server_name
        self._key = read_signing_keys(config.signing_key)[0]
        self._allow_private = fed.allow_private_destinations
        self._resolver = resolver if resolver is not None else DnsResolver()
        self._discovery = ServerDiscovery(self._resolver, self._fetch_well_known)
        timeout = float(fed.request_timeout_s)
        self._http = httpx.AsyncClient(
            verify=fed.verify_tls, follow_redirects=False, trust_env=False,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_json(self, destination: str, path: str, query: Query | None = None) -> Any:
        return await self.request("GET", destination, path, query=query)

    async def put_json(
        self, destination: str, path: str, body: Any, query: Query | None = None
    ) -> Any:
        return await self.request("PUT", destination, path, query=query, body=body)

    async def post_json(
        self, destination: str, path: str, body: Any, query: Query | None = None
    ) -> Any:
        return await self.request("POST", destination, path, query=query, body=body)

    async def request(
        self, method: str, destination: str, path: str, *,
        query: Query | None = None, body: Any = None,
    ) -> Any:
        """One signed request; the decoded JSON answer of a 2xx response."""
        if not self._enabled:
            raise FederationUnreachable("federation is disabled in the configuration")
        if destination == self._origin:
            raise FederationUnreachable("refusing to send a federation request to ourselves")
        uri = path + _query_string(query)
        content = None
        if body is not None:
            try:
                content = encode_canonical_json(body)
            except CanonicalJsonError as e:
                raise ValueError(f"request body cannot be signed: {e}") from None
        headers = {
            "Authorization": sign_request(self._key, self._origin, destination, method, uri, body),
            "User-Agent": USER_AGENT,
        }
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            addresses = await self._discovery.resolve(destination)
        except DiscoveryError as e:
            raise FederationUnreachable(f"{destination}: {e}") from None
        response = await self._send_any(addresses, method, uri, headers, content, destination)
        return _decode(response, destination)

    async def _send_any(
        self, addresses: list[ServerAddress], method: str, uri: str,
        headers: dict[str, str], content: bytes | None, destination: str,
    ) -> _Answer:
        """Send to the first address that accepts a connection."""
        problems: list[str] = []
        for address in addresses:
            ips = await self._resolver.addresses(address.connect_host)
            if not ips:
                problems.append(f"{address.connect_host} has no address")
            for ip in ips:
                if not is_allowed_address(ip, allow_private=self._allow_private):
                    problems.append(f"{ip} is not an allowed destination")
                    continue
                try:
                    return await self._send(ip, address, method, uri, headers, content)
                except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                    # Nothing was sent: the next address may work.
                    problems.append(f"{ip}:{address.port}: {e or type(e).__name__}")
                except (httpx.TransportError, _TooLarge) as e:
                    # The request may have arrived; never resend it elsewhere.
                    raise FederationUnreachable(
                        f"{destination} ({ip}:{address.port}): {e or type(e).__name__}"
                    ) from None
        raise FederationUnreachable(f"{destination}: " + ("; ".join(problems) or "no address"))

    async def _send(
        self, ip: str, address: ServerAddress, method: str, uri: str,
        headers: dict[str, str], content: bytes | None, *, limit: int = MAX_RESPONSE_BYTES,
    ) -> _Answer:
        url = httpx.URL(scheme="https", host=ip, port=address.port, raw_path=uri.encode("ascii"))
        # The certificate must match the server's name, not the IP we connect to.
        extensions = {} if address.tls_name_is_ip else {"sni_hostname": address.tls_name}
        request = self._http.build_request(
            method, url, headers={**headers, "Host": address.host_header},
            content=content, extensions=extensions,
        )
        response = await self._http.send(request, stream=True)
        try:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise _TooLarge(f"answer larger than {limit} bytes")
                chunks.append(chunk)
        finally:
            await response.aclose()
        return _Answer(response.status_code, response.headers, b"".join(chunks))

    async def _fetch_well_known(self, host: str) -> WellKnownResult:
        """GET https://<host>/.well-known/matrix/server, following a few redirects."""
        url = f"https://{host}/.well-known/matrix/server"
        seen: set[str] = set()
        for _ in range(_MAX_REDIRECTS + 1):
            seen.add(url)
            parts = urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                return WellKnownResult(None, WELL_KNOWN_ERROR_S)
            name = parts.hostname
            port = parts.port or 443
            netloc_host = f"[{name}]" if ":" in name else name
            host_header = netloc_host if parts.port is None else f"{netloc_host}:{port}"
            address = ServerAddress(name, port, host_header, name)
            raw_path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            try:
                response = await self._send_any_plain(address, raw_path)
            except FederationUnreachable as e:
                log.info("well-known of %s unreachable: %s", host, e)
                return WellKnownResult(None, WELL_KNOWN_ERROR_S)
            location = response.headers.get("location")
            if response.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                if url in seen:
                    return WellKnownResult(None, WELL_KNOWN_ERROR_S)
                continue
            return parse_well_known(response.status, response.content,
                                    response.headers.get("cache-control"))
        return WellKnownResult(None, WELL_KNOWN_ERROR_S)

    async def _send_any_plain(self, address: ServerAddress, raw_path: str) -> _Answer:
        problems: list[str] = []
        for ip in await self._resolver.addresses(address.connect_host):
            if not is_allowed_address(ip, allow_private=self._allow_private):
                problems.append(f"{ip} is not an allowed destination")
                continue
            try:
                return await self._send(ip, address, "GET", raw_path,
                                        {"User-Agent": USER_AGENT}, None,
                                        limit=_MAX_WELL_KNOWN_BYTES)
            except (httpx.TransportError, _TooLarge) as e:
                problems.append(f"{ip}: {e or type(e).__name__}")
        raise FederationUnreachable("; ".join(problems) or f"{address.connect_host} has no address")


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


def _query_string(query: Query | None) -> str:
    if not query:
        return ""
    pairs: list[str] = []
    for name, value in query.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            text = ("true" if v else "false") if isinstance(v, bool) else str(v)
            pairs.append(f"{quote(name, safe='')}={quote(text, safe='')}")
    return "?" + "&".join(pairs)


def _decode(answer: _Answer, destination: str) -> Any:
    try:
        body = parse_json(answer.content, strict=False)
    except (CanonicalJsonError, UnicodeDecodeError):
        body = None
        if answer.is_success:
            raise FederationError(answer.status, "M_NOT_JSON",
                                  f"{destination} answered with invalid JSON") from None
    if answer.is_success:
        return body
    errcode = body.get("errcode") if isinstance(body, dict) else None
    raise FederationError(answer.status, errcode if isinstance(errcode, str) else None,
                          body if body is not None
                          else answer.content[:1000].decode("utf-8", "replace"))
