"""The one shape every actor has: build the service's context, then recover.

`make_actor(ServiceClass, component)` returns the Ray actor class; each
`actors/<component>/actor.py` calls it once. The service stays a plain class
(constructed with a Context and its shard) that tests can use without Ray.
"""

from __future__ import annotations

from typing import Any

import ray
from ray.actor import ActorClass

from actors.context import open_context


def make_actor(service_cls: type, component: str) -> ActorClass:
    class Actor(service_cls):  # type: ignore[misc, valid-type]
        async def __init__(self, config: dict[str, Any], shard: int) -> None:
            ctx = await open_context(config, component)
            super().__init__(ctx, shard)
            await self.recover()

        async def ready(self) -> bool:
            return True

    Actor.__name__ = Actor.__qualname__ = f"{service_cls.__name__}Actor"
    return ray.remote(Actor)
