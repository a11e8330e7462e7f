"""One server, the whole workload: every phase in order, memory idle and peak."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.harness.client import MatrixClient
from bench.harness.cpu import RssSampler, rss_bytes
from bench.harness.measure import Server
from bench.harness.phases import accounts, delivery, rooms, send, sync
from bench.harness.phases.scale import Scale
from bench.harness.phases.state import Workload


async def run_all(server: Server, scale: Scale) -> tuple[dict[str, Any], Workload]:
    """Every phase against `server`; returns the summary and the workload (for profiling)."""
    await asyncio.sleep(scale.idle_settle_s)  # start-up work (imports, first queries) ends
    pids = server.pids()
    idle = rss_bytes(pids)
    client = MatrixClient(server.client_url, max_connections=scale.fanout_members + 256)
    w = Workload(server, client, scale)
    with RssSampler(server.pids) as sampler:
        await accounts.register(w)
        await accounts.login(w)
        await rooms.create_rooms(w)
        await rooms.join_rooms(w)
        await send.sends(w)
        await delivery.saturated(w)
        await delivery.paced(w)
        await sync.initial_sync(w)
        await sync.fanout(w)
    return {
        "phases": {r.name: r.summary() for r in w.results},
        "rss_mb": {"idle": round(idle / 2**20, 1), "peak": round(sampler.peak / 2**20, 1)},
        "processes_idle": len(pids),
    }, w
