"""Start and stop the federation TLS listener actor, alongside the actor pools.

One named detached actor on the node of the process that prepares the
server (where `dendray run` or `serve deploy`'s builder runs, and so where
a Serve proxy listens). Without a certificate in the config there is no
listener: federation then needs a TLS proxy in front of Serve.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from sharding.names import NAMESPACE

log = logging.getLogger("dendray")

LISTENER_NAME = "federation_listener"


def ensure_federation_listener(config: dict[str, Any]) -> int | None:
    """Make sure the listener runs; its port, or None when none is configured."""
    fed = config["federation"]
    if not fed["enabled"] or not fed["tls_certificate_path"] or not fed["tls_private_key_path"]:
        log.warning("no federation TLS certificate configured: no federation listener")
        return None
    from actors.federation_listener.actor import FederationListenerActor

    handle = FederationListenerActor.options(
        name=LISTENER_NAME, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
        max_restarts=-1, max_task_retries=0, num_cpus=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=False),
    ).remote(config)
    return ray.get(handle.ready.remote())


def remove_federation_listener(*, timeout: float = 30.0) -> None:
    """Stop the listener (if any) and wait until its name and port are free."""
    try:
        handle = ray.get_actor(LISTENER_NAME, namespace=NAMESPACE)
    except ValueError:
        return
    try:
        ray.get(handle.stop.remote(), timeout=10)
    except Exception as e:  # a dead or stuck listener is killed below all the same
        log.info("federation listener did not stop cleanly: %s", e)
    ray.kill(handle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ray.get_actor(LISTENER_NAME, namespace=NAMESPACE)
        except ValueError:
            return
        time.sleep(0.1)
