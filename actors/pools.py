"""Create (or find) every component's pool of named actors, and remove them.

Actors are detached and named `<component>-<shard>`, created with
`get_if_exists`, so any process (the `dendray run` driver, an ingress
replica after `serve deploy`) can call this and they all agree.
"""

from __future__ import annotations

import time
from typing import Any

import ray
from ray.actor import ActorClass

from sharding.names import NAMESPACE, actor_name

# Ray restarts a dead actor forever; calls in flight fail rather than being
# replayed (the router retries the idempotent ones).
BASE_OPTIONS: dict[str, Any] = {
    "lifetime": "detached",
    "namespace": NAMESPACE,
    "get_if_exists": True,
    "max_restarts": -1,
    "max_task_retries": 0,
    "num_cpus": 0,
    "max_concurrency": 10_000,
    "scheduling_strategy": "SPREAD",
}


def _actor_classes() -> dict[str, ActorClass]:
    # Imported here so importing this module stays cheap for the CLI.
    from actors.accounts.actor import AccountsActor
    from actors.federation_sender.actor import FederationSenderActor
    from actors.keys.actor import KeysActor
    from actors.presence.actor import PresenceActor
    from actors.receipts.actor import ReceiptsActor
    from actors.room_server.actor import RoomServerActor
    from actors.search.actor import SearchActor
    from actors.server_keys.actor import ServerKeysActor
    from actors.sync.actor import SyncActor
    from actors.typing.actor import TypingActor

    return {"room_server": RoomServerActor, "sync": SyncActor, "accounts": AccountsActor,
            "keys": KeysActor, "typing": TypingActor, "receipts": ReceiptsActor,
            "presence": PresenceActor, "search": SearchActor,
            "federation_sender": FederationSenderActor, "server_keys": ServerKeysActor}


def ensure_pools(config: dict[str, Any]) -> None:
    """Make sure every shard of every component exists; return once all are ready."""
    refs = []
    for component, cls in _actor_classes().items():
        for shard in range(max(1, int(config["shards"].get(component, 1)))):
            handle = cls.options(name=actor_name(component, shard), **BASE_OPTIONS).remote(
                config, shard
            )
            refs.append(handle.ready.remote())
    ray.get(refs)


def remove_pools(config: dict[str, Any], *, timeout: float = 30.0) -> None:
    """Kill every actor of every pool and wait until their names are free.

    Waiting matters for a restart: `get_if_exists` would otherwise hand back
    the dying actor instead of creating a new one.
    """
    names = [actor_name(component, shard) for component in _actor_classes()
             for shard in range(max(1, int(config["shards"].get(component, 1))))]
    for name in names:
        try:
            ray.kill(ray.get_actor(name, namespace=NAMESPACE))
        except ValueError:
            pass
    deadline = time.monotonic() + timeout
    while any(_exists(name) for name in names) and time.monotonic() < deadline:
        time.sleep(0.1)


def _exists(name: str) -> bool:
    try:
        ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        return False
    return True
