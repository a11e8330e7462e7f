"""The `filters` table (owned by sync): filters uploaded by clients, per user.

Uploading the same definition twice returns the same ID, so a retried
upload creates nothing new. IDs are small decimal numbers per user (never
starting with `{`, which marks an inline filter).
"""

from __future__ import annotations

from typing import Any

import asyncpg

_ATTEMPTS = 5


async def create_filter(pool: asyncpg.Pool, user_id: str, definition: dict[str, Any]) -> str:
    for _ in range(_ATTEMPTS):
        async with pool.acquire() as conn:
            existing = await conn.fetchval(
                "SELECT filter_id FROM filters WHERE user_id = $1 AND definition = $2::jsonb"
                " ORDER BY filter_id LIMIT 1",
                user_id, definition,
            )
            if existing is not None:
                return str(existing)
            try:
                new_id = await conn.fetchval(
                    "INSERT INTO filters (user_id, filter_id, definition)"
                    " SELECT $1, coalesce(max(filter_id), -1) + 1, $2::jsonb"
                    " FROM filters WHERE user_id = $1 RETURNING filter_id",
                    user_id, definition,
                )
            except asyncpg.UniqueViolationError:
                # Another upload for this user took the same ID: take the next one.
                continue
            return str(new_id)
    raise RuntimeError("could not allocate a filter ID")


async def get_filter(pool: asyncpg.Pool, user_id: str, filter_id: str) -> dict[str, Any] | None:
    if not filter_id.isascii() or not filter_id.isdigit() or len(filter_id) > 18:
        return None
    async with pool.acquire() as conn:
        return await conn.fetchval(
            "SELECT definition FROM filters WHERE user_id = $1 AND filter_id = $2",
            user_id, int(filter_id),
        )
