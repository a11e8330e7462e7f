"""A federation sender service on the test database, without Ray, with a fake client."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from actors.context import Context
from actors.federation_sender.service import FederationSenderService
from dendray.config import Config
from protocol.signing import generate_signing_key

SERVER = "here.test"


class FakeClient:
    """Records PUTs; fails while `failures` > 0; holds each PUT until `gate` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.failures = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.in_flight = 0
        self.max_in_flight = 0

    async def put_json(self, destination: str, path: str, body: dict[str, Any]) -> Any:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self.gate.wait()
            self.sent.append((destination, path, body))
            if self.failures > 0:
                self.failures -= 1
                raise ConnectionError("unreachable")
            return {"pdus": {}}
        finally:
            self.in_flight -= 1


class Clock:
    """A fake wall clock that `sleep` moves forward (no real waiting)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000_000
        self.sleeps: list[float] = []

    def ms(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += int(seconds * 1000)
        await asyncio.sleep(0)


class FakeRouter:
    """Every federation_sender key maps to `shard`; calls are recorded and answered by `answer`."""

    def __init__(self, shard: int) -> None:
        self.shard = shard
        self.calls: list[tuple[Any, ...]] = []
        self.answer: Callable[..., Any] = lambda *args: None

    def shard_count(self, component: str) -> int:
        return self.shard + 1

    def shard_for(self, component: str, key: str) -> int:
        return self.shard

    def notify(self, component: str, shard: int, method: str, *args: Any) -> None:
        self.calls.append((component, method, *args))

    async def call(self, component: str, key: str, method: str, *args: Any, **kw: Any) -> Any:
        self.calls.append((component, method, *args))
        return self.answer(component, method, *args)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}.test"


@pytest.fixture
async def make_sender(db_pool) -> AsyncIterator[Callable[..., Any]]:
    made: list[FederationSenderService] = []

    async def make(*, client: FakeClient, clock: Clock, shard: int | None = None,
                   start: bool = True) -> FederationSenderService:
        shard = shard if shard is not None else 1000 + secrets.randbelow(1_000_000)
        ctx = Context(config=Config(server_name=SERVER), pool=db_pool,
                      router=FakeRouter(shard),  # type: ignore[arg-type]
                      signing_key=generate_signing_key("t1"))
        service = FederationSenderService(ctx, shard, client=client, clock_ms=clock.ms,
                                          sleep=clock.sleep, poll_interval=3600)
        made.append(service)
        if start:
            await service.recover()
        return service

    yield make
    for service in made:
        await service.close()


async def settle(service: FederationSenderService) -> None:
    """Let every sender task of the service run until it has nothing left to do."""
    for _ in range(1000):
        if not service.sending_to():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the senders did not finish")
