"""Checking an access token (spec: "Client Authentication"), cached per shard.

A valid token is remembered in the shard's TokenCache; expired ones answer
`M_UNKNOWN_TOKEN` with `soft_logout: true` so the client refreshes or logs in
again keeping its state. The first use of an access token that came from a
refresh revokes the refresh token it replaced (spec: "Refreshing access
tokens").
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from actors.accounts.last_seen import LastSeen
from actors.accounts.token_cache import CachedToken, TokenCache
from actors.accounts.tokens import token_digest
from actors.context import now_ms
from protocol.errors import unknown_token


class Authenticator:
    def __init__(
        self, pool: asyncpg.Pool, cache: TokenCache, last_seen: LastSeen,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._pool = pool
        self._cache = cache
        self._last_seen = last_seen
        self._clock = clock

    async def authenticate(self, token: str, ip: str) -> CachedToken:
        digest = token_digest(token)
        entry = self._cache.get(digest)
        if entry is None:
            entry = await self._load(digest)
        if entry.expires_ts is not None and self._clock() >= entry.expires_ts:
            raise unknown_token("Access token has expired", soft_logout=True)
        await self._last_seen.touch(entry.user_id, entry.device_id, ip)
        return entry

    async def _load(self, digest: bytes) -> CachedToken:
        epoch = self._cache.epoch
        row = await self._pool.fetchrow(
            "SELECT t.user_id, t.device_id, t.expires_ts, t.refresh_id, r.prev_id, u.deactivated"
            " FROM access_tokens t JOIN users u ON u.user_id = t.user_id"
            " LEFT JOIN refresh_tokens r ON r.id = t.refresh_id"
            " WHERE t.token_hash = $1",
            digest,
        )
        if row is None or row["deactivated"]:
            raise unknown_token()
        if row["prev_id"] is not None:
            await self._revoke_predecessor(row["refresh_id"], row["prev_id"])
        entry = CachedToken(row["user_id"], row["device_id"], row["expires_ts"])
        self._cache.put(digest, entry, epoch)
        return entry

    async def _revoke_predecessor(self, refresh_id: int, prev_id: int) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM refresh_tokens WHERE id = $1", prev_id)
            await conn.execute("UPDATE refresh_tokens SET prev_id = NULL WHERE id = $1", refresh_id)
