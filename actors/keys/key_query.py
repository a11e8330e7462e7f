"""POST /keys/query: the device and cross-signing keys of local users, as a viewer may see them.

Device keys come with `unsigned.device_display_name` and the signatures
their owner's self-signing key made; master keys with the signatures their
owner's devices made and the viewer's own user-signing signature. The
user-signing key is only ever shown to its owner.
"""

from __future__ import annotations

from typing import Any

from actors.keys import cross_signing, device_keys
from protocol.e2e_keys import MASTER, SELF_SIGNING, USER_SIGNING, add_signatures


async def local_keys(
    conn: Any, viewer: str, wanted: dict[str, list[str]]
) -> dict[str, dict[str, Any]]:
    """The response's sections for the local users in `wanted` (user -> device IDs, [] = all)."""
    users = list(wanted)
    out: dict[str, dict[str, Any]] = {
        "device_keys": {user: {} for user in users},
        "master_keys": {},
        "self_signing_keys": {},
        "user_signing_keys": {},
    }
    if not users:
        return out
    signatures = await cross_signing.visible_signatures(conn, viewer, users)
    for row in await device_keys.for_users(conn, users):
        user, device = row["user_id"], row["device_id"]
        if wanted[user] and device not in wanted[user]:
            continue
        keys = add_signatures(row["key_json"], signatures.get((user, device), ()))
        keys["unsigned"] = (
            {} if row["display_name"] is None else {"device_display_name": row["display_name"]}
        )
        out["device_keys"][user][device] = keys
    for user, keys_by_usage in (await cross_signing.for_users(conn, users)).items():
        master = keys_by_usage.get(MASTER)
        if master is not None:
            out["master_keys"][user] = add_signatures(
                master.key_json, signatures.get((user, master.public_key), ())
            )
        if SELF_SIGNING in keys_by_usage:
            out["self_signing_keys"][user] = keys_by_usage[SELF_SIGNING].key_json
        if user == viewer and USER_SIGNING in keys_by_usage:
            out["user_signing_keys"][user] = keys_by_usage[USER_SIGNING].key_json
    return out
