"""Pools and connections: JSON codecs, settings, and the external-DSN path."""

from __future__ import annotations

import secrets
from pathlib import Path

import asyncpg
import pytest

from storage.config import DatabaseConfig
from storage.databases import drop_database, dsn_with_database, ensure_database
from storage.embedded import open_server
from storage.migrations import apply_migrations, load_migrations
from storage.pool import connect, create_pool

EVENT_CONTENT = {
    "body": "héllo ✓ \"quoted\"",
    "nested": {"list": [1, 2.5, True, None], "empty": {}},
    "big": 2**53,
}


async def test_jsonb_round_trips_python_values(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO server_meta (key, value) VALUES ($1, $2)", "t1", EVENT_CONTENT)
        assert await conn.fetchval("SELECT value FROM server_meta WHERE key = 't1'") == EVENT_CONTENT
        # The server sees real JSON, not a quoted string.
        assert await conn.fetchval("SELECT value->'nested'->'list'->>1 FROM server_meta WHERE key = 't1'") == "2.5"
        await conn.execute("DELETE FROM server_meta WHERE key = 't1'")


async def test_json_and_scalar_values(db_pool: asyncpg.Pool) -> None:
    assert await db_pool.fetchval("SELECT $1::json", [1, "a"]) == [1, "a"]
    assert await db_pool.fetchval("SELECT $1::jsonb", "just a string") == "just a string"
    assert await db_pool.fetchval("SELECT '{\"a\": 1}'::jsonb") == {"a": 1}


async def test_pool_sets_application_name(db_pool: asyncpg.Pool) -> None:
    assert await db_pool.fetchval("SHOW application_name") == "dendray"


async def test_command_timeout_applies(pg_dsn: str) -> None:
    pool = await create_pool(pg_dsn, command_timeout=0.2)
    try:
        with pytest.raises(TimeoutError):
            await pool.execute("SELECT pg_sleep(5)")
    finally:
        await pool.close()


async def test_connect_has_the_same_codecs(pg_dsn: str) -> None:
    conn = await connect(pg_dsn, application_name="dendray-test")
    try:
        assert await conn.fetchval("SELECT $1::jsonb", {"k": ["v"]}) == {"k": ["v"]}
        assert await conn.fetchval("SHOW application_name") == "dendray-test"
    finally:
        await conn.close()


def test_dsn_with_database_keeps_everything_else() -> None:
    assert (
        dsn_with_database("postgresql://u:p@db:5433/postgres?sslmode=require", "dendray")
        == "postgresql://u:p@db:5433/dendray?sslmode=require"
    )
    assert (
        dsn_with_database("postgresql://postgres@/postgres?host=/tmp/x&port=5432", "a b")
        == "postgresql://postgres@/a%20b?host=/tmp/x&port=5432"
    )
    with pytest.raises(ValueError):
        dsn_with_database("mysql://x/y", "z")


async def test_external_dsn_path(pg_server_dsn: str, tmp_path: Path) -> None:
    # The session's server stands in for an external PostgreSQL.
    unused_dir = tmp_path / "never-created"
    config = DatabaseConfig(dsn=pg_server_dsn, data_dir=unused_dir)
    assert not config.is_embedded
    name = f"dendray_external_{secrets.token_hex(4)}"
    with open_server(config) as server_dsn:
        assert server_dsn == pg_server_dsn
        dsn = await ensure_database(server_dsn, name)
        try:
            assert await ensure_database(server_dsn, name) == dsn  # exists: a no-op
            pool = await create_pool(dsn)
            try:
                assert await apply_migrations(pool) == [m.name for m in load_migrations()]
                await pool.execute("INSERT INTO server_meta VALUES ('k', $1)", {"v": 1})
                assert await pool.fetchval("SELECT value FROM server_meta") == {"v": 1}
            finally:
                await pool.close()
        finally:
            await drop_database(server_dsn, name)
    assert not unused_dir.exists()  # nothing embedded was started
