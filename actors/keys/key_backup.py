"""Server-side key backups (spec: "Server-side key backups", the /room_keys endpoints).

A user's backup versions count up from 1 and are never reused; the current
backup is the newest one not deleted. Keys may only be written to the
current backup (`M_WRONG_ROOM_KEYS_VERSION` with `current_version`
otherwise); they are read from and deleted in any existing version. When a
key arrives for a session the backup already holds, the better key stays
(`protocol.e2e_keys.backup_key_rank`). Every change to a version's keys
bumps its `etag`.

Writes lock the version's row (`FOR UPDATE`), so concurrent uploads to one
backup apply one after the other and each sees the other's keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from actors.accounts.requests import storable
from protocol.e2e_keys import backup_key_rank, backup_key_replaces
from protocol.errors import MatrixError, bad_json, invalid_param, missing_param, not_found

MEGOLM_BACKUP_V1 = "m.megolm_backup.v1.curve25519-aes-sha2"
# The largest integer JSON carries exactly (and a bigint column holds).
MAX_COUNT = 2**53 - 1
# A version is created as max + 1; two creations racing for the same number
# retry (the loser's insert fails on the primary key).
CREATE_ATTEMPTS = 5


def unknown_version() -> MatrixError:
    return not_found("Unknown backup version")


def wrong_version(current: int) -> MatrixError:
    return MatrixError(
        403, "M_WRONG_ROOM_KEYS_VERSION", "Wrong backup version", current_version=str(current)
    )


def parse_version(raw: str | None) -> int | None:
    """A version as the client gives it; None when it cannot name any version."""
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


@dataclass(frozen=True)
class SessionKey:
    room_id: str
    session_id: str
    first_message_index: int
    forwarded_count: int
    is_verified: bool
    session_data: dict[str, Any]

    @property
    def rank(self) -> tuple[int, int, int]:
        return backup_key_rank(self.is_verified, self.first_message_index, self.forwarded_count)

    def json(self) -> dict[str, Any]:
        return {
            "first_message_index": self.first_message_index,
            "forwarded_count": self.forwarded_count,
            "is_verified": self.is_verified,
            "session_data": self.session_data,
        }


def _count(data: dict[str, Any], name: str, where: str) -> int:
    value = data.get(name)
    if value is None:
        raise missing_param(f"{where}: missing {name}")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
        raise bad_json(f"{where}: {name} must be an integer from 0 to {MAX_COUNT}")
    return value


def parse_session_key(room_id: str, session_id: str, data: Any) -> SessionKey:
    """One `KeyBackupData` object of a request body."""
    where = f"{room_id}/{session_id}"
    if not isinstance(data, dict):
        raise bad_json(f"{where}: key data must be an object")
    is_verified = data.get("is_verified")
    if is_verified is None:
        raise missing_param(f"{where}: missing is_verified")
    if not isinstance(is_verified, bool):
        raise bad_json(f"{where}: is_verified must be a boolean")
    session_data = data.get("session_data")
    if session_data is None:
        raise missing_param(f"{where}: missing session_data")
    if not isinstance(session_data, dict):
        raise bad_json(f"{where}: session_data must be an object")
    if not storable(session_data) or not storable(room_id) or not storable(session_id):
        raise bad_json(f"{where}: strings must not contain NUL characters")
    return SessionKey(
        room_id, session_id, _count(data, "first_message_index", where),
        _count(data, "forwarded_count", where), is_verified, session_data,
    )


def parse_sessions(room_id: str, body: Any) -> list[SessionKey]:
    """A `RoomKeyBackup` object: `{"sessions": {session ID: key data}}`."""
    if not isinstance(body, dict):
        raise bad_json(f"{room_id}: must be an object")
    sessions = body.get("sessions")
    if sessions is None:
        raise missing_param(f"{room_id}: missing sessions")
    if not isinstance(sessions, dict):
        raise bad_json(f"{room_id}: sessions must be an object")
    return [parse_session_key(room_id, sid, data) for sid, data in sessions.items()]


def parse_rooms(body: dict[str, Any]) -> list[SessionKey]:
    """The body of PUT /room_keys/keys: `{"rooms": {room ID: RoomKeyBackup}}`."""
    rooms = body.get("rooms")
    if rooms is None:
        raise missing_param("Missing parameter: rooms")
    if not isinstance(rooms, dict):
        raise bad_json("rooms must be an object")
    return [key for room_id, room in rooms.items() for key in parse_sessions(room_id, room)]


def check_auth_data(algorithm: str, auth_data: dict[str, Any]) -> None:
    if not storable(algorithm) or not storable(auth_data):
        raise bad_json("Strings must not contain NUL characters")
    if algorithm == MEGOLM_BACKUP_V1 and not isinstance(auth_data.get("public_key"), str):
        raise invalid_param(f"auth_data of {MEGOLM_BACKUP_V1} needs a public_key string")


# --- versions --------------------------------------------------------------------


async def create_version(
    pool: asyncpg.Pool, user_id: str, algorithm: str, auth_data: dict[str, Any]
) -> int:
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return await pool.fetchval(
                "INSERT INTO key_backup_versions (user_id, version, algorithm, auth_data)"
                " SELECT $1, coalesce(max(version), 0) + 1, $2, $3 FROM key_backup_versions"
                " WHERE user_id = $1 RETURNING version",
                user_id, algorithm, auth_data,
            )
        except asyncpg.UniqueViolationError:
            if attempt == CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def _current(conn: Any, user_id: str, *, lock: bool = False) -> Any:
    return await conn.fetchrow(
        "SELECT version, algorithm, auth_data, etag FROM key_backup_versions"
        " WHERE user_id = $1 AND NOT deleted ORDER BY version DESC LIMIT 1"
        + (" FOR UPDATE" if lock else ""),
        user_id,
    )


async def _existing(conn: Any, user_id: str, version: int | None, *, lock: bool = False) -> Any:
    if version is None:
        return None
    return await conn.fetchrow(
        "SELECT version, algorithm, auth_data, etag FROM key_backup_versions"
        " WHERE user_id = $1 AND version = $2 AND NOT deleted" + (" FOR UPDATE" if lock else ""),
        user_id, version,
    )


async def _key_count(conn: Any, user_id: str, version: int) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM key_backup_sessions WHERE user_id = $1 AND version = $2",
        user_id, version,
    )


async def version_info(pool: asyncpg.Pool, user_id: str, raw_version: str | None) -> dict[str, Any]:
    """GET /room_keys/version[/{version}]: the current backup when `raw_version` is None."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        if raw_version is None:
            row = await _current(conn, user_id)
            if row is None:
                raise not_found("No current backup version")
        else:
            row = await _existing(conn, user_id, parse_version(raw_version))
            if row is None:
                raise unknown_version()
        return {
            "algorithm": row["algorithm"],
            "auth_data": row["auth_data"],
            "count": await _key_count(conn, user_id, row["version"]),
            "etag": str(row["etag"]),
            "version": str(row["version"]),
        }


