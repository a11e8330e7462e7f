"""The federation port: terminate TLS and forward the bytes to the Serve HTTP proxy.

Serve has one plain-HTTP proxy listener per node, which serves every API.
Other servers require TLS on the federation port, so this listener accepts
TLS connections there and pipes each decrypted stream to the proxy on the
same node (docs/federation.md, "Listeners"). HTTP itself is left to Serve:
requests are authenticated by their X-Matrix signatures, not by the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

log = logging.getLogger("dendray.federation")

_CHUNK = 64 * 1024
HANDSHAKE_TIMEOUT_S = 15.0


def server_ssl_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)
    # HTTP/1.1 only: the Serve proxy behind us speaks HTTP/1.1.
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class TlsForwarder:
    def __init__(
        self, bind_host: str, port: int, ssl_context: ssl.SSLContext,
        upstream_host: str, upstream_port: int,
    ) -> None:
        self._bind = (bind_host, port)
        self._ssl = ssl_context
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the one picked for port 0)."""
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, self._bind[0], self._bind[1], ssl=self._ssl,
            ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S, reuse_address=True,
        )
        log.info("federation TLS listener on %s:%d -> %s:%d", *self._bind, *self._upstream)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _on_connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            try:
                up_r, up_w = await asyncio.open_connection(*self._upstream)
            except OSError as e:
                log.warning("federation listener: cannot reach the Serve proxy: %s", e)
                return
            to_upstream = asyncio.create_task(_pipe(client_r, up_w))
            try:
                # The proxy closing ends the connection; the client closing
                # half-closes towards the proxy, which then closes too.
                await _pipe(up_r, client_w)
            finally:
                to_upstream.cancel()
                await asyncio.gather(to_upstream, return_exceptions=True)
                await _close(up_w)
        finally:
            await _close(client_w)
            self._connections.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close so the other side sees the end of the request."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, ssl.SSLError, OSError):
        # One side went away: closing both ends (by the caller) is all there is to do.
        writer.close()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
        await writer.wait_closed()
