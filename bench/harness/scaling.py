"""Scale-out: the send phase against dendray with 1, 2, 4 room-server shards, then two Ray nodes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bench.harness.client import MatrixClient
from bench.harness.cluster import LoopbackCluster
from bench.harness.phases import accounts, rooms, send
from bench.harness.phases.scale import Scale
from bench.harness.phases.state import Workload
from bench.harness.servers import DendrayServer

SHARD_COUNTS = (1, 2, 4)


async def send_phase(server: DendrayServer, scale: Scale) -> dict[str, Any]:
    """Just enough set-up (the senders, two rooms each) for the send phase, then the sends."""
    scale = dataclasses.replace(scale, users=scale.senders + 2, logins=0, rooms_per_sender=2)
    client = MatrixClient(server.client_url)
    w = Workload(server, client, scale)
    try:
        await accounts.register(w)
        await rooms.create_rooms(w)
        await rooms.join_rooms(w, with_readers=False)
        await send.sends(w)
    finally:
        await client.close()
    return w.results[-1].summary()


async def run(scale: Scale, workdir: Path, log: Any = print) -> list[dict[str, Any]]:
    rows = []
    for shards in SHARD_COUNTS:
        server = DendrayServer(workdir / f"shards-{shards}", room_shards=shards)
        log(f"scale-out: one node, {shards} room-server shard(s)")
        server.start()
        try:
            rows.append({"label": "one node", "shards": shards, "nodes": 1,
                         "send": await send_phase(server, scale)})
        finally:
            server.stop()
    cluster = LoopbackCluster(nodes=2)
    shards = SHARD_COUNTS[-1]
    log(f"scale-out: two Ray nodes on loopback, {shards} room-server shards")
    cluster.start()
    try:
        server = DendrayServer(workdir / "two-nodes", room_shards=shards,
                               ray_address=cluster.address, ray_marker=cluster.temp_dir,
                               env=cluster.env)
        server.start()
        try:
            rows.append({"label": "two nodes (loopback)", "shards": shards, "nodes": 2,
                         "send": await send_phase(server, scale)})
        finally:
            server.stop()
    finally:
        cluster.stop()
    return rows
