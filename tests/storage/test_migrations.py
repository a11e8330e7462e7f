"""Migrations: applied once, in order, recorded, concurrently safe, immutable once applied."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from storage.migrations import MigrationError, apply_migrations, load_migrations
from storage.pool import connect, create_pool


def _write(folder: Path, name: str, sql: str) -> None:
    (folder / name).write_text(sql)


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    """A private migrations folder holding one base migration, free to edit and extend.

    Independent of the packaged files, which grow with the real schema.
    """
    folder = tmp_path / "migrations"
    folder.mkdir()
    _write(folder, "0001_base.sql", "CREATE TABLE base (x int);\n")
    return folder


async def _recorded(conn: asyncpg.Connection) -> list[tuple[int, str]]:
    rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    return [(row["version"], row["name"]) for row in rows]


def test_packaged_migrations_load() -> None:
    migrations = load_migrations()
    assert migrations[0].name == "0001_schema_meta"
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})


async def test_session_database_is_migrated(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        assert [name for _, name in await _recorded(conn)] == [m.name for m in load_migrations()]
        assert await apply_migrations(conn) == []


async def test_applies_once_in_order_and_records(empty_database, migrations_dir: Path) -> None:
    _write(migrations_dir, "0003_third.sql", "INSERT INTO steps VALUES (3);")
    _write(migrations_dir, "0002_second.sql", "CREATE TABLE steps (n int); INSERT INTO steps VALUES (2);")
    conn = await connect(await empty_database())
    try:
        applied = await apply_migrations(conn, directory=migrations_dir)
        assert applied == ["0001_base", "0002_second", "0003_third"]
        assert await _recorded(conn) == [(1, "0001_base"), (2, "0002_second"), (3, "0003_third")]
        assert [r["n"] for r in await conn.fetch("SELECT n FROM steps")] == [2, 3]
        checksums = await conn.fetch("SELECT checksum, applied_at FROM schema_migrations")
        assert all(len(r["checksum"]) == 64 and r["applied_at"] is not None for r in checksums)

        assert await apply_migrations(conn, directory=migrations_dir) == []  # re-run: no-op
        _write(migrations_dir, "0004_fourth.sql", "INSERT INTO steps VALUES (4);")
        assert await apply_migrations(conn, directory=migrations_dir) == ["0004_fourth"]
        assert await conn.fetchval("SELECT count(*) FROM steps") == 3
        # The advisory lock was released: another session can take it at once.
        assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())") == 0
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing(empty_database, migrations_dir: Path) -> None:
    _write(migrations_dir, "0002_broken.sql", "CREATE TABLE half (x int); SELECT no_such_column;")
    conn = await connect(await empty_database())
    try:
        with pytest.raises(asyncpg.UndefinedColumnError):
            await apply_migrations(conn, directory=migrations_dir)
        assert await _recorded(conn) == [(1, "0001_base")]
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        # Fixed, it applies on the next run.
        _write(migrations_dir, "0002_broken.sql", "CREATE TABLE half (x int);")
        assert await apply_migrations(conn, directory=migrations_dir) == ["0002_broken"]
    finally:
        await conn.close()


async def test_concurrent_runs_apply_each_migration_once(empty_database, migrations_dir: Path) -> None:
    # The sleep keeps the first run inside its lock while the others arrive.
    _write(migrations_dir, "0002_slow.sql", "SELECT pg_sleep(0.3); CREATE TABLE slow (x int);")
    dsn = await empty_database()
    pools = [await create_pool(dsn, min_size=1, max_size=1) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(apply_migrations(pool, directory=migrations_dir) for pool in pools)
        )
        applied = [name for result in results for name in result]
        assert sorted(applied) == ["0001_base", "0002_slow"]
        assert sum(1 for result in results if result) == 1  # one run did all the work
        async with pools[0].acquire() as conn:
            assert await _recorded(conn) == [(1, "0001_base"), (2, "0002_slow")]
    finally:
        for pool in pools:
            await pool.close()


async def test_changed_checksum_is_refused(empty_database, migrations_dir: Path) -> None:
    conn = await connect(await empty_database())
    try:
        await apply_migrations(conn, directory=migrations_dir)
        _write(migrations_dir, "0002_new.sql", "CREATE TABLE new_table (x int);")
        edited = migrations_dir / "0001_base.sql"
        edited.write_text(edited.read_text() + "\n-- an innocent-looking edit\n")
        with pytest.raises(MigrationError, match=r"0001_base\.sql changed after it was applied"):
            await apply_migrations(conn, directory=migrations_dir)
        # Refused before doing anything.
        assert await conn.fetchval("SELECT to_regclass('new_table')") is None
    finally:
        await conn.close()


async def test_history_the_files_do_not_match_is_refused(empty_database, migrations_dir: Path) -> None:
    _write(migrations_dir, "0002_gone.sql", "SELECT 1;")
    _write(migrations_dir, "0003_later.sql", "SELECT 1;")
    conn = await connect(await empty_database())
    try:
        await apply_migrations(conn, directory=migrations_dir)

        (migrations_dir / "0003_later.sql").rename(migrations_dir / "0003_renamed.sql")
        with pytest.raises(MigrationError, match="was applied as 0003_later"):
            await apply_migrations(conn, directory=migrations_dir)

        (migrations_dir / "0003_renamed.sql").unlink()
        with pytest.raises(MigrationError, match="older than the database"):
            await apply_migrations(conn, directory=migrations_dir)
    finally:
        await conn.close()


async def test_out_of_order_migration_is_refused(empty_database, migrations_dir: Path) -> None:
    _write(migrations_dir, "0003_later.sql", "SELECT 1;")
    conn = await connect(await empty_database())
    try:
        await apply_migrations(conn, directory=migrations_dir)
        _write(migrations_dir, "0002_forgotten.sql", "SELECT 1;")
        with pytest.raises(MigrationError, match="give it a number after 0003"):
            await apply_migrations(conn, directory=migrations_dir)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"1_short.sql": ""}, "not named NNNN_name.sql"),
        ({"0002_Upper.sql": ""}, "not named NNNN_name.sql"),
        ({"0002_a.sql": "", "0002_b.sql": ""}, "share a number"),
    ],
)
def test_bad_file_names_are_refused(migrations_dir: Path, files: dict[str, str], message: str) -> None:
    for name, sql in files.items():
        _write(migrations_dir, name, sql)
    with pytest.raises(MigrationError, match=message):
        load_migrations(migrations_dir)


def test_other_files_are_ignored(migrations_dir: Path) -> None:
    _write(migrations_dir, "README.md", "notes")
    assert [m.name for m in load_migrations(migrations_dir)] == ["0001_base"]
