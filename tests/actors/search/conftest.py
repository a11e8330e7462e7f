"""A room server, a sync service and two search shards on the test database, without Ray.

The loopback router hands calls and wake-ups to the services as Ray would,
so a search coordinated by one shard fans out to both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from actors.context import Context
from actors.room_server.service import RoomServerService
from actors.search.service import SearchService
from actors.sync.service import SyncService
from dendray.config import Config
from protocol.signing import generate_signing_key
from sharding.hashing import shard_of

SEARCH_SHARDS = 2


class LoopbackRouter:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self.services: dict[tuple[str, int], Any] = {}

    def shard_count(self, component: str) -> int:
        return self.counts.get(component, 1)

    def shard_for(self, component: str, key: str) -> int:
        return shard_of(key, self.shard_count(component))

    def notify(self, component: str, shard: int, method: str, *args: Any) -> None:
        service = self.services.get((component, shard))
        if service is not None:
            asyncio.get_running_loop().create_task(getattr(service, method)(*args))

    async def call(self, component: str, key: str, method: str, *args: Any,
                   idempotent: bool = False, **kwargs: Any) -> Any:
        return await self.call_shard(component, self.shard_for(component, key), method, *args,
                                     **kwargs)

    async def call_shard(self, component: str, shard: int, method: str, *args: Any,
                         idempotent: bool = False, **kwargs: Any) -> Any:
        return await getattr(self.services[(component, shard)], method)(*args, **kwargs)


class Cluster:
    def __init__(self, ctx: Context, router: LoopbackRouter, room_server: RoomServerService,
                 sync: SyncService) -> None:
        self.ctx = ctx
        self.router = router
        self.room_server = room_server
        self.sync = sync
        self.search: list[SearchService] = []

    async def start_search(self) -> None:
        self.search = []
        for shard in range(SEARCH_SHARDS):
            service = SearchService(self.ctx, shard)
            await service.recover()
            self.router.services[("search", shard)] = service
            self.search.append(service)

    async def stop_search(self) -> None:
        """What a killed actor leaves: the feeder stops, the folder's lock is released."""
        for service in self.search:
            index, feeder = service._ready()
            await feeder.stop()
            await asyncio.get_running_loop().run_in_executor(service._writer_thread, index.close)
        self.search = []

    async def indexed(self) -> None:
        """Wait until every shard has indexed everything committed so far."""
        for service in self.search:
            await service._ready()[1].catch_up()

    async def search_as(self, user_id: str, body: dict[str, Any],
                        next_batch: str | None = None) -> dict[str, Any]:
        await self.indexed()
        shard = self.router.shard_for("search", user_id)
        return await self.search[shard].search(user_id, "DEV", body, next_batch)


@pytest.fixture
async def cluster(db_pool, tmp_path: Path) -> AsyncIterator[Cluster]:
    config = Config(server_name="test.local", data_dir=str(tmp_path))
    counts = {"room_server": 1, "sync": 1, "accounts": 1, "search": SEARCH_SHARDS}
    config.shards = dict(counts)
    config.search.commit_interval_ms = 20
    router = LoopbackRouter(counts)
    ctx = Context(config=config, pool=db_pool, router=router,  # type: ignore[arg-type]
                  signing_key=generate_signing_key("t1"))
    room_server = RoomServerService(ctx, shard=0)
    await room_server.recover()
    sync = SyncService(ctx, shard=0)
    await sync.recover()
    router.services[("room_server", 0)] = room_server
    router.services[("sync", 0)] = sync
    c = Cluster(ctx, router, room_server, sync)
    await c.start_search()
    try:
        yield c
    finally:
        await c.stop_search()


