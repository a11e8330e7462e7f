"""The admin's shared-secret registration, compatible with Synapse's `register_new_matrix_user`.

The client fetches a nonce, then posts the account with
`mac = HMAC-SHA1(shared_secret, nonce NUL username NUL password NUL admin|notadmin)`
in hex. Nonces are stored (any shard may serve the second request), expire
after a minute and are consumed by their first use, right or wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import asyncpg

NONCE_LIFETIME_MS = 60_000


def expected_mac(secret: str, nonce: str, username: str, password: str, admin: bool) -> str:
    message = b"\x00".join([
        nonce.encode("utf-8"), username.encode("utf-8"), password.encode("utf-8"),
        b"admin" if admin else b"notadmin",
    ])
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha1).hexdigest()


def mac_matches(secret: str, mac: str, nonce: str, username: str, password: str, admin: bool) -> bool:
    want = expected_mac(secret, nonce, username, password, admin)
    return hmac.compare_digest(want.encode("ascii"), mac.lower().encode("utf-8"))


async def new_nonce(pool: asyncpg.Pool, now: int) -> str:
    nonce = secrets.token_hex(32)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "DELETE FROM registration_nonces WHERE created_ts <= $1", now - NONCE_LIFETIME_MS
        )
        await conn.execute(
            "INSERT INTO registration_nonces (nonce, created_ts) VALUES ($1, $2)", nonce, now
        )
    return nonce


async def consume_nonce(pool: asyncpg.Pool, nonce: str, now: int) -> bool:
    """Whether `nonce` was issued and unexpired; it can never be used again either way."""
    created = await pool.fetchval(
        "DELETE FROM registration_nonces WHERE nonce = $1 RETURNING created_ts", nonce
    )
    return created is not None and created > now - NONCE_LIFETIME_MS
