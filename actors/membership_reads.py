"""Read-only questions about room membership, answered from the room server's `current_state`.

The ephemeral components (typing, receipts, presence) need to know who is
joined to a room, to check a writer and to find whom a change concerns.
"""

from __future__ import annotations

from typing import Any

MEMBER = "m.room.member"


async def is_joined(conn: Any, room_id: str, user_id: str) -> bool:
    membership = await conn.fetchval(
        "SELECT membership FROM current_state WHERE room_id = $1 AND type = $2 AND state_key = $3",
        room_id, MEMBER, user_id,
    )
    return membership == "join"


async def joined_members(conn: Any, room_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT state_key FROM current_state"
        " WHERE room_id = $1 AND type = $2 AND membership = 'join'",
        room_id, MEMBER,
    )
    return [r["state_key"] for r in rows]


async def users_sharing_a_room(conn: Any, user_id: str) -> list[str]:
    """Everyone joined to a room the user is joined to, the user included."""
    rows = await conn.fetch(
        "SELECT DISTINCT o.state_key AS user_id FROM current_state m"
        " JOIN current_state o ON o.room_id = m.room_id AND o.type = $2"
        " WHERE m.type = $2 AND m.state_key = $1 AND m.membership = 'join'"
        " AND o.membership = 'join'",
        user_id, MEMBER,
    )
    return [r["user_id"] for r in rows] if rows else [user_id]
