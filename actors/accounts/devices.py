"""Devices (spec: "Device management" and "Relationship between access tokens and devices").

A device is what a login creates; deleting one deletes its access and
refresh tokens with it. The functions taking a connection run inside the
caller's transaction.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

import asyncpg

from actors.accounts.tokens import revoke_device_tokens
from protocol.errors import invalid_param

_DEVICE_ID_ALPHABET = string.ascii_uppercase
_DEVICE_ID_LENGTH = 10
# Device IDs name rows and appear in to-device and key APIs: keep them bounded.
MAX_DEVICE_ID_CHARS = 255


def generate_device_id() -> str:
    return "".join(secrets.choice(_DEVICE_ID_ALPHABET) for _ in range(_DEVICE_ID_LENGTH))


def check_device_id(device_id: str) -> str:
    if not device_id or len(device_id) > MAX_DEVICE_ID_CHARS or "\x00" in device_id:
        raise invalid_param(f"device_id must have 1 to {MAX_DEVICE_ID_CHARS} characters")
    return device_id


def device_json(row: asyncpg.Record) -> dict[str, Any]:
    """A device as the spec's `Device` object: absent fields are left out."""
    out: dict[str, Any] = {"device_id": row["device_id"]}
    for key in ("display_name", "last_seen_ip", "last_seen_ts"):
        if row[key] is not None:
            out[key] = row[key]
    return out


async def ensure_device(
    conn: asyncpg.Connection, user_id: str, device_id: str, display_name: str | None, now: int
) -> bool:
    """Create the device unless it exists; whether it already existed.

    An existing device keeps its display name (the spec ignores
    `initial_device_display_name` for known devices).
    """
    created = await conn.fetchval(
        "INSERT INTO devices (user_id, device_id, display_name, created_ts) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (user_id, device_id) DO NOTHING RETURNING 1",
        user_id, device_id, display_name, now,
    )
    return created is None


async def list_devices(pool: asyncpg.Pool, user_id: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT device_id, display_name, last_seen_ip, last_seen_ts FROM devices"
        " WHERE user_id = $1 ORDER BY created_ts, device_id",
        user_id,
    )
    return [device_json(r) for r in rows]


async def get_device(pool: asyncpg.Pool, user_id: str, device_id: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        "SELECT device_id, display_name, last_seen_ip, last_seen_ts FROM devices"
        " WHERE user_id = $1 AND device_id = $2",
        user_id, device_id,
    )
    return None if row is None else device_json(row)


async def rename_device(
    pool: asyncpg.Pool, user_id: str, device_id: str, display_name: str | None
) -> bool:
    """Set the display name (None leaves it unchanged); whether the device exists."""
    status = await pool.execute(
        "UPDATE devices SET display_name = COALESCE($3, display_name)"
        " WHERE user_id = $1 AND device_id = $2",
        user_id, device_id, display_name,
    )
    return status != "UPDATE 0"


async def delete_devices(
    conn: asyncpg.Connection, user_id: str, device_ids: list[str]
) -> list[bytes]:
    """Delete the devices, their tokens and to-device inboxes; the digests of the access tokens deleted."""
    digests = await revoke_device_tokens(conn, user_id, device_ids)
    await conn.execute(
        "DELETE FROM devices WHERE user_id = $1 AND device_id = ANY($2::text[])",
        user_id, device_ids,
    )
    # A device ID used again later must not get the old device's messages.
    await conn.execute(
        "DELETE FROM to_device_inbox WHERE user_id = $1 AND device_id = ANY($2::text[])",
        user_id, device_ids,
    )
    return digests


async def delete_all_devices(
    conn: asyncpg.Connection, user_id: str, keep: str | None = None
) -> list[bytes]:
    """Delete every device of the user but `keep`; the digests of the access tokens deleted."""
    rows = await conn.fetch(
        "SELECT device_id FROM devices WHERE user_id = $1 AND device_id IS DISTINCT FROM $2",
        user_id, keep,
    )
    return await delete_devices(conn, user_id, [r["device_id"] for r in rows])
