"""The outbound client: address policy, query encoding, signing, Host/SNI, errors (loopback only)."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import pytest

from dendray.config import Config
from federation.client import (
    FederationClient,
    FederationError,
    FederationUnreachable,
    _query_string,
)
from federation.discovery import SrvRecord
from federation.self_signed import write_self_signed_certificate
from federation.tls_listener import server_ssl_context
from protocol.signing import (
    generate_signing_key,
    get_verify_key,
    read_signing_keys,
    write_signing_keys,
)
from protocol.x_matrix import parse_header, verify_request


class LoopbackResolver:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def srv(self, name: str) -> list[SrvRecord]:
        return []

    async def addresses(self, host: str) -> list[str]:
        self.asked.append(host)
        return ["127.0.0.1"] if host != "nowhere.example" else []


def make_config(**federation: object) -> Config:
    config = Config(server_name="us.example")
    config.signing_key = write_signing_keys([generate_signing_key("k")])
    for name, value in federation.items():
        setattr(config.federation, name, value)
    return config


async def test_private_destinations_are_refused_by_default() -> None:
    resolver = LoopbackResolver()
    client = FederationClient(make_config(), resolver=resolver)
    try:
        with pytest.raises(FederationUnreachable, match="not an allowed destination"):
            await client.get_json("them.example:8448", "/_matrix/federation/v1/version")
        with pytest.raises(FederationUnreachable, match="not an allowed destination"):
            await client.get_json("127.0.0.1:8448", "/_matrix/federation/v1/version")
        assert resolver.asked == ["them.example", "127.0.0.1"]
    finally:
        await client.aclose()


async def test_unresolvable_invalid_disabled_and_self_are_unreachable() -> None:
    client = FederationClient(make_config(), resolver=LoopbackResolver())
    disabled = FederationClient(make_config(enabled=False), resolver=LoopbackResolver())
    try:
        with pytest.raises(FederationUnreachable, match="no address"):
            await client.get_json("nowhere.example:8448", "/x")
        with pytest.raises(FederationUnreachable):
            await client.get_json("bad name", "/x")
        with pytest.raises(FederationUnreachable, match="ourselves"):
            await client.get_json("us.example", "/x")
        with pytest.raises(FederationUnreachable, match="disabled"):
            await disabled.get_json("them.example:8448", "/x")
    finally:
        await client.aclose()
        await disabled.aclose()


def test_query_values_are_percent_encoded() -> None:
    assert _query_string(None) == ""
    assert _query_string({"user_id": "@a:b.org", "limit": 5, "v": ["1", "a b"], "f": True}) == (
        "?user_id=%40a%3Ab.org&limit=5&v=1&v=a%20b&f=true")


class PeerServer:
    """A TLS HTTP/1.1 server answering one canned JSON reply, recording each request and SNI."""

    def __init__(self, tmp_path: Path, status: int, reply: bytes) -> None:
        cert, key = write_self_signed_certificate(tmp_path, "peer.test")
        self.ssl = server_ssl_context(str(cert), str(key))
        self.ssl.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        self.status, self.reply = status, reply
        self.sni: list[str | None] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    async def __aenter__(self) -> PeerServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            request_line, *header_lines = head.split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (h.partition(":") for h in header_lines if h)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((request_line, headers, body))
            writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (self.status, len(self.reply), self.reply))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


class PeerResolver(LoopbackResolver):
    async def addresses(self, host: str) -> list[str]:
        return ["127.0.0.1"]


async def test_signed_request_reaches_the_peer_with_host_and_sni(tmp_path: Path) -> None:
    config = make_config(allow_private_destinations=True, verify_tls=False)
    client = FederationClient(config, resolver=PeerResolver())
    try:
        async with PeerServer(tmp_path, 200, b'{"ok": true}') as peer:
            destination = f"peer.test:{peer.port}"
            body = {"edus": [], "pdus": []}
            assert await client.put_json(destination, "/_matrix/federation/v1/send/t%201",
                                         body, {"q": "@a:b"}) == {"ok": True}
        [(request_line, headers, raw)] = peer.requests
        uri = "/_matrix/federation/v1/send/t%201?q=%40a%3Ab"
        assert request_line == f"PUT {uri} HTTP/1.1"
        assert headers["host"] == destination and peer.sni == ["peer.test"]
        assert json.loads(raw) == body
        auth = parse_header(headers["authorization"])
        assert (auth.origin, auth.destination) == ("us.example", destination)
        key = read_signing_keys(config.signing_key)[0]
        verify_request(auth, "PUT", uri, destination, body, get_verify_key(key))
    finally:
        await client.aclose()


async def test_error_answers_and_certificate_checks(tmp_path: Path) -> None:
    lax = FederationClient(make_config(allow_private_destinations=True, verify_tls=False),
                           resolver=PeerResolver())
    strict = FederationClient(make_config(allow_private_destinations=True),
                              resolver=PeerResolver())
    try:
        async with PeerServer(tmp_path, 403, b'{"errcode": "M_FORBIDDEN", "error": "no"}') as peer:
            with pytest.raises(FederationError) as err:
                await lax.get_json(f"peer.test:{peer.port}", "/x")
            assert (err.value.status, err.value.errcode) == (403, "M_FORBIDDEN")
            # A self-signed certificate is refused when certificates are checked.
            with pytest.raises(FederationUnreachable):
                await strict.get_json(f"peer.test:{peer.port}", "/x")
        async with PeerServer(tmp_path, 200, b"not json") as peer:
            with pytest.raises(FederationError) as err:
                await lax.get_json(f"peer.test:{peer.port}", "/x")
            assert err.value.errcode == "M_NOT_JSON"
    finally:
        await lax.aclose()
        await strict.aclose()
