"""Access and refresh tokens: their format, their digests, issuing and revoking them.

A token reads `dr_<base64url(user_id), unpadded>_<secret>`: the ingress routes
a request to the owner's accounts shard without a lookup, and the secret is
alphanumeric so the last `_` always ends the user part (base64url itself may
contain `_`). The database keeps only SHA-256 digests, so a leaked table
grants no sessions.

The functions taking a connection run inside the caller's transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import string
from dataclasses import dataclass

import asyncpg

TOKEN_PREFIX = "dr_"
_SECRET_ALPHABET = string.ascii_letters + string.digits
# 43 characters of a 62-letter alphabet: over 256 bits.
_SECRET_LENGTH = 43


def mint_token(user_id: str) -> str:
    encoded = base64.urlsafe_b64encode(user_id.encode("utf-8")).rstrip(b"=").decode("ascii")
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(_SECRET_LENGTH))
    return f"{TOKEN_PREFIX}{encoded}_{secret}"


def user_of_token(token: str) -> str | None:
    """The user a token was issued to, for routing; None when it is not one of ours."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    encoded, sep, secret = token[len(TOKEN_PREFIX):].rpartition("_")
    if not sep or not encoded or not secret:
        return None
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str | None
    expires_in_ms: int | None

    def response(self) -> dict[str, str | int]:
        """The token fields of a /login, /register or /refresh response."""
        out: dict[str, str | int] = {"access_token": self.access_token}
        if self.refresh_token is not None:
            out["refresh_token"] = self.refresh_token
        if self.expires_in_ms is not None:
            out["expires_in_ms"] = self.expires_in_ms
        return out


async def issue_tokens(
    conn: asyncpg.Connection, user_id: str, device_id: str, now: int, *,
    with_refresh: bool, lifetime_ms: int | None, prev_refresh_id: int | None = None,
) -> IssuedTokens:
    """Store a new access token (and refresh token when asked) for the device.

    Access tokens expire only when the client can refresh them: a client that
    cannot would simply be logged out when the lifetime ends.
    """
    refresh_token = None
    refresh_id = None
    if with_refresh:
        refresh_token = mint_token(user_id)
        refresh_id = await conn.fetchval(
            "INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts, prev_id)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            token_digest(refresh_token), user_id, device_id, now, prev_refresh_id,
        )
    expires_in = lifetime_ms if with_refresh else None
    access_token = mint_token(user_id)
    await conn.execute(
        "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, refresh_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        token_digest(access_token), user_id, device_id, now,
        None if expires_in is None else now + expires_in, refresh_id,
    )
    return IssuedTokens(access_token, refresh_token, expires_in)


async def revoke_device_tokens(
    conn: asyncpg.Connection, user_id: str, device_ids: list[str]
) -> list[bytes]:
    """Delete every access and refresh token of these devices; the access-token digests."""
    await conn.execute(
        "DELETE FROM refresh_tokens WHERE user_id = $1 AND device_id = ANY($2::text[])",
        user_id, device_ids,
    )
    rows = await conn.fetch(
        "DELETE FROM access_tokens WHERE user_id = $1 AND device_id = ANY($2::text[])"
        " RETURNING token_hash",
        user_id, device_ids,
    )
    return [r["token_hash"] for r in rows]
