"""Creating and dropping databases on a server, and pointing DSNs at them.

Works the same on the embedded server and on an external one: the given DSN
only needs the right to CREATE DATABASE.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

__all__ = ["drop_database", "dsn_with_database", "ensure_database"]

# PostgreSQL silently truncates longer names, which would make "does it exist?"
# checks lie; refuse them instead.
_MAX_NAME_BYTES = 63


def dsn_with_database(dsn: str, database: str) -> str:
    """The same server, user and options as `dsn`, but database `database`."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"expected a postgresql:// URL, got {parts.scheme or 'no'} scheme")
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


async def ensure_database(dsn: str, name: str) -> str:
    """Create database `name` on `dsn`'s server unless it exists; return a DSN for it.

    Safe to call from several processes at once.
    """
    _check_name(name)
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await conn.execute(f"CREATE DATABASE {_quote_ident(name)}")
            except asyncpg.DuplicateDatabaseError:
                pass  # another process created it between our check and our CREATE
    finally:
        await conn.close()
    return dsn_with_database(dsn, name)


async def drop_database(dsn: str, name: str) -> None:
    """Drop database `name` on `dsn`'s server if it exists, disconnecting its clients."""
    _check_name(name)
    conn = await asyncpg.connect(dsn)
    try:
        # FORCE (PostgreSQL 13+) ends other sessions, e.g. a pool a test leaked.
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


def _check_name(name: str) -> None:
    if not name or len(name.encode()) > _MAX_NAME_BYTES or "\x00" in name:
        raise ValueError(f"invalid database name {name!r}")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
