"""Refresh-token rotation (spec: "Refreshing access tokens").

Refreshing with token R issues a new access token A' and refresh token R'
and invalidates the access tokens R had issued. R itself stays valid until
R' or A' is first used, so a client that lost the response can repeat the
refresh; repeating it supersedes the R' of the lost response.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from actors.accounts.tokens import IssuedTokens, issue_tokens, token_digest
from protocol.errors import unknown_token


@dataclass(frozen=True)
class Refreshed:
    tokens: IssuedTokens
    # Digests of the access tokens the refresh invalidated (to drop from the cache).
    revoked: list[bytes]


async def rotate(
    conn: asyncpg.Connection, refresh_token: str, now: int, lifetime_ms: int | None
) -> Refreshed:
    """Run inside a transaction: the new tokens, or M_UNKNOWN_TOKEN for an unknown or spent one."""
    row = await conn.fetchrow(
        "SELECT id, user_id, device_id, prev_id FROM refresh_tokens WHERE token_hash = $1"
        " FOR UPDATE",
        token_digest(refresh_token),
    )
    if row is None:
        raise unknown_token("Unknown or already used refresh token")
    if row["prev_id"] is not None:
        # This token is the successor being used: its predecessor is spent.
        await conn.execute("DELETE FROM refresh_tokens WHERE id = $1", row["prev_id"])
        await conn.execute("UPDATE refresh_tokens SET prev_id = NULL WHERE id = $1", row["id"])
    superseded = await conn.fetch(
        "DELETE FROM refresh_tokens WHERE prev_id = $1 RETURNING id", row["id"]
    )
    revoked = await conn.fetch(
        "DELETE FROM access_tokens WHERE refresh_id = ANY($1::bigint[]) RETURNING token_hash",
        [row["id"], *(r["id"] for r in superseded)],
    )
    tokens = await issue_tokens(
        conn, row["user_id"], row["device_id"], now,
        with_refresh=True, lifetime_ms=lifetime_ms, prev_refresh_id=row["id"],
    )
    return Refreshed(tokens, [r["token_hash"] for r in revoked])
