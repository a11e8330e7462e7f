"""GET /_matrix/federation/v1/user/devices/{userId}: a local user's device list for another server.

`stream_id` is the device-list stream position of the user's latest change
everyone may see (0 before any): it grows with every change, which is all
the spec asks of it, and is the position `m.device_list_update` EDUs name.
"""

from __future__ import annotations

from typing import Any

from actors.keys import key_query


async def user_devices(conn: Any, user_id: str) -> dict[str, Any] | None:
    """The answer for a local user, or None for a user this server does not have."""
    if await conn.fetchval("SELECT 1 FROM users WHERE user_id = $1", user_id) is None:
        return None
    stream_id = await conn.fetchval(
        "SELECT coalesce(max(stream_pos), 0) FROM device_list_changes"
        " WHERE user_id = $1 AND visible_to IS NULL",
        user_id,
    )
    # No viewer: another server sees only the signatures everyone may see.
    keys = await key_query.local_keys(conn, "", {user_id: []})
    devices = []
    for device_id, device in keys["device_keys"][user_id].items():
        device = dict(device)
        name = device.pop("unsigned", {}).get("device_display_name")
        entry: dict[str, Any] = {"device_id": device_id, "keys": device}
        if name is not None:
            entry["device_display_name"] = name
        devices.append(entry)
    out: dict[str, Any] = {"user_id": user_id, "stream_id": stream_id, "devices": devices}
    if user_id in keys["master_keys"]:
        out["master_key"] = keys["master_keys"][user_id]
    if user_id in keys["self_signing_keys"]:
        out["self_signing_key"] = keys["self_signing_keys"][user_id]
    return out
