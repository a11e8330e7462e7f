"""Room aliases and the published room directory (tables owned by the room server)."""

from __future__ import annotations

from typing import Any

import asyncpg

from actors.context import now_ms
from actors.room_server.membership import user_level
from actors.room_server.room_state import RoomState
from protocol import power_levels as pl
from protocol.errors import MatrixError, forbidden, invalid_param
from protocol.events import POWER_LEVELS
from protocol.identifiers import is_valid_room_alias, server_name_of


def check_alias_is_ours(alias: str, server_name: str) -> None:
    if not is_valid_room_alias(alias):
        raise invalid_param("Invalid room alias")
    if server_name_of(alias) != server_name:
        raise invalid_param("Room aliases may only be created on their own server")


async def lookup(pool: asyncpg.Pool, alias: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT room_id, creator FROM room_aliases WHERE alias = $1", alias)


def alias_in_use() -> MatrixError:
    """createRoom's answer for a taken room_alias_name."""
    return MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken")


async def check_alias_free(pool: asyncpg.Pool, alias: str) -> None:
    if not is_valid_room_alias(alias):
        raise invalid_param("Invalid room alias")
    if await lookup(pool, alias) is not None:
        raise alias_in_use()


async def insert_alias(
    db: asyncpg.Pool | asyncpg.Connection, alias: str, room_id: str, creator: str,
    *, taken: MatrixError | None = None,
) -> None:
    """Add `alias`; `taken` (default: 409, as PUT /directory/room says) if it exists."""
    done = await db.fetchval(
        "INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        alias, room_id, creator, now_ms(),
    )
    if not done:
        raise taken or MatrixError(409, "M_UNKNOWN", "Room alias already exists")


async def remove_alias(pool: asyncpg.Pool, alias: str) -> None:
    await pool.execute("DELETE FROM room_aliases WHERE alias = $1", alias)


async def set_visibility(
    db: asyncpg.Pool | asyncpg.Connection, room_id: str, visibility: str
) -> None:
    await db.execute(
        "INSERT INTO room_directory (room_id, visibility) VALUES ($1, $2)"
        " ON CONFLICT (room_id) DO UPDATE SET visibility = EXCLUDED.visibility",
        room_id, visibility,
    )


def check_may_manage(room: RoomState, user_id: str) -> None:
    """Room moderators (who may set the canonical alias) manage aliases and publication."""
    if room.membership(user_id) != "join":
        raise forbidden("You are not in the room")
    pl_event = room.state_event(POWER_LEVELS)
    needed = pl.required_power_level_for_event(
        "m.room.canonical_alias", True, pl_event.content if pl_event else None, room.version
    )
    if user_level(room, user_id) < needed:
        raise forbidden("You do not have permission to manage this room's aliases")


async def check_canonical_alias(pool: asyncpg.Pool, room_id: str, content: dict[str, Any]) -> None:
    """m.room.canonical_alias may only name aliases that point to this room (M_BAD_ALIAS)."""
    names = []
    if content.get("alias") is not None:
        names.append(content["alias"])
    alt = content.get("alt_aliases", [])
    if not isinstance(alt, list):
        raise MatrixError(400, "M_INVALID_PARAM", "alt_aliases must be a list")
    names += alt
    for name in names:
        if not isinstance(name, str) or not is_valid_room_alias(name):
            raise MatrixError(400, "M_INVALID_PARAM", f"Invalid alias {name!r}")
        row = await lookup(pool, name)
        if row is None or row["room_id"] != room_id:
            raise MatrixError(400, "M_BAD_ALIAS", f"{name} does not point to this room")
