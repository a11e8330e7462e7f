"""Turn a room, user or destination into the handle of the actor that owns it.

Handles are cached per process. An actor that died is restarted by Ray under
the same name; calls made while it restarts fail, and `call` retries them
with backoff when the caller says the call is idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import ray
from ray.actor import ActorHandle
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

from sharding.hashing import shard_of
from sharding.names import NAMESPACE, actor_name

# Errors after which the same call may succeed once the actor is back.
_TRANSIENT = (ActorDiedError, ActorUnavailableError, RayActorError)


class Router:
    def __init__(self, shard_counts: Mapping[str, int], *, namespace: str = NAMESPACE) -> None:
        self._counts = dict(shard_counts)
        self._namespace = namespace
        self._handles: dict[str, ActorHandle] = {}

    def shard_count(self, component: str) -> int:
        return max(1, int(self._counts.get(component, 1)))

    def shard_for(self, component: str, key: str) -> int:
        return shard_of(key, self.shard_count(component))

    def handle(self, component: str, shard: int) -> ActorHandle:
        name = actor_name(component, shard)
        h = self._handles.get(name)
        if h is None:
            h = ray.get_actor(name, namespace=self._namespace)
            self._handles[name] = h
        return h

    def for_key(self, component: str, key: str) -> ActorHandle:
        return self.handle(component, self.shard_for(component, key))

    def all(self, component: str) -> list[ActorHandle]:
        return [self.handle(component, i) for i in range(self.shard_count(component))]

    async def call(
        self, component: str, key: str, method: str, *args: Any,
        idempotent: bool = False, **kwargs: Any,
    ) -> Any:
        """Call `method` on the shard owning `key`."""
        return await self.call_shard(
            component, self.shard_for(component, key), method, *args,
            idempotent=idempotent, **kwargs,
        )

    async def call_shard(
        self, component: str, shard: int, method: str, *args: Any,
        idempotent: bool = False, **kwargs: Any,
    ) -> Any:
        attempts = 8 if idempotent else 1
        delay = 0.2
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                h = self.handle(component, shard)
            except ValueError:
                # The named actor does not exist (yet): the pools are starting.
                if last:
                    raise
            else:
                try:
                    return await getattr(h, method).remote(*args, **kwargs)
                except _TRANSIENT:
                    if last:
                        raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)
        raise AssertionError("unreachable")

    def notify(self, component: str, shard: int, method: str, *args: Any, **kwargs: Any) -> None:
        """Fire and forget: for wake-ups whose loss costs only latency."""
        try:
            getattr(self.handle(component, shard), method).remote(*args, **kwargs)
        except (ValueError, *_TRANSIENT):
            self._handles.pop(actor_name(component, shard), None)
