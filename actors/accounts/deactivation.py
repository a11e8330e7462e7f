"""Account deactivation (spec: POST /account/deactivate): the account's side of it.

The account is marked deactivated and its password hash dropped, so nothing
can ever authenticate as it again; its devices, tokens and UIA sessions go in
the same transaction. Leaving the user's rooms is the room server's work,
asked for afterwards.
"""

from __future__ import annotations

import asyncpg

from actors.accounts.devices import delete_all_devices


async def deactivate_account(conn: asyncpg.Connection, user_id: str) -> list[bytes]:
    """Deactivate the user (inside the caller's transaction); the access-token digests deleted."""
    await conn.execute(
        "UPDATE users SET deactivated = true, password_hash = NULL WHERE user_id = $1", user_id
    )
    revoked = await delete_all_devices(conn, user_id)
    await conn.execute("DELETE FROM uia_sessions WHERE user_id = $1", user_id)
    return revoked


async def rooms_to_leave(pool: asyncpg.Pool, user_id: str) -> list[str]:
    """The rooms the user is joined to, invited to or knocking on."""
    rows = await pool.fetch(
        "SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = $1"
        " AND membership IN ('join', 'invite', 'knock')",
        user_id,
    )
    return [r["room_id"] for r in rows]
