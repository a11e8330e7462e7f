"""One-time and fallback keys (spec: "One-time and fallback keys", /keys/upload, /keys/claim).

A one-time key is handed out at most once: a claim deletes it with
`DELETE … RETURNING` on a row picked `FOR UPDATE SKIP LOCKED`, so concurrent
claims each get a different key (or none) and never wait on each other. When
a device has no one-time key left for the algorithm, the claim returns its
fallback key and marks it used; the fallback key stays until replaced.
Claims and counts ignore the keys of devices that no longer exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.errors import invalid_param

# Rows of a device that still exists.
_DEVICE_EXISTS = (
    "EXISTS (SELECT 1 FROM devices d WHERE d.user_id = k.user_id AND d.device_id = k.device_id)"
)


@dataclass(frozen=True)
class UploadedKey:
    algorithm: str
    key_id: str
    key_json: Any

    @property
    def full_id(self) -> str:
        return f"{self.algorithm}:{self.key_id}"


async def store_one_time_keys(
    conn: Any, user_id: str, device_id: str, keys: list[UploadedKey]
) -> None:
    """Add the keys; one already held under the same ID must be the same key.

    Re-uploading a key is harmless (a client retrying its upload), but a
    different key under an existing ID is an error and the caller's
    transaction is rolled back.
    """
    if not keys:
        return
    stored = await conn.fetch(
        "INSERT INTO one_time_keys (user_id, device_id, algorithm, key_id, key_json)"
        " SELECT $1, $2, a, i, j FROM unnest($3::text[], $4::text[], $5::jsonb[]) AS u(a, i, j)"
        " ON CONFLICT (user_id, device_id, algorithm, key_id) DO NOTHING"
        " RETURNING algorithm, key_id",
        user_id, device_id, [k.algorithm for k in keys], [k.key_id for k in keys],
        [k.key_json for k in keys],
    )
    inserted = {(r["algorithm"], r["key_id"]) for r in stored}
    existing = [k for k in keys if (k.algorithm, k.key_id) not in inserted]
    if not existing:
        return
    rows = await conn.fetch(
        "SELECT algorithm, key_id, key_json FROM one_time_keys"
        " WHERE user_id = $1 AND device_id = $2 AND (algorithm, key_id) IN"
        " (SELECT * FROM unnest($3::text[], $4::text[]))",
        user_id, device_id, [k.algorithm for k in existing], [k.key_id for k in existing],
    )
    held = {(r["algorithm"], r["key_id"]): r["key_json"] for r in rows}
    for key in existing:
        if held.get((key.algorithm, key.key_id)) != key.key_json:
            raise invalid_param(f"One-time key {key.full_id} already exists with another value")


async def store_fallback_keys(
    conn: Any, user_id: str, device_id: str, keys: list[UploadedKey]
) -> None:
    """Replace the device's fallback key of each algorithm.

    Uploading the very key already held keeps its `used` flag, so a retried
    upload does not make a used key look fresh.
    """
    await conn.executemany(
        "INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)"
        " VALUES ($1, $2, $3, $4, $5, false)"
        " ON CONFLICT (user_id, device_id, algorithm) DO UPDATE"
        " SET key_id = $4, key_json = $5, used = fallback_keys.used"
        "   AND fallback_keys.key_id = $4 AND fallback_keys.key_json = $5",
        [(user_id, device_id, k.algorithm, k.key_id, k.key_json) for k in keys],
    )


async def counts(conn: Any, user_id: str, device_id: str) -> dict[str, int]:
    """Unclaimed one-time keys of the device, per algorithm."""
    rows = await conn.fetch(
        "SELECT algorithm, count(*) AS n FROM one_time_keys"
        " WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm",
        user_id, device_id,
    )
    return {r["algorithm"]: r["n"] for r in rows}


async def unused_fallback_algorithms(conn: Any, user_id: str, device_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT algorithm FROM fallback_keys WHERE user_id = $1 AND device_id = $2 AND NOT used"
        " ORDER BY algorithm",
        user_id, device_id,
    )
    return [r["algorithm"] for r in rows]


async def claim(conn: Any, user_id: str, device_id: str, algorithm: str) -> tuple[str, Any] | None:
    """Hand out one key of the device for `algorithm`: (`<algorithm>:<key ID>`, key), or None.

    Each statement commits on its own (autocommit) or with the caller's
    transaction; either way a one-time key returned here is gone for good.
    """
    row = await conn.fetchrow(
        "DELETE FROM one_time_keys WHERE id = ("
        "  SELECT id FROM one_time_keys k"
        f"  WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND {_DEVICE_EXISTS}"
        "   ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING key_id, key_json",
        user_id, device_id, algorithm,
    )
    if row is None:
        row = await conn.fetchrow(
            "UPDATE fallback_keys k SET used = true"
            f" WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND {_DEVICE_EXISTS}"
            " RETURNING key_id, key_json",
            user_id, device_id, algorithm,
        )
    if row is None:
        return None
    return f"{algorithm}:{row['key_id']}", row["key_json"]
