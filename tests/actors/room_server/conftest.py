"""A room-server service on the test database, without Ray."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.context import Context
from actors.room_server.service import RoomServerService
from dendray.config import Config
from protocol.signing import generate_signing_key
from sharding.hashing import shard_of


class FakeRouter:
    """One room-server shard, no sync shards: records wake-ups instead of sending them."""

    def __init__(self) -> None:
        self.notified: list[tuple[Any, ...]] = []

    def shard_count(self, component: str) -> int:
        return 1

    def shard_for(self, component: str, key: str) -> int:
        return shard_of(key, 1)

    def notify(self, component: str, shard: int, method: str, *args: Any) -> None:
        self.notified.append((component, shard, method, *args))

    async def call(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"unexpected cross-shard call {args}")


@pytest.fixture
async def room_server(db_pool) -> AsyncIterator[RoomServerService]:
    config = Config(server_name="test.local")
    ctx = Context(config=config, pool=db_pool, router=FakeRouter(),  # type: ignore[arg-type]
                  signing_key=generate_signing_key("t1"))
    service = RoomServerService(ctx, shard=0)
    await service.recover()
    yield service


@pytest.fixture
def fresh(room_server: RoomServerService):
    """A second service on the same database: what a restarted actor sees."""
    return lambda: RoomServerService(room_server.ctx, shard=0)
