"""The federation TLS listener: HTTPS in, plain bytes forwarded to the upstream HTTP server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from federation.self_signed import write_self_signed_certificate
from federation.tls_listener import TlsForwarder, server_ssl_context


async def _upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A tiny HTTP/1.1 server answering each request with its own request line and body size."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            length = next((int(h.split(":", 1)[1]) for h in lines
                           if h.lower().startswith("content-length:")), 0)
            body = await reader.readexactly(length)
            answer = f"{lines[0]} {len(body)}".encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def test_https_requests_are_forwarded_over_one_connection(tmp_path: Path) -> None:
    cert, key = write_self_signed_certificate(tmp_path, "127.0.0.1:8448")
    upstream = await asyncio.start_server(_upstream, "127.0.0.1", 0)
    up_port = upstream.sockets[0].getsockname()[1]
    listener = TlsForwarder("127.0.0.1", 0, server_ssl_context(str(cert), str(key)),
                            "127.0.0.1", up_port)
    await listener.start()
    try:
        async with httpx.AsyncClient(verify=False) as client:
            base = f"https://127.0.0.1:{listener.port}"
            r1 = await client.get(f"{base}/_matrix/federation/v1/version?x=1")
            r2 = await client.put(f"{base}/_matrix/federation/v1/send/1", content=b"x" * 300_000)
        assert (r1.status_code, r1.text) == (200, "GET /_matrix/federation/v1/version?x=1 HTTP/1.1 0")
        assert (r2.status_code, r2.text) == (200, "PUT /_matrix/federation/v1/send/1 HTTP/1.1 300000")
        # Plain HTTP on the TLS port gets no answer.
        async with httpx.AsyncClient() as plain:
            try:
                await plain.get(f"http://127.0.0.1:{listener.port}/", timeout=5)
                answered = True
            except httpx.HTTPError:
                answered = False
        assert not answered
    finally:
        await listener.stop()
        upstream.close()
        await upstream.wait_closed()


async def test_unreachable_upstream_closes_the_connection(tmp_path: Path) -> None:
    cert, key = write_self_signed_certificate(tmp_path, "localhost")
    free = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead_port = free.sockets[0].getsockname()[1]
    free.close()
    await free.wait_closed()
    listener = TlsForwarder("127.0.0.1", 0, server_ssl_context(str(cert), str(key)),
                            "127.0.0.1", dead_port)
    await listener.start()
    try:
        async with httpx.AsyncClient(verify=False) as client:
            try:
                await client.get(f"https://127.0.0.1:{listener.port}/", timeout=5)
                failed = False
            except httpx.HTTPError:
                failed = True
        assert failed
    finally:
        await listener.stop()
