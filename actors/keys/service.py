"""The keys component: end-to-end encryption keys, cross-signing and key backups.

Sharded by user ID like accounts, but its own pool: key traffic (uploads,
queries, claims from every sender of an encrypted message) stays off the
shards that authenticate every request. Requests run on the requester's
shard; everything is in PostgreSQL, nothing is cached, so any shard could
serve any request and a restarted actor has nothing to rebuild.

Devices belong to accounts: when it deletes some, it calls
`on_devices_deleted`, and the keys of devices that no longer exist are
removed. Reads join `devices`, so keys of a deleted device are never served
even before that; `recover` sweeps up after a notice that was lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from actors.accounts.requests import optional, required, storable
from actors.context import Context, now_ms
from actors.keys import (
    cross_signing,
    device_keys,
    device_lists,
    key_backup,
    key_query,
    one_time_keys,
    remote_keys,
    signature_upload,
    user_devices,
)
from actors.keys.cross_signing import CrossSigningKey, Signature
from actors.keys.device_lists import DeviceListChanges
from actors.keys.one_time_keys import UploadedKey
from actors.keys.signature_upload import SignatureFailure, SignerKeys
from federation.client import FederationClient
from protocol.e2e_keys import (
    CROSS_SIGNING_USAGES,
    MASTER,
    KeyFormatError,
    check_cross_signing_key,
    check_device_keys,
    check_one_time_key,
    check_signature,
    device_ed25519,
    signed_part,
)
from protocol.errors import (
    MatrixError,
    bad_json,
    forbidden,
    invalid_param,
    missing_param,
    not_found,
    unknown_token,
)
from protocol.identifiers import is_valid_user_id, server_name_of
from protocol.signing import SignatureError

T = TypeVar("T")

# Signatures on other servers' users' keys go to their servers, which this one does not do yet.
FEDERATION_FAILURE = {"status": 503, "message": "Federation is not available on this server yet"}


def _format_error(e: KeyFormatError) -> MatrixError:
    return bad_json(str(e)) if e.bad_json else invalid_param(str(e))


def _user_map(body: dict[str, Any], field: str, value_kind: type) -> dict[str, Any]:
    """A required `{user ID: value}` object whose values must be of `value_kind`."""
    value = required(body, field, dict)
    for user, entry in value.items():
        if not isinstance(entry, value_kind):
            raise bad_json(f"{field}[{user!r}] has the wrong type")
        if not is_valid_user_id(user):
            raise invalid_param(f"{field}: {user!r} is not a user ID")
    if not storable(value):
        raise bad_json(f"{field} must not contain NUL characters")
    return value


class KeysService:
    def __init__(self, ctx: Context, shard: int) -> None:
        self.ctx = ctx
        self.shard = shard
        # Made on first use (tests put a fake here).
        self.federation: Any = None

    def _federation(self) -> Any:
        if self.federation is None:
            self.federation = FederationClient(self.ctx.config)
        return self.federation

    @property
    def pool(self) -> asyncpg.Pool:
        return self.ctx.pool

    def _is_local(self, user_id: str) -> bool:
        return server_name_of(user_id) == self.ctx.server_name

    async def recover(self) -> None:
        """Remove keys of devices deleted while this component missed the notice."""
        async with self.pool.acquire() as conn:
            users = await device_keys.users_with_orphans(conn)
        router = self.ctx.router
        for user_id in users:
            if router.shard_for("keys", user_id) == self.shard:
                await self.on_devices_deleted(user_id)

    async def _commit_changes(
        self, changes: DeviceListChanges, write: Callable[[asyncpg.Connection], Awaitable[T]]
    ) -> T:
        """Run `write(conn)` in a transaction that also records `changes`; then wake syncs.

        `write` may add to `changes`. Shielded: a client hanging up must not
        leave a committed change without its wake-ups.
        """

        async def run() -> T:
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    result = await write(conn)
                    pos = await device_lists.record(conn, changes) if changes else None
                if pos is not None:
                    device_lists.wake(self.ctx.router, pos, await device_lists.audience(conn, changes))
            return result

        return await asyncio.shield(run())

    # --- other servers' users (called by the federation sender) -------------------

    async def remote_device_list_changed(self, user_id: str) -> None:
        """A remote user's devices or cross-signing keys changed (an EDU from their server).

        Their keys are queried live from their server, so only the change is
        recorded: local users sharing a room see the user in `device_lists.changed`.
        """
        changes = DeviceListChanges(users={user_id})

        async def write(conn: asyncpg.Connection) -> None:
            return None

        await self._commit_changes(changes, write)

    # --- device deletion (called by accounts) ------------------------------------

    async def on_devices_deleted(self, user_id: str) -> None:
        """Accounts deleted some of the user's devices: drop their keys and announce it."""
        changes = DeviceListChanges()

        async def write(conn: asyncpg.Connection) -> None:
            if await device_keys.delete_orphans(conn, user_id):
                changes.users.add(user_id)

        await self._commit_changes(changes, write)

    # --- POST /keys/upload -----------------------------------------------------------

    async def upload_keys(self, user_id: str, device_id: str, body: dict[str, Any]) -> dict[str, Any]:
        new_device_keys = optional(body, "device_keys", dict)
        one_time = optional(body, "one_time_keys", dict) or {}
        fallback = optional(body, "fallback_keys", dict) or {}
        changes = DeviceListChanges()

        async def write(conn: asyncpg.Connection) -> dict[str, int]:
            if not await device_keys.lock_device(conn, user_id, device_id):
                # The device (and so the access token) was deleted meanwhile.
                raise unknown_token()
            try:
                if new_device_keys is not None:
                    ed25519 = check_device_keys(new_device_keys, user_id, device_id)
                else:
                    stored = await device_keys.load(conn, user_id, device_id)
                    ed25519 = None if stored is None else device_ed25519(stored)
                otks = self._parse_keys(one_time, user_id, device_id, ed25519)
                fallbacks = self._parse_keys(fallback, user_id, device_id, ed25519)
            except KeyFormatError as e:
                raise _format_error(e) from None
            except SignatureError as e:
                raise invalid_param(f"Bad signature: {e}") from None
            if len({k.algorithm for k in fallbacks}) != len(fallbacks):
                raise invalid_param("At most one fallback key per algorithm")
            if new_device_keys is not None and await device_keys.store(
                conn, user_id, device_id, new_device_keys, now_ms()
            ):
                changes.users.add(user_id)
            await one_time_keys.store_one_time_keys(conn, user_id, device_id, otks)
            await one_time_keys.store_fallback_keys(conn, user_id, device_id, fallbacks)
            return await one_time_keys.counts(conn, user_id, device_id)

        return {"one_time_key_counts": await self._commit_changes(changes, write)}

    @staticmethod
    def _parse_keys(
        keys: dict[str, Any], user_id: str, device_id: str, ed25519: str | None
    ) -> list[UploadedKey]:
        out = []
        for full_id, value in keys.items():
            if not storable(full_id) or not storable(value):
                raise KeyFormatError(f"{full_id!r} must not contain NUL characters", bad_json=True)
            algorithm, key_id = check_one_time_key(full_id, value, user_id, device_id, ed25519)
            out.append(UploadedKey(algorithm, key_id, value))
        return out

    # --- POST /keys/query --------------------------------------------------------------

    async def query_keys(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        wanted = _user_map(body, "device_keys", list)
        timeout = remote_keys.timeout_s(body)
        for devices in wanted.values():
            if not all(isinstance(d, str) for d in devices):
                raise bad_json("device_keys values must be arrays of device IDs")
        local = {u: d for u, d in wanted.items() if self._is_local(u)}
        remote = remote_keys.by_server({u: d for u, d in wanted.items() if u not in local})

        async def read_local() -> dict[str, dict[str, Any]]:
            async with self.pool.acquire() as conn, conn.transaction(
                isolation="repeatable_read", readonly=True
            ):
                return await key_query.local_keys(conn, user_id, local)

        if not remote:
            return {**await read_local(), "failures": {}}
        result, (found, failures) = await asyncio.gather(
            read_local(), remote_keys.query(self._federation(), remote, timeout)
        )
        for section, entries in found.items():
            result[section].update(entries)
        return {**result, "failures": failures}

    async def federation_query_keys(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /_matrix/federation/v1/user/keys/query: keys of this server's users."""
        wanted = _user_map(body, "device_keys", list)
        for devices in wanted.values():
            if not all(isinstance(d, str) for d in devices):
                raise bad_json("device_keys values must be arrays of device IDs")
        # Other servers' users are theirs to answer for: left out.
        local = {u: d for u, d in wanted.items() if self._is_local(u)}
        async with self.pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True
        ):
            # No viewer: another server sees only the signatures everyone may see.
            result = await key_query.local_keys(conn, "", local)
        del result["user_signing_keys"]
        return result

    async def federation_user_devices(self, user_id: str) -> dict[str, Any]:
        """GET /_matrix/federation/v1/user/devices/{userId}."""
        if not is_valid_user_id(user_id):
            raise invalid_param("Invalid user ID")
        if not self._is_local(user_id):
            raise not_found("The user is not on this server")
        async with self.pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True
        ):
            out = await user_devices.user_devices(conn, user_id)
        if out is None:
            raise not_found("Unknown user")
        return out

    # --- POST /keys/claim ----------------------------------------------------------------

    def _parse_claims(self, body: dict[str, Any]) -> dict[str, dict[str, str]]:
        wanted = _user_map(body, "one_time_keys", dict)
        for devices in wanted.values():
            if not all(isinstance(a, str) for a in devices.values()):
                raise bad_json("one_time_keys values must map device IDs to algorithms")
        return wanted

    async def _claim_local(self, wanted: dict[str, dict[str, str]]) -> dict[str, Any]:
        claims = [
            (user, device, algorithm)
            for user, devices in wanted.items() if self._is_local(user)
            for device, algorithm in devices.items()
        ]

        async def claim_all() -> dict[str, Any]:
            claimed: dict[str, Any] = {}
            async with self.pool.acquire() as conn:
                for user, device, algorithm in claims:
                    key = await one_time_keys.claim(conn, user, device, algorithm)
                    if key is not None:
                        claimed.setdefault(user, {})[device] = {key[0]: key[1]}
            return claimed

        # Shielded: a claimed key is gone, so the claim must finish and be answered.
        return await asyncio.shield(claim_all())

    async def claim_keys(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        wanted = self._parse_claims(body)
        timeout = remote_keys.timeout_s(body)
        remote = remote_keys.by_server({u: d for u, d in wanted.items() if not self._is_local(u)})
        failures: dict[str, Any] = {}
        if remote:
            local, (claimed, failures) = await asyncio.gather(
                self._claim_local(wanted),
                remote_keys.claim(self._federation(), remote, timeout),
            )
            local.update(claimed)
        else:
            local = await self._claim_local(wanted)
        return {"one_time_keys": local, "failures": failures}

    async def federation_claim_keys(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /_matrix/federation/v1/user/keys/claim: only this server's users' keys."""
        return {"one_time_keys": await self._claim_local(self._parse_claims(body))}

    # --- POST /keys/device_signing/upload -----------------------------------------------

    async def upload_device_signing(
        self, user_id: str, device_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        uploaded: list[CrossSigningKey] = []
        for usage in CROSS_SIGNING_USAGES:
            obj = body.get(f"{usage}_key")
            if obj is None:
                continue
            if not storable(obj):
                raise bad_json(f"{usage}_key must not contain NUL characters")
            try:
                public_key = check_cross_signing_key(obj, user_id, usage)
            except KeyFormatError as e:
                raise _format_error(e) from None
            uploaded.append(CrossSigningKey(usage, public_key, signed_part(obj) | {
                "signatures": obj.get("signatures") or {}}))
        async with self.pool.acquire() as conn:
            stored = await cross_signing.load(conn, user_id)
            devices = await device_keys.device_ids(conn, user_id)
        self._check_cross_signing(user_id, uploaded, stored, devices)
        if all(
            k.usage in stored and stored[k.usage].key_json == k.key_json for k in uploaded
        ):
            # Nothing new (a retry, or no keys at all): no authentication needed.
            return {}
        if MASTER in stored:
            # Replacing keys needs the password (spec: UIA unless there is no master key yet).
            await self.ctx.router.call(
                "accounts", user_id, "require_password_auth", user_id,
                "keys_device_signing_upload", body.get("auth"),
            )
        changes = DeviceListChanges(users={user_id})

        async def write(conn: asyncpg.Connection) -> None:
            await cross_signing.store(conn, user_id, uploaded, now_ms())

        await self._commit_changes(changes, write)
        return {}

    @staticmethod
    def _check_cross_signing(
        user_id: str, uploaded: list[CrossSigningKey], stored: dict[str, CrossSigningKey],
        devices: set[str],
    ) -> None:
        by_usage = {k.usage: k for k in uploaded}
        master = by_usage.get(MASTER) or stored.get(MASTER)
        for key in uploaded:
            if key.public_key in devices:
                raise forbidden("Key ID in use: a device has this ID")
            if key.usage == MASTER:
                continue
            if master is None:
                raise missing_param("No master signing key is available")
            try:
                check_signature(key.key_json, user_id, master.key_id, master.public_key)
            except SignatureError as e:
                raise MatrixError(400, "M_INVALID_SIGNATURE", f"Invalid signature: {e}") from None

    # --- POST /keys/signatures/upload ----------------------------------------------------

    async def upload_signatures(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        for target, entries in body.items():
            if not isinstance(entries, dict):
                raise bad_json(f"{target!r} must map key IDs to signed objects")
            if not is_valid_user_id(target):
                raise invalid_param(f"{target!r} is not a user ID")
        if not storable(body):
            raise bad_json("Strings must not contain NUL characters")
        async with self.pool.acquire() as conn:
            signer = SignerKeys(
                user_id, await cross_signing.load(conn, user_id),
                await device_keys.with_keys(conn, user_id),
            )
            others = [t for t in body if t != user_id and self._is_local(t)]
            masters = await cross_signing.for_users(conn, others)
        failures: dict[str, dict[str, Any]] = {}
        to_store: list[Signature] = []
        changes = DeviceListChanges()
        for target, entries in body.items():
            for key_id, obj in entries.items():
                try:
                    if target == user_id:
                        sigs = signature_upload.own_key_signatures(signer, key_id, obj)
                        if sigs:
                            changes.users.add(user_id)
                    elif self._is_local(target):
                        master = masters.get(target, {}).get(MASTER)
                        sigs = signature_upload.other_user_signatures(
                            signer, target, master, key_id, obj
                        )
                        if sigs:
                            changes.private.add((target, user_id))
                    else:
                        raise SignatureFailure("M_UNRECOGNIZED", FEDERATION_FAILURE["message"])
                except SignatureFailure as f:
                    failures.setdefault(target, {})[key_id] = f.body()
                    continue
                to_store += sigs
        if to_store:

            async def write(conn: asyncpg.Connection) -> None:
                await cross_signing.store_signatures(conn, to_store)

            await self._commit_changes(changes, write)
        return {"failures": failures}

    # --- key backups -------------------------------------------------------------------

    async def create_backup_version(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        algorithm = required(body, "algorithm", str)
        auth_data = required(body, "auth_data", dict)
        key_backup.check_auth_data(algorithm, auth_data)
        version = await asyncio.shield(
            key_backup.create_version(self.pool, user_id, algorithm, auth_data)
        )
        return {"version": str(version)}

    async def backup_version(self, user_id: str, version: str | None) -> dict[str, Any]:
        return await key_backup.version_info(self.pool, user_id, version)

    async def update_backup_version(
        self, user_id: str, version: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        algorithm = required(body, "algorithm", str)
        auth_data = required(body, "auth_data", dict)
        in_body = optional(body, "version", str)
        if in_body is not None and in_body != version:
            raise invalid_param("The version in the body does not match the path")
        key_backup.check_auth_data(algorithm, auth_data)
        await key_backup.update_version(self.pool, user_id, version, algorithm, auth_data)
        return {}

    async def delete_backup_version(self, user_id: str, version: str) -> dict[str, Any]:
        await asyncio.shield(key_backup.delete_version(self.pool, user_id, version))
        return {}

    async def put_room_keys(
        self, user_id: str, version: str, body: dict[str, Any],
        room_id: str | None = None, session_id: str | None = None,
    ) -> dict[str, Any]:
        if room_id is None:
            keys = key_backup.parse_rooms(body)
        elif session_id is None:
            keys = key_backup.parse_sessions(room_id, body)
        else:
            keys = [key_backup.parse_session_key(room_id, session_id, body)]
        return await asyncio.shield(key_backup.put_keys(self.pool, user_id, version, keys))

    async def get_room_keys(
        self, user_id: str, version: str, room_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        return await key_backup.get_keys(self.pool, user_id, version, room_id, session_id)

    async def delete_room_keys(
        self, user_id: str, version: str, room_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        return await asyncio.shield(
            key_backup.delete_keys(self.pool, user_id, version, room_id, session_id)
        )
