"""Device identity keys (spec: "Device keys", POST /keys/upload's `device_keys`).

Stored as uploaded, without `unsigned`; the functions taking a connection
run inside the caller's transaction. Keys of a device that no longer exists
are never read back: every read joins `devices`.
"""

from __future__ import annotations

from typing import Any

from protocol.e2e_keys import signed_part


async def lock_device(conn: Any, user_id: str, device_id: str) -> bool:
    """Hold the device row until the transaction ends; whether the device exists.

    A device deleted meanwhile (its access token with it) waits for this
    transaction, and the keys component removes the keys right after.
    """
    found = await conn.fetchval(
        "SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2 FOR KEY SHARE",
        user_id, device_id,
    )
    return found is not None


async def load(conn: Any, user_id: str, device_id: str) -> dict[str, Any] | None:
    return await conn.fetchval(
        "SELECT k.key_json FROM device_keys k JOIN devices d USING (user_id, device_id)"
        " WHERE k.user_id = $1 AND k.device_id = $2",
        user_id, device_id,
    )


async def store(conn: Any, user_id: str, device_id: str, keys: dict[str, Any], now: int) -> bool:
    """Store the device's keys; whether they differ from what was stored."""
    value = {**signed_part(keys), "signatures": keys["signatures"]}
    changed = await conn.fetchval(
        "INSERT INTO device_keys (user_id, device_id, key_json, updated_ts) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = $3, updated_ts = $4"
        " WHERE device_keys.key_json IS DISTINCT FROM $3 RETURNING 1",
        user_id, device_id, value, now,
    )
    return changed is not None


async def for_users(conn: Any, user_ids: list[str]) -> list[Any]:
    """(user_id, device_id, key_json, display_name) of every device with keys of these users."""
    return await conn.fetch(
        "SELECT k.user_id, k.device_id, k.key_json, d.display_name"
        " FROM device_keys k JOIN devices d USING (user_id, device_id)"
        " WHERE k.user_id = ANY($1::text[]) ORDER BY k.user_id, k.device_id",
        user_ids,
    )


async def with_keys(conn: Any, user_id: str) -> dict[str, dict[str, Any]]:
    """The user's devices that have keys: device ID -> keys."""
    rows = await for_users(conn, [user_id])
    return {r["device_id"]: r["key_json"] for r in rows}


async def device_ids(conn: Any, user_id: str) -> set[str]:
    """Every device of the user, with keys or not."""
    rows = await conn.fetch("SELECT device_id FROM devices WHERE user_id = $1", user_id)
    return {r["device_id"] for r in rows}


async def delete_orphans(conn: Any, user_id: str) -> list[str]:
    """Delete every key of the user's devices that no longer exist; the devices that had keys."""
    gone = "NOT EXISTS (SELECT 1 FROM devices d WHERE d.user_id = t.user_id AND d.device_id = t.device_id)"
    rows = await conn.fetch(
        f"DELETE FROM device_keys t WHERE user_id = $1 AND {gone} RETURNING device_id", user_id
    )
    await conn.execute(f"DELETE FROM one_time_keys t WHERE user_id = $1 AND {gone}", user_id)
    await conn.execute(f"DELETE FROM fallback_keys t WHERE user_id = $1 AND {gone}", user_id)
    removed = [r["device_id"] for r in rows]
    if removed:
        # Signatures on the devices, and those the devices made (on the master key).
        await conn.execute(
            "DELETE FROM key_signatures WHERE target_user = $1 AND target_key = ANY($2::text[])",
            user_id, removed,
        )
        await conn.execute(
            "DELETE FROM key_signatures WHERE signer_user = $1 AND signer_key = ANY($2::text[])",
            user_id, [f"ed25519:{d}" for d in removed],
        )
    return removed


async def users_with_orphans(conn: Any) -> list[str]:
    """Users holding keys of deleted devices (a deletion whose notice was lost)."""
    rows = await conn.fetch(
        "SELECT DISTINCT user_id FROM ("
        "  SELECT user_id, device_id FROM device_keys"
        "  UNION ALL SELECT user_id, device_id FROM one_time_keys"
        "  UNION ALL SELECT user_id, device_id FROM fallback_keys) t"
        " WHERE NOT EXISTS (SELECT 1 FROM devices d"
        "   WHERE d.user_id = t.user_id AND d.device_id = t.device_id)"
    )
    return [r["user_id"] for r in rows]
