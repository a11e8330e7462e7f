"""Two accounts shards on the test database, without Ray, wired by a fake router."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from actors.accounts.service import AccountsService
from actors.context import Context
from dendray.config import Config
from tests.actors.accounts.helpers import SHARDS, Accounts, FakeRouter, make_config
from tests.actors.fake_federation import FakeFederation


@pytest.fixture
def build(db_pool) -> Callable[..., Any]:
    """Build the shards for a config (the default: open registration, no rate limits)."""

    async def make(config: Config | None = None) -> Accounts:
        config = config or make_config()
        router = FakeRouter()
        ctx = Context(config=config, pool=db_pool, router=router,  # type: ignore[arg-type]
                      signing_key=None)
        router.shards = [AccountsService(ctx, shard) for shard in range(SHARDS)]
        for service in router.shards:
            # Never the network: remote users' servers are unreachable unless a test says.
            service.federation = FakeFederation()
            await service.recover()
        return Accounts(router, config)

    return make


@pytest.fixture
async def accounts(build) -> AsyncIterator[Accounts]:
    yield await build()
