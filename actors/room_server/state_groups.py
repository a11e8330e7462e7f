"""Writing state groups: the room state before/after each event, as delta chains.

A new group stores only the keys that differ from its parent group. Every
`MAX_CHAIN` levels it stores the whole state instead (no parent), so reading
any group walks at most `MAX_CHAIN` rows of `state_groups`.
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from protocol.events import StateKey

MAX_CHAIN = 50


async def store_state_group(
    conn: asyncpg.Connection,
    room_id: str,
    parent: int | None,
    delta: Mapping[StateKey, str],
    full_state: Mapping[StateKey, str],
) -> int:
    """Store the group `parent` + `delta` (whose whole state is `full_state`)."""
    chain_len = 0
    if parent is not None:
        parent_len = await conn.fetchval("SELECT chain_len FROM state_groups WHERE id = $1", parent)
        chain_len = (parent_len or 0) + 1
    snapshot = parent is None or chain_len >= MAX_CHAIN
    group = await conn.fetchval(
        "INSERT INTO state_groups (room_id, prev_group, chain_len) VALUES ($1, $2, $3) RETURNING id",
        room_id, None if snapshot else parent, 0 if snapshot else chain_len,
    )
    entries = full_state if snapshot else delta
    await conn.executemany(
        "INSERT INTO state_group_entries (state_group, type, state_key, event_id)"
        " VALUES ($1, $2, $3, $4)",
        [(group, t, sk, eid) for (t, sk), eid in entries.items()],
    )
    return group
