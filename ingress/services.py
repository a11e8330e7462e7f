"""The per-replica handle to the actor pools: what route handlers call."""

from __future__ import annotations

from dataclasses import dataclass

from dendray.config import Config
from sharding.router import Router


@dataclass
class Services:
    config: Config
    router: Router


_services: Services | None = None


def init_services(config: Config) -> Services:
    global _services
    _services = Services(config=config, router=Router(config.shards))
    return _services


def get_services() -> Services:
    """FastAPI dependency; set up by the ingress replica's constructor."""
    if _services is None:
        raise RuntimeError("the ingress services are not initialised")
    return _services