async def update_version(
    pool: asyncpg.Pool, user_id: str, raw_version: str, algorithm: str, auth_data: dict[str, Any]
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await _existing(conn, user_id, parse_version(raw_version), lock=True)
        if row is None:
            raise unknown_version()
        if row["algorithm"] != algorithm:
            raise invalid_param("Algorithm does not match the backup's")
        await conn.execute(
            "UPDATE key_backup_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2",
            user_id, row["version"], auth_data,
        )


async def delete_version(pool: asyncpg.Pool, user_id: str, raw_version: str) -> None:
    """Delete the version and its keys; deleting a deleted version again succeeds."""
    version = parse_version(raw_version)
    if version is None:
        raise unknown_version()
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            "UPDATE key_backup_versions SET deleted = true WHERE user_id = $1 AND version = $2"
            " RETURNING 1",
            user_id, version,
        )
        if found is None:
            raise unknown_version()
        await conn.execute(
            "DELETE FROM key_backup_sessions WHERE user_id = $1 AND version = $2", user_id, version
        )


# --- keys ----------------------------------------------------------------------------


async def put_keys(
    pool: asyncpg.Pool, user_id: str, raw_version: str, keys: list[SessionKey]
) -> dict[str, Any]:
    """Store keys in the current backup, keeping the better key per session."""
    async with pool.acquire() as conn, conn.transaction():
        current = await _current(conn, user_id, lock=True)
        if current is None:
            raise not_found("No current backup version")
        version = current["version"]
        if parse_version(raw_version) != version:
            raise wrong_version(version)
        winners = await _better_keys(conn, user_id, version, keys)
        etag = current["etag"]
        if winners:
            await conn.executemany(
                "INSERT INTO key_backup_sessions (user_id, version, room_id, session_id,"
                " first_message_index, forwarded_count, is_verified, session_data)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET"
                " first_message_index = $5, forwarded_count = $6, is_verified = $7,"
                " session_data = $8",
                [(user_id, version, k.room_id, k.session_id, k.first_message_index,
                  k.forwarded_count, k.is_verified, k.session_data) for k in winners],
            )
            etag = await _bump_etag(conn, user_id, version)
        return {"etag": str(etag), "count": await _key_count(conn, user_id, version)}


