"""Password hashing with scrypt, off the event loop, compared in constant time.

A stored hash reads `scrypt$<n>$<r>$<p>$<salt>$<key>` (salt and key in
unpadded base64url), so the cost parameters can rise later without breaking
hashes made before.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
# RFC 7914's interactive-login cost: about 16 MiB and tens of milliseconds.
COST_N = 2**14
BLOCK_R = 8
PARALLEL_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
# hashlib.scrypt refuses to use more memory than this (its default is 32 MiB).
MAX_MEMORY = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY, dklen=length
    )


def _hash_sync(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, COST_N, BLOCK_R, PARALLEL_P, KEY_BYTES)
    return f"{SCHEME}${COST_N}${BLOCK_R}${PARALLEL_P}${_b64(salt)}${_b64(key)}"


def _verify_sync(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = _unb64(key)
        actual = _derive(password, _unb64(salt), int(n), int(r), int(p), len(expected))
    except ValueError:
        # A malformed stored hash matches no password.
        return False
    return hmac.compare_digest(actual, expected)


async def hash_password(password: str) -> str:
    """The storable hash of `password` (computed in a worker thread)."""
    return await asyncio.to_thread(_hash_sync, password)


async def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored`; an account without a password matches nothing."""
    if stored is None:
        return False
    return await asyncio.to_thread(_verify_sync, password, stored)
