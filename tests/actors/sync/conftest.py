"""A sync service and a room server on the test database, without Ray.

The room server is the real writer (so the data follows the contract); the
fake router hands its wake-ups to the sync service as Ray would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.context import Context
from actors.room_server.service import RoomServerService
from actors.sync.service import SyncService
from dendray.config import Config
from protocol.signing import generate_signing_key
from sharding.hashing import shard_of
from tests.actors.fake_federation import FakeFederation


class LoopbackRouter:
    """One shard per component; notifications go straight to the sync service."""

    def __init__(self) -> None:
        self.sync: SyncService | None = None

    def shard_count(self, component: str) -> int:
        return 1

    def shard_for(self, component: str, key: str) -> int:
        return shard_of(key, 1)

    def notify(self, component: str, shard: int, method: str, *args: Any) -> None:
        if component == "sync" and self.sync is not None:
            asyncio.get_running_loop().create_task(getattr(self.sync, method)(*args))

    async def call(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"unexpected cross-shard call {args}")


@pytest.fixture
async def services(db_pool) -> AsyncIterator[tuple[RoomServerService, SyncService]]:
    config = Config(server_name="test.local")
    config.shards = {"room_server": 1, "sync": 1, "accounts": 1}
    router = LoopbackRouter()
    ctx = Context(config=config, pool=db_pool, router=router,  # type: ignore[arg-type]
                  signing_key=generate_signing_key("t1"))
    rs = RoomServerService(ctx, shard=0)
    await rs.recover()
    sync = SyncService(ctx, shard=0)
    # Never the network: other servers are unreachable unless a test says.
    sync.federation = FakeFederation()
    await sync.recover()
    router.sync = sync
    yield rs, sync


@pytest.fixture
def room_server(services) -> RoomServerService:
    return services[0]


@pytest.fixture
def sync(services) -> SyncService:
    return services[1]
