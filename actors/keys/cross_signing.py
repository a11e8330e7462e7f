"""Cross-signing keys and the signatures users upload (spec: "Cross-signing").

Each user has at most one master, self-signing and user-signing key. The
signatures of /keys/signatures/upload are kept apart from the signed
objects and merged into them when served, filtered by who may see them:
the owner's own signatures (self-signing key on devices, devices on the
master key) are public; a signature by a user-signing key is seen only by
the user who made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CrossSigningKey:
    usage: str
    public_key: str
    key_json: dict[str, Any]

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.public_key}"


async def load(conn: Any, user_id: str) -> dict[str, CrossSigningKey]:
    """The user's cross-signing keys by usage."""
    rows = await conn.fetch(
        "SELECT usage, public_key, key_json FROM cross_signing_keys WHERE user_id = $1", user_id
    )
    return {r["usage"]: CrossSigningKey(r["usage"], r["public_key"], r["key_json"]) for r in rows}


async def for_users(conn: Any, user_ids: list[str]) -> dict[str, dict[str, CrossSigningKey]]:
    rows = await conn.fetch(
        "SELECT user_id, usage, public_key, key_json FROM cross_signing_keys"
        " WHERE user_id = ANY($1::text[])",
        user_ids,
    )
    out: dict[str, dict[str, CrossSigningKey]] = {}
    for r in rows:
        out.setdefault(r["user_id"], {})[r["usage"]] = CrossSigningKey(
            r["usage"], r["public_key"], r["key_json"]
        )
    return out


async def store(conn: Any, user_id: str, keys: list[CrossSigningKey], now: int) -> None:
    await conn.executemany(
        "INSERT INTO cross_signing_keys (user_id, usage, public_key, key_json, updated_ts)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, usage) DO UPDATE"
        " SET public_key = $3, key_json = $4, updated_ts = $5",
        [(user_id, k.usage, k.public_key, k.key_json, now) for k in keys],
    )


@dataclass(frozen=True)
class Signature:
    signer_user: str
    signer_key: str
    target_user: str
    target_key: str
    signature: str


async def store_signatures(conn: Any, signatures: list[Signature]) -> None:
    await conn.executemany(
        "INSERT INTO key_signatures (signer_user, signer_key, target_user, target_key, signature)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (target_user, target_key, signer_user, signer_key)"
        " DO UPDATE SET signature = $5",
        [(s.signer_user, s.signer_key, s.target_user, s.target_key, s.signature)
         for s in signatures],
    )


async def visible_signatures(
    conn: Any, viewer: str, target_users: list[str]
) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """Signatures on these users' keys that `viewer` may see.

    Keyed by (target user, target key); values are (signer user, signer key
    ID, signature), ready for `protocol.e2e_keys.add_signatures`.
    """
    rows = await conn.fetch(
        "SELECT signer_user, signer_key, target_user, target_key, signature FROM key_signatures"
        " WHERE target_user = ANY($1::text[]) AND (signer_user = target_user OR signer_user = $2)",
        target_users, viewer,
    )
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for r in rows:
        out.setdefault((r["target_user"], r["target_key"]), []).append(
            (r["signer_user"], r["signer_key"], r["signature"])
        )
    return out
