"""Helpers for the accounts service tests: the fake router, configs, a registered user."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from actors.accounts.service import AccountsService
from dendray.config import Config, RateLimitConfig, RegistrationConfig
from sharding.hashing import shard_of

SERVER = "test.local"
SHARDS = 2


@dataclass
class FakeRouter:
    """Sends accounts calls to the right in-process shard; records room-server calls."""

    shards: list[AccountsService] = field(default_factory=list)
    room_calls: list[tuple[Any, ...]] = field(default_factory=list)

    def shard_for(self, component: str, key: str) -> int:
        return shard_of(key, SHARDS if component == "accounts" else 1)

    async def call(self, component: str, key: str, method: str, *args: Any, **_: Any) -> Any:
        if component == "accounts":
            return await getattr(self.shards[self.shard_for(component, key)], method)(*args)
        self.room_calls.append((component, method, *args))
        return None


@dataclass
class Accounts:
    """The shards of one test, with a helper to call the one owning a key."""

    router: FakeRouter
    config: Config

    async def call(self, key: str, method: str, *args: Any) -> Any:
        return await self.router.call("accounts", key, method, *args)

    def shard_of(self, key: str) -> AccountsService:
        return self.router.shards[self.router.shard_for("accounts", key)]


def make_config(**registration: Any) -> Config:
    return Config(
        server_name=SERVER,
        registration=RegistrationConfig(**{"enabled": True, "open": True, **registration}),
        rate_limits=RateLimitConfig(enabled=False),
    )


def unique(prefix: str = "u") -> str:
    """A localpart no other test uses (the database is shared by the session)."""
    return f"{prefix}{secrets.token_hex(5)}"


async def register(accounts: Accounts, localpart: str | None = None, password: str = "pw",
                   **extra: Any) -> dict[str, Any]:
    """Register through the dummy flow in one step (a stage without a session)."""
    body = {"username": localpart or unique(), "password": password,
            "auth": {"type": "m.login.dummy"}, **extra}
    return await accounts.call("1.2.3.4", "register", "1.2.3.4", "user", body)


def password_auth(user_id: str, password: str = "pw", session: str | None = None) -> dict[str, Any]:
    auth: dict[str, Any] = {"type": "m.login.password", "password": password,
                            "identifier": {"type": "m.id.user", "user": user_id}}
    if session is not None:
        auth["session"] = session
    return auth
