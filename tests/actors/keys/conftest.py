"""The keys service with the accounts, room-server and sync services, in one process.

The in-process router hands each call to the one service of its component
(one shard each) and runs notifications as tasks, as Ray would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from actors.accounts.service import AccountsService
from actors.context import Context
from actors.keys.service import KeysService
from actors.room_server.service import RoomServerService
from actors.sync.service import SyncService
from actors.sync.stream_device_lists import DeviceListsSource
from protocol.signing import generate_signing_key
from tests.actors.accounts.helpers import make_config, register, unique
from tests.actors.fake_federation import FakeFederation
from tests.actors.keys.helpers import ClientDevice


class InProcessRouter:
    def __init__(self) -> None:
        self.services: dict[str, Any] = {}
        self.notified: list[tuple[str, str, tuple[Any, ...]]] = []

    def shard_count(self, component: str) -> int:
        return 1

    def shard_for(self, component: str, key: str) -> int:
        return 0

    async def call(self, component: str, key: str, method: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("idempotent", None)
        return await getattr(self.services[component], method)(*args, **kwargs)

    def notify(self, component: str, shard: int, method: str, *args: Any) -> None:
        self.notified.append((component, method, args))
        service = self.services.get(component)
        if service is not None:
            asyncio.get_running_loop().create_task(getattr(service, method)(*args))


@dataclass
class Stack:
    router: InProcessRouter
    keys: KeysService
    accounts: AccountsService
    room_server: RoomServerService
    sync: SyncService

    async def user(self, device_name: str | None = None) -> ClientDevice:
        """A registered user with one logged-in device."""
        body = {"initial_device_display_name": device_name} if device_name else {}
        account = await register(self, unique(), **body)  # type: ignore[arg-type]
        return ClientDevice(account["user_id"], account["device_id"])

    async def call(self, key: str, method: str, *args: Any) -> Any:
        """What `tests.actors.accounts.helpers.register` calls on accounts."""
        return await getattr(self.accounts, method)(*args)


@pytest.fixture
async def stack(db_pool) -> AsyncIterator[Stack]:
    config = make_config()
    config.shards = {"room_server": 1, "sync": 1, "accounts": 1, "keys": 1}
    router = InProcessRouter()
    ctx = Context(config=config, pool=db_pool, router=router,  # type: ignore[arg-type]
                  signing_key=generate_signing_key("t1"))
    services = {
        "keys": KeysService(ctx, 0), "accounts": AccountsService(ctx, 0),
        "room_server": RoomServerService(ctx, 0), "sync": SyncService(ctx, 0),
    }
    # Only the stream under test: the other streams' components are not in this stack.
    services["sync"].handler.sources = (DeviceListsSource(ctx),)
    # Never the network: other servers are unreachable unless a test says.
    for name in ("keys", "accounts", "sync"):
        services[name].federation = FakeFederation()
    for service in services.values():
        await service.recover()
    router.services = services
    yield Stack(router, services["keys"], services["accounts"], services["room_server"],
                services["sync"])
