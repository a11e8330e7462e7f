"""What every actor's service gets: the config, a database pool, a router, the key.

Built once in each actor process from the plain config dict the actor was
created with, so it works the same on one machine and on a cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from dendray.config import Config
from protocol.signing import read_signing_keys
from sharding.router import Router
from storage.pool import create_pool


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Context:
    config: Config
    pool: asyncpg.Pool
    router: Router
    signing_key: Any

    @property
    def server_name(self) -> str:
        return self.config.server_name

    async def close(self) -> None:
        await self.pool.close()


async def open_context(config: dict[str, Any], component: str) -> Context:
    """Connect to the database named in `config` (its DSN is resolved by the starter)."""
    cfg = Config.from_dict(config)
    if not cfg.database.dsn:
        raise RuntimeError("actors need a resolved database DSN in config.database.dsn")
    pool = await create_pool(
        cfg.database.dsn, min_size=1, max_size=cfg.database.pool_max_size,
        application_name=f"dendray-{component}",
    )
    keys = read_signing_keys(cfg.signing_key)
    return Context(config=cfg, pool=pool, router=Router(cfg.shards), signing_key=keys[0])
