"""Schema migrations: numbered SQL files applied once each, in order.

Files live in `storage/migrations/` and are named `NNNN_name.sql` (four
digits, then lower-case words joined by `_`). Each runs in its own
transaction, together with the row that records it in `schema_migrations`,
so a failed migration leaves nothing behind. Consequently a file must not
contain BEGIN/COMMIT or statements that refuse to run in a transaction
(CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE before PostgreSQL 12).

An applied migration is immutable: its file's SHA-256 is recorded, and
`apply_migrations` refuses to run if the file changed since. Change the
schema by adding the next number.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import asyncpg

__all__ = ["Migration", "MigrationError", "apply_migrations", "load_migrations"]

# Key of the session-level advisory lock that serialises migration runs on one
# database (advisory locks are per database). The ASCII bytes of "dendray!".
ADVISORY_LOCK_KEY = int.from_bytes(b"dendray!", "big")
DEFAULT_TIMEOUT = 600.0

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<label>[a-z0-9]+(?:_[a-z0-9]+)*)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """The migration files or the database's migration history are not usable."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file name without `.sql`, e.g. "0001_schema_meta"
    sql: str
    checksum: str  # SHA-256 of the file's bytes, hex


def load_migrations(directory: Path | Traversable | None = None) -> list[Migration]:
    """Read and check the migration files in `directory` (default: the packaged ones), in order."""
    folder = directory if directory is not None else resources.files(__package__) / "migrations"
    migrations: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        data = entry.read_bytes()
        migration = Migration(
            version=int(match["version"]),
            name=entry.name.removesuffix(".sql"),
            sql=data.decode("utf-8"),
            checksum=hashlib.sha256(data).hexdigest(),
        )
        if migration.version in migrations:
            other = migrations[migration.version].name
            raise MigrationError(f"migrations {other} and {migration.name} share a number")
        migrations[migration.version] = migration
    return [migrations[version] for version in sorted(migrations)]


async def apply_migrations(
    target: asyncpg.Pool | asyncpg.Connection,
    *,
    directory: Path | Traversable | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[str]:
    """Apply every migration not yet recorded on `target`'s database; return their names.

    Idempotent, and safe when several processes call it at once: they queue on
    an advisory lock, and the later ones find nothing left to do. `timeout`
    bounds each statement, including the wait for that lock.
    """
    migrations = load_migrations(directory)
    if isinstance(target, asyncpg.Pool):
        async with target.acquire() as conn:
            return await _apply(conn, migrations, timeout)
    return await _apply(target, migrations, timeout)


async def _apply(conn: asyncpg.Connection, migrations: list[Migration], timeout: float) -> list[str]:
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY, timeout=timeout)
    try:
        # Created under the lock: concurrent CREATE TABLE IF NOT EXISTS can still collide.
        await conn.execute(_CREATE_TABLE, timeout=timeout)
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations", timeout=timeout)
        applied = {row["version"]: (row["name"], row["checksum"]) for row in rows}
        pending = _pending(migrations, applied)
        names: list[str] = []
        for migration in pending:
            async with conn.transaction():
                await conn.execute(migration.sql, timeout=timeout)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                    timeout=timeout,
                )
            names.append(migration.name)
        return names
    finally:
        await _unlock(conn)


async def _unlock(conn: asyncpg.Connection) -> None:
    # A plain connection would keep the lock for its whole life. If unlocking
    # fails (e.g. the run was cancelled mid-query) don't mask the real error:
    # a pool's reset on release also unlocks, and a closed session drops it.
    if conn.is_closed():
        return
    try:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        pass


def _pending(migrations: Iterable[Migration], applied: dict[int, tuple[str, str]]) -> list[Migration]:
    """The migrations still to apply, after checking the database's history against the files."""
    by_version = {migration.version: migration for migration in migrations}
    for version, (name, checksum) in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {name} applied, but this code has no such file: "
                "it is older than the database"
            )
        if migration.name != name:
            raise MigrationError(
                f"migration {version:04d} was applied as {name} but its file is now {migration.name}.sql"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {name}.sql changed after it was applied to this database "
                f"(applied sha256 {checksum}, file sha256 {migration.checksum}); applied "
                "migrations are immutable: restore the file and add a new numbered migration"
            )
    pending = [m for m in by_version.values() if m.version not in applied]
    latest = max(applied, default=0)
    for migration in pending:
        if migration.version < latest:
            raise MigrationError(
                f"migration {migration.name} is not applied, but the later migration "
                f"{applied[latest][0]} is: give it a number after {latest:04d}"
            )
    return sorted(pending, key=lambda m: m.version)
