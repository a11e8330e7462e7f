"""The Ray actor running the federation TLS listener (federation.tls_listener) on one node."""

from __future__ import annotations

from typing import Any

import ray

from dendray.config import Config
from federation.tls_listener import TlsForwarder, server_ssl_context


@ray.remote
class FederationListenerActor:
    async def __init__(self, config: dict[str, Any]) -> None:
        cfg = Config.from_dict(config)
        fed, listen = cfg.federation, cfg.listen
        if not fed.tls_certificate_path or not fed.tls_private_key_path:
            raise ValueError("the federation listener needs tls_certificate_path and tls_private_key_path")
        # The Serve proxy of this node: reachable on loopback when bound to all addresses.
        upstream = "127.0.0.1" if listen.bind_address in ("0.0.0.0", "::") else listen.bind_address
        self._forwarder = TlsForwarder(
            listen.bind_address, listen.federation_port,
            server_ssl_context(fed.tls_certificate_path, fed.tls_private_key_path),
            upstream, listen.client_port,
        )
        await self._forwarder.start()

    async def ready(self) -> int:
        return self._forwarder.port

    async def stop(self) -> None:
        await self._forwarder.stop()
