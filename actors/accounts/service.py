"""The accounts component: registration, login, tokens, devices, profiles, the user directory.

Requests about a user run on that user's shard, which owns what is kept in
memory about the user: cached access tokens and the user's rate-limit
bucket. Unauthenticated requests (register, login, refresh, shared-secret
registration) arrive on the shard of the client's IP, which applies the
per-IP limit; login and refresh then continue on the user's shard, so the
tokens they replace leave that shard's cache.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from actors.accounts import profiles, user_directory
from actors.accounts.account_data import AccountDataMethods
from actors.accounts.authentication import Authenticator
from actors.accounts.deactivation import deactivate_account, rooms_to_leave
from actors.accounts.devices import (
    check_device_id,
    delete_all_devices,
    delete_devices,
    ensure_device,
    generate_device_id,
    get_device,
    list_devices,
    rename_device,
)
from actors.accounts.last_seen import LastSeen
from actors.accounts.login import (
    PASSWORD,
    claimed_user,
    invalid_credentials,
    password_stage,
    unsupported_login_type,
)
from actors.accounts.passwords import hash_password, verify_password
from actors.accounts.rate_limits import RateLimiter
from actors.accounts.refresh import rotate
from actors.accounts.registration import (
    REGISTRATION_TOKEN,
    create_user,
    generated_localpart,
    guests_unsupported,
    is_registration_token,
    registration_flows,
    user_exists,
    user_id_for,
    user_in_use,
)
from actors.accounts.remote_profiles import RemoteProfiles
from actors.accounts.requests import flag, optional, required
from actors.accounts.shared_secret import consume_nonce, mac_matches, new_nonce
from actors.accounts.to_device import ToDeviceMethods
from actors.accounts.token_cache import TokenCache
from actors.accounts.tokens import (
    IssuedTokens,
    issue_tokens,
    revoke_device_tokens,
    user_of_token,
)
from actors.accounts.uia import UserInteractiveAuth
from actors.context import Context, now_ms
from actors.keyed_lock import KeyedLock
from dendray.config import Config
from federation.client import FederationClient
from protocol.errors import (
    MatrixError,
    bad_json,
    forbidden,
    invalid_param,
    not_found,
    unknown_token,
)
from protocol.identifiers import is_valid_user_id, server_name_of

log = logging.getLogger("dendray.accounts")

T = TypeVar("T")
# A write: given a connection inside a transaction, its result and the digests
# of the access tokens it deleted.
Write = Callable[[asyncpg.Connection], Awaitable[tuple[T, list[bytes]]]]

PASSWORD_FLOWS = [[PASSWORD]]
# A server-chosen localpart has 62 random bits: a second collision in a row
# means something else is wrong.
GENERATED_ID_ATTEMPTS = 3
# Room-server calls made at once when a user's change touches all their rooms.
ROOM_CALL_CONCURRENCY = 16


class AccountsService(AccountDataMethods, ToDeviceMethods):
    def __init__(self, ctx: Context, shard: int) -> None:
        self.ctx = ctx
        self.shard = shard
        self.token_cache = TokenCache()
        self.authenticator = Authenticator(ctx.pool, self.token_cache, LastSeen(ctx.pool))
        self.uia = UserInteractiveAuth(ctx.pool)
        limits = ctx.config.rate_limits
        self.user_limits = RateLimiter(limits.per_second, limits.burst)
        self.ip_limits = RateLimiter(limits.ip_per_second, limits.ip_burst)
        # Checked against when the user is unknown, so that answer takes as
        # long as a wrong password.
        self._decoy_hash: str | None = None
        self._profile_changes = KeyedLock()
        # Made on first use (tests put a fake here): most shards never federate.
        self.federation: Any = None
        self.remote_profiles = RemoteProfiles(self._federation)

    def _federation(self) -> Any:
        if self.federation is None:
            self.federation = FederationClient(self.ctx.config)
        return self.federation

    async def recover(self) -> None:
        """Nothing to rebuild (the caches fill on demand); sweep expired UIA sessions."""
        await self.uia.purge_expired()

    @property
    def config(self) -> Config:
        return self.ctx.config

    @property
    def pool(self) -> asyncpg.Pool:
        return self.ctx.pool

    # --- writes, routing and limits -------------------------------------------

    async def _commit(self, write: Write[T]) -> T:
        """Run `write` in one transaction, then forget the access tokens it deleted.

        Shielded: when a client hangs up, Serve cancels the calls made for it,
        and a revocation must never be committed yet left in the cache.
        """

        async def run() -> T:
            async with self.pool.acquire() as conn, conn.transaction():
                result, revoked = await write(conn)
            self.token_cache.drop(revoked)
            return result

        return await asyncio.shield(run())

    async def _commit_device_deletion(self, user_id: str, write: Write[None]) -> None:
        """`_commit` a write that may delete devices, then tell the keys component.

        Keys drops the deleted devices' keys and announces the device-list
        change. Its reads already ignore keys of missing devices, and it
        sweeps them up when it starts, so a failed notice is only logged.
        """
        await self._commit(write)

        async def tell_keys() -> None:
            try:
                await self.ctx.router.call(
                    "keys", user_id, "on_devices_deleted", user_id, idempotent=True
                )
            except Exception:
                log.warning("keys.on_devices_deleted failed for %s", user_id, exc_info=True)

        await asyncio.shield(tell_keys())

    def _limit_ip(self, ip: str) -> None:
        if self.config.rate_limits.enabled:
            self.ip_limits.check(ip)

    async def _on_user_shard(self, user_id: str, method: str, *args: Any) -> Any:
        router = self.ctx.router
        if router.shard_for("accounts", user_id) == self.shard:
            return await getattr(self, method)(*args)
        return await router.call("accounts", user_id, method, *args)

    async def _call_rooms(self, room_ids: list[str], method: str, *args: Any) -> None:
        """Call the room server for each room; one room failing must not stop the others."""
        limit = asyncio.Semaphore(ROOM_CALL_CONCURRENCY)

        async def one(room_id: str) -> None:
            async with limit:
                try:
                    await self.ctx.router.call(
                        "room_server", room_id, method, room_id, *args, idempotent=False
                    )
                except Exception:
                    log.warning("room_server.%s failed for %s", method, room_id, exc_info=True)

        await asyncio.gather(*(one(room_id) for room_id in room_ids))

    # --- client authentication -------------------------------------------------

    async def authenticate(self, token: str, ip: str, rate_limited: bool) -> dict[str, str]:
        """The user and device of an access token (called by the ingress for every request)."""
        entry = await self.authenticator.authenticate(token, ip)
        if rate_limited and self.config.rate_limits.enabled:
            self.user_limits.check(entry.user_id)
        return {"user_id": entry.user_id, "device_id": entry.device_id}

    # --- registration (on the client IP's shard) ---------------------------------

    async def register(self, ip: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self._limit_ip(ip)
        if kind == "guest":
            raise guests_unsupported()
        if kind != "user":
            raise invalid_param("kind must be 'user' or 'guest'")
        flows = registration_flows(self.config.registration)
        username = optional(body, "username", str)
        password = optional(body, "password", str)
        device_id = optional(body, "device_id", str)
        if device_id is not None:
            check_device_id(device_id)
        device_name = optional(body, "initial_device_display_name", str)
        inhibit_login = flag(body, "inhibit_login")
        with_refresh = flag(body, "refresh_token")
        user_id = None
        # The spec wants these errors before user-interactive authentication.
        if username is not None:
            user_id = user_id_for(username, self.config.server_name)
            if await user_exists(self.pool, user_id):
                raise user_in_use()
        await self.uia.require(
            body.get("auth"), operation="register", user_id=None, flows=flows,
            check=self._registration_stage,
        )
        password_hash = None if password is None else await hash_password(password)
        return await self._create_account(
            user_id, password_hash, login=not inhibit_login, device_id=device_id,
            device_name=device_name, with_refresh=with_refresh,
        )

    async def _registration_stage(self, stage: str, auth: dict[str, Any]) -> None:
        # The flows admit only these two stages, and m.login.dummy always succeeds.
        if stage == REGISTRATION_TOKEN and not is_registration_token(
            self.config.registration, auth.get("token")
        ):
            raise forbidden("Invalid registration token")

    async def _create_account(
        self, user_id: str | None, password_hash: str | None, *, login: bool,
        device_id: str | None = None, device_name: str | None = None,
        with_refresh: bool = False, is_admin: bool = False, displayname: str | None = None,
    ) -> dict[str, Any]:
        """Create the user (a generated ID when `user_id` is None) and, with `login`, a device."""
        for attempt in range(GENERATED_ID_ATTEMPTS):
            candidate = user_id or f"@{generated_localpart()}:{self.config.server_name}"
            now = now_ms()
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await create_user(
                        conn, candidate, password_hash, now,
                        is_admin=is_admin, displayname=displayname,
                    )
                    if not login:
                        return {"user_id": candidate}
                    device = device_id or generate_device_id()
                    await ensure_device(conn, candidate, device, device_name, now)
                    tokens = await issue_tokens(
                        conn, candidate, device, now, with_refresh=with_refresh,
                        lifetime_ms=self.config.access_token_lifetime_ms,
                    )
                return {"user_id": candidate, "device_id": device, **tokens.response()}
            except MatrixError as e:
                if user_id is not None or e.errcode != "M_USER_IN_USE":
                    raise
                if attempt == GENERATED_ID_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def username_available(self, ip: str, username: str) -> dict[str, bool]:
        self._limit_ip(ip)
        if await user_exists(self.pool, user_id_for(username, self.config.server_name)):
            raise user_in_use()
        return {"available": True}

    async def registration_token_validity(self, ip: str, token: str) -> dict[str, bool]:
        self._limit_ip(ip)
        if not self.config.registration.enabled:
            raise forbidden("Registration is not enabled on this homeserver")
        return {"valid": is_registration_token(self.config.registration, token)}

    # --- shared-secret registration (on the client IP's shard) -------------------

    def _shared_secret(self) -> str:
        secret = self.config.registration.shared_secret
        if not secret:
            raise forbidden("Shared-secret registration is not enabled")
        return secret

    async def shared_secret_nonce(self, ip: str) -> dict[str, str]:
        self._limit_ip(ip)
        self._shared_secret()
        return {"nonce": await new_nonce(self.pool, now_ms())}

    async def shared_secret_register(self, ip: str, body: dict[str, Any]) -> dict[str, Any]:
        self._limit_ip(ip)
        secret = self._shared_secret()
        nonce = required(body, "nonce", str)
        username = required(body, "username", str)
        password = required(body, "password", str)
        mac = required(body, "mac", str)
        admin = flag(body, "admin")
        displayname = optional(body, "displayname", str)
        if body.get("user_type") is not None:
            raise invalid_param("user_type is not supported")
        if not await consume_nonce(self.pool, nonce, now_ms()):
            raise invalid_param("Unrecognised or expired nonce")
        if not mac_matches(secret, mac, nonce, username, password, admin):
            raise forbidden("HMAC incorrect")
        user_id = user_id_for(username, self.config.server_name)
        account = await self._create_account(
            user_id, await hash_password(password), login=True,
            is_admin=admin, displayname=displayname,
        )
        return {**account, "home_server": self.config.server_name}

    # --- login and refresh (IP shard, then the user's shard) ---------------------

    async def login(self, ip: str, body: dict[str, Any]) -> dict[str, Any]:
        self._limit_ip(ip)
        login_type = required(body, "type", str)
        if login_type != PASSWORD:
            raise unsupported_login_type(login_type)
        user_id = claimed_user(body, self.config.server_name)
        password = required(body, "password", str)
        device_id = optional(body, "device_id", str)
        if device_id is not None:
            check_device_id(device_id)
        device_name = optional(body, "initial_device_display_name", str)
        with_refresh = flag(body, "refresh_token")
        return await self._on_user_shard(
            user_id, "login_on_user_shard", user_id, password, device_id, device_name,
            with_refresh,
        )

    async def login_on_user_shard(
        self, user_id: str, password: str, device_id: str | None, device_name: str | None,
        with_refresh: bool,
    ) -> dict[str, Any]:
        """The second half of `login`: check the password, then (re)create the device's tokens."""
        stored = await self.pool.fetchval(
            "SELECT password_hash FROM users WHERE user_id = $1 AND NOT deactivated", user_id
        )
        if stored is None:
            await self._spend_decoy_check(password)
            raise invalid_credentials()
        if not await verify_password(password, stored):
            raise invalid_credentials()
        device = device_id or generate_device_id()
        now = now_ms()

        async def write(conn: asyncpg.Connection) -> tuple[IssuedTokens, list[bytes]]:
            existed = await ensure_device(conn, user_id, device, device_name, now)
            # A client reusing its device ID replaces that device's tokens.
            revoked = await revoke_device_tokens(conn, user_id, [device]) if existed else []
            tokens = await issue_tokens(
                conn, user_id, device, now, with_refresh=with_refresh,
                lifetime_ms=self.config.access_token_lifetime_ms,
            )
            return tokens, revoked

        tokens = await self._commit(write)
        return {"user_id": user_id, "device_id": device, **tokens.response()}

    async def _spend_decoy_check(self, password: str) -> None:
        if self._decoy_hash is None:
            self._decoy_hash = await hash_password(secrets.token_urlsafe(16))
        await verify_password(password, self._decoy_hash)

    async def refresh(self, ip: str, body: dict[str, Any]) -> dict[str, Any]:
        self._limit_ip(ip)
        token = required(body, "refresh_token", str)
        user_id = user_of_token(token)
        if user_id is None:
            raise unknown_token("Unknown refresh token")
        return await self._on_user_shard(user_id, "refresh_on_user_shard", token)

    async def refresh_on_user_shard(self, refresh_token: str) -> dict[str, Any]:
        async def write(conn: asyncpg.Connection) -> tuple[IssuedTokens, list[bytes]]:
            refreshed = await rotate(
                conn, refresh_token, now_ms(), self.config.access_token_lifetime_ms
            )
            return refreshed.tokens, refreshed.revoked

        return (await self._commit(write)).response()

    # --- sessions and account management (on the user's shard) -------------------

    async def logout(self, user_id: str, device_id: str) -> dict[str, Any]:
        async def write(conn: asyncpg.Connection) -> tuple[None, list[bytes]]:
            return None, await delete_devices(conn, user_id, [device_id])

        await self._commit_device_deletion(user_id, write)
        return {}

    async def logout_all(self, user_id: str) -> dict[str, Any]:
        async def write(conn: asyncpg.Connection) -> tuple[None, list[bytes]]:
            return None, await delete_all_devices(conn, user_id)

        await self._commit_device_deletion(user_id, write)
        return {}

    async def _require_password(self, auth: Any, user_id: str, operation: str) -> None:
        """User-interactive authentication by the user's own password."""
        await self.uia.require(
            auth, operation=operation, user_id=user_id, flows=PASSWORD_FLOWS,
            check=password_stage(self.pool, self.config.server_name, user_id),
        )

    async def require_password_auth(self, user_id: str, operation: str, auth: Any) -> None:
        """User-interactive authentication by password for another component's operation.

        Returns once `auth` completes the flow; raises the 401 UIA response
        (or the stage's error) until then. The keys component calls it
        before replacing cross-signing keys.
        """
        await self._require_password(auth, user_id, operation)

    async def change_password(
        self, user_id: str, device_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        new_password = required(body, "new_password", str)
        logout_devices = flag(body, "logout_devices", default=True)
        await self._require_password(body.get("auth"), user_id, "change_password")
        new_hash = await hash_password(new_password)

        async def write(conn: asyncpg.Connection) -> tuple[None, list[bytes]]:
            await conn.execute(
                "UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id, new_hash
            )
            if not logout_devices:
                return None, []
            return None, await delete_all_devices(conn, user_id, keep=device_id)

        await self._commit_device_deletion(user_id, write)
        return {}

    async def deactivate(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        # Checked for shape only: there are no 3PIDs to unbind, and the profile
        # is cleared whether or not erasure is asked for.
        optional(body, "id_server", str)
        optional(body, "erase", bool)
        await self._require_password(body.get("auth"), user_id, "deactivate")

        async def write(conn: asyncpg.Connection) -> tuple[None, list[bytes]]:
            return None, await deactivate_account(conn, user_id)

        await self._commit_device_deletion(user_id, write)
        # Shielded like the write: a hung-up client must not stop the leaving half-way.
        await asyncio.shield(self._leave_all_rooms(user_id))
        # No 3PIDs are ever bound, so there is nothing that could fail to unbind.
        return {"id_server_unbind_result": "success"}

    async def _leave_all_rooms(self, user_id: str) -> None:
        await self._call_rooms(
            await rooms_to_leave(self.pool, user_id), "update_membership",
            user_id, user_id, "leave", None,
        )
        await profiles.clear(self.pool, user_id)

    # --- devices (on the user's shard) --------------------------------------------

    async def list_devices(self, user_id: str) -> dict[str, Any]:
        return {"devices": await list_devices(self.pool, user_id)}

    async def get_device(self, user_id: str, device_id: str) -> dict[str, Any]:
        device = await get_device(self.pool, user_id, check_device_id(device_id))
        if device is None:
            raise not_found("Unknown device")
        return device

    async def update_device(
        self, user_id: str, device_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        display_name = optional(body, "display_name", str)
        # Only application services may create devices this way; clients update.
        if not await rename_device(self.pool, user_id, check_device_id(device_id), display_name):
            raise not_found("Unknown device")
        return {}

    async def delete_device(
        self, user_id: str, device_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._delete_devices(user_id, [check_device_id(device_id)], body.get("auth"))

    async def delete_devices(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        device_ids = required(body, "devices", list)
        if not all(isinstance(d, str) for d in device_ids):
            raise bad_json("devices must be an array of strings")
        for device_id in device_ids:
            check_device_id(device_id)
        return await self._delete_devices(user_id, device_ids, body.get("auth"))

    async def _delete_devices(self, user_id: str, device_ids: list[str], auth: Any) -> dict[str, Any]:
        # The session is bound to exactly these devices.
        operation = "delete_devices:" + "\n".join(sorted(set(device_ids)))
        await self._require_password(auth, user_id, operation)

        async def write(conn: asyncpg.Connection) -> tuple[None, list[bytes]]:
            return None, await delete_devices(conn, user_id, device_ids)

        await self._commit_device_deletion(user_id, write)
        return {}

    # --- profiles (on the profile owner's shard) ----------------------------------

    def _is_remote(self, user_id: str) -> bool:
        if not is_valid_user_id(user_id):
            raise invalid_param("Invalid user ID")
        return server_name_of(user_id) != self.config.server_name

    async def _local_profile(self, user_id: str) -> dict[str, Any]:
        profile = await profiles.load_profile(self.pool, user_id)
        if profile is None:
            raise not_found("Profile not found")
        return profile

    async def get_profile(self, user_id: str) -> dict[str, Any]:
        if self._is_remote(user_id):
            return await self.remote_profiles.get(user_id)
        return await self._local_profile(user_id)

    async def get_profile_field(self, user_id: str, key: str) -> dict[str, Any]:
        profiles.check_key(key)
        if self._is_remote(user_id):
            return await self.remote_profiles.get(user_id, key)
        profile = await self._local_profile(user_id)
        if key not in profile:
            raise not_found("Profile field not found")
        return {key: profile[key]}

    async def federation_query_profile(self, user_id: str, field: str | None) -> dict[str, Any]:
        """GET /_matrix/federation/v1/query/profile: a local user's profile, or one field."""
        if self._is_remote(user_id):
            raise not_found("The user is not on this server")
        profile = await self._local_profile(user_id)
        if field is None:
            return profile
        if field not in profile:
            raise not_found("Profile field not found")
        return {field: profile[field]}

    async def set_profile_field(
        self, requester: str, user_id: str, key: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        profiles.check_key(key)
        if requester != user_id:
            raise forbidden("You may only change your own profile")
        value = profiles.value_from_body(key, body)
        await asyncio.shield(self._update_profile(user_id, profiles.set_field(
            self.pool, user_id, key, value)))
        return {}

    async def delete_profile_field(self, requester: str, user_id: str, key: str) -> dict[str, Any]:
        profiles.check_key(key)
        if requester != user_id:
            raise forbidden("You may only change your own profile")
        await asyncio.shield(self._update_profile(user_id, profiles.delete_field(
            self.pool, user_id, key)))
        return {}

    async def _update_profile(
        self, user_id: str, change: Awaitable[profiles.MemberProfile | None]
    ) -> None:
        """Apply a profile change; a new display name or avatar goes to every joined room.

        One change per user at a time, its rooms included: otherwise two quick
        changes could reach a room in the opposite order to the database's.
        """
        async with self._profile_changes.hold(user_id):
            member = await change
            if member is None:
                return
            rooms = await profiles.joined_rooms(self.pool, user_id)
            await self._call_rooms(
                rooms, "set_member_profile", user_id, member.displayname, member.avatar_url
            )

    # --- user directory (on the requester's shard) --------------------------------

    async def search_user_directory(self, user_id: str, body: dict[str, Any]) -> dict[str, Any]:
        term = required(body, "search_term", str)
        limit = optional(body, "limit", int)
        if limit is not None and limit < 0:
            raise invalid_param("limit must not be negative")
        return await user_directory.search(
            self.pool, user_id, term, user_directory.DEFAULT_LIMIT if limit is None else limit
        )
