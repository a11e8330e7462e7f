"""asyncpg connection pools (and single connections) configured the same way everywhere.

Every connection made here maps `json` and `jsonb` to Python values: pass
dicts/lists/str/int/... as parameters and get them back decoded. Do not pass
pre-encoded JSON text: a `str` is stored as a JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

__all__ = ["configure_connection", "connect", "create_pool"]

DEFAULT_COMMAND_TIMEOUT = 60.0
DEFAULT_STATEMENT_CACHE_SIZE = 1024
# Recycle idle connections so a pool does not pin server processes forever.
DEFAULT_MAX_INACTIVE_LIFETIME = 300.0
APPLICATION_NAME = "dendray"

ConnectionInit = Callable[[asyncpg.Connection], Awaitable[None]]


def _encode_json(value: Any) -> str:
    # Compact and UTF-8 as is: smaller on the wire, and PostgreSQL normalises jsonb anyway.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def configure_connection(conn: asyncpg.Connection) -> None:
    """Install the JSON codecs on `conn` (done for you by `create_pool` and `connect`)."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=_encode_json, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    command_timeout: float | None = DEFAULT_COMMAND_TIMEOUT,
    statement_cache_size: int = DEFAULT_STATEMENT_CACHE_SIZE,
    max_inactive_connection_lifetime: float = DEFAULT_MAX_INACTIVE_LIFETIME,
    application_name: str = APPLICATION_NAME,
    init: ConnectionInit | None = None,
    **connect_kwargs: Any,
) -> asyncpg.Pool:
    """Open a pool on `dsn` with JSON codecs, a statement cache and a per-query timeout.

    `statement_cache_size=0` is needed behind pgbouncer in transaction mode.
    `application_name` shows in pg_stat_activity; name the component using it.
    `init` runs on each new connection after the codecs are installed.
    Extra keyword arguments go to `asyncpg.create_pool`.
    """

    async def _init(conn: asyncpg.Connection) -> None:
        await configure_connection(conn)
        if init is not None:
            await init(conn)

    server_settings = {"application_name": application_name}
    server_settings.update(connect_kwargs.pop("server_settings", None) or {})
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        statement_cache_size=statement_cache_size,
        max_inactive_connection_lifetime=max_inactive_connection_lifetime,
        server_settings=server_settings,
        init=_init,
        **connect_kwargs,
    )


async def connect(
    dsn: str,
    *,
    command_timeout: float | None = DEFAULT_COMMAND_TIMEOUT,
    application_name: str = APPLICATION_NAME,
    **connect_kwargs: Any,
) -> asyncpg.Connection:
    """One connection configured like a pool's, for scripts and one-off jobs (e.g. migrating)."""
    server_settings = {"application_name": application_name}
    server_settings.update(connect_kwargs.pop("server_settings", None) or {})
    conn = await asyncpg.connect(
        dsn, command_timeout=command_timeout, server_settings=server_settings, **connect_kwargs
    )
    try:
        await configure_connection(conn)
    except BaseException:
        await conn.close()
        raise
    return conn