async def _better_keys(
    conn: Any, user_id: str, version: int, keys: list[SessionKey]
) -> list[SessionKey]:
    """The uploaded keys that beat what the backup holds (and each other, within the upload)."""
    best: dict[tuple[str, str], SessionKey] = {}
    for key in keys:
        seen = best.get((key.room_id, key.session_id))
        if seen is None or backup_key_replaces(seen.rank, key.rank):
            best[(key.room_id, key.session_id)] = key
    if not best:
        return []
    rows = await conn.fetch(
        "SELECT room_id, session_id, first_message_index, forwarded_count, is_verified"
        " FROM key_backup_sessions WHERE user_id = $1 AND version = $2"
        " AND (room_id, session_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))",
        user_id, version, [r for r, _ in best], [s for _, s in best],
    )
    held = {
        (r["room_id"], r["session_id"]): backup_key_rank(
            r["is_verified"], r["first_message_index"], r["forwarded_count"]
        )
        for r in rows
    }
    return [
        key for where, key in best.items()
        if where not in held or backup_key_replaces(held[where], key.rank)
    ]


async def _bump_etag(conn: Any, user_id: str, version: int) -> int:
    return await conn.fetchval(
        "UPDATE key_backup_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2"
        " RETURNING etag",
        user_id, version,
    )


def _filter(room_id: str | None, session_id: str | None) -> tuple[str, list[str]]:
    """SQL conditions (from $3 on) selecting one room, one session, or everything."""
    if room_id is None:
        return "", []
    if session_id is None:
        return " AND room_id = $3", [room_id]
    return " AND room_id = $3 AND session_id = $4", [room_id, session_id]


async def get_keys(
    pool: asyncpg.Pool, user_id: str, raw_version: str,
    room_id: str | None = None, session_id: str | None = None,
) -> dict[str, Any]:
    """The keys of a version: all rooms, one room, or one session (the response shape follows)."""
    if not storable([room_id, session_id]):
        raise not_found("Key not found")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        row = await _existing(conn, user_id, parse_version(raw_version))
        if row is None:
            raise unknown_version()
        where, args = _filter(room_id, session_id)
        rows = await conn.fetch(
            "SELECT room_id, session_id, first_message_index, forwarded_count, is_verified,"
            " session_data FROM key_backup_sessions WHERE user_id = $1 AND version = $2" + where
            + " ORDER BY room_id, session_id",
            user_id, row["version"], *args,
        )
    keys = [SessionKey(**dict(r)) for r in rows]
    if session_id is not None:
        if not keys:
            raise not_found("Key not found")
        return keys[0].json()
    rooms = _by_room(keys)
    if room_id is not None:
        return rooms.get(room_id, {"sessions": {}})
    return {"rooms": rooms}


def _by_room(keys: Iterable[SessionKey]) -> dict[str, dict[str, Any]]:
    rooms: dict[str, dict[str, Any]] = {}
    for key in keys:
        rooms.setdefault(key.room_id, {"sessions": {}})["sessions"][key.session_id] = key.json()
    return rooms


async def delete_keys(
    pool: asyncpg.Pool, user_id: str, raw_version: str,
    room_id: str | None = None, session_id: str | None = None,
) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        row = await _existing(conn, user_id, parse_version(raw_version), lock=True)
        if row is None:
            raise unknown_version()
        version, etag = row["version"], row["etag"]
        if storable([room_id, session_id]):
            where, args = _filter(room_id, session_id)
            status = await conn.execute(
                "DELETE FROM key_backup_sessions WHERE user_id = $1 AND version = $2" + where,
                user_id, version, *args,
            )
            if status != "DELETE 0":
                etag = await _bump_etag(conn, user_id, version)
        return {"etag": str(etag), "count": await _key_count(conn, user_id, version)}
