"""User directory search (spec: "User Directory").

The searchable users are the ones the spec requires at a minimum: those
sharing a room with the requester, and those joined to a room whose join
rule is `public` or whose history is `world_readable`. They are matched
case-insensitively on user ID and display name, straight from the room
state, so the directory never lags behind memberships.
"""

from __future__ import annotations

from typing import Any

import asyncpg

DEFAULT_LIMIT = 10
# Bounds the work of one query whatever `limit` a client asks for.
MAX_LIMIT = 100

_SEARCH = """
WITH visible_rooms AS (
    SELECT room_id FROM current_state
     WHERE type = 'm.room.member' AND state_key = $1 AND membership = 'join'
    UNION
    SELECT cs.room_id FROM current_state cs JOIN events e ON e.event_id = cs.event_id
     WHERE cs.type = 'm.room.join_rules' AND cs.state_key = ''
       AND e.pdu->'content'->>'join_rule' = 'public'
    UNION
    SELECT cs.room_id FROM current_state cs JOIN events e ON e.event_id = cs.event_id
     WHERE cs.type = 'm.room.history_visibility' AND cs.state_key = ''
       AND e.pdu->'content'->>'history_visibility' = 'world_readable'
),
members AS (
    -- A redacted membership keeps no display name or avatar.
    SELECT DISTINCT ON (m.state_key) m.state_key AS user_id,
           CASE WHEN e.redacted_by IS NULL THEN e.pdu->'content' END AS content
      FROM current_state m
      JOIN visible_rooms v ON v.room_id = m.room_id
      JOIN events e ON e.event_id = m.event_id
     WHERE m.type = 'm.room.member' AND m.membership = 'join'
     ORDER BY m.state_key
),
candidates AS (
    -- Local users show their global profile; remote users what their
    -- membership event says.
    SELECT m.user_id,
           CASE WHEN u.user_id IS NULL THEN m.content->>'displayname' ELSE p.displayname END
               AS display_name,
           CASE WHEN u.user_id IS NULL THEN m.content->>'avatar_url' ELSE p.avatar_url END
               AS avatar_url
      FROM members m
      LEFT JOIN users u ON u.user_id = m.user_id
      LEFT JOIN profiles p ON p.user_id = m.user_id
     WHERE u.deactivated IS NOT TRUE
)
SELECT user_id, display_name, avatar_url FROM candidates
 WHERE user_id ILIKE $2 ESCAPE '\\' OR display_name ILIKE $2 ESCAPE '\\'
 ORDER BY
    -- Rank: the term starts the localpart or the display name, then anywhere.
    (substr(user_id, 2) ILIKE $3 ESCAPE '\\' OR display_name ILIKE $3 ESCAPE '\\') DESC,
    (display_name IS NOT NULL OR avatar_url IS NOT NULL) DESC,
    user_id
 LIMIT $4
"""


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(pool: asyncpg.Pool, requester: str, term: str, limit: int) -> dict[str, Any]:
    limit = max(0, min(limit, MAX_LIMIT))
    escaped = _escape_like(term)
    rows = await pool.fetch(_SEARCH, requester, f"%{escaped}%", f"{escaped}%", limit + 1)
    results = []
    for row in rows[:limit]:
        user: dict[str, Any] = {"user_id": row["user_id"]}
        if row["display_name"] is not None:
            user["display_name"] = row["display_name"]
        if row["avatar_url"] is not None:
            user["avatar_url"] = row["avatar_url"]
        results.append(user)
    return {"results": results, "limited": len(rows) > limit}
