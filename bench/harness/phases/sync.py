"""Initial /sync of a user in every room; incremental /sync fan-out in one big room."""

from __future__ import annotations

import asyncio
import contextlib
import time

from bench.harness.client import Account, timeline_bodies
from bench.harness.measure import Meter, PhaseResult, measured, run_concurrent
from bench.harness.phases.rooms import join_big_room
from bench.harness.phases.state import QUIET, Workload


async def initial_sync(w: Workload) -> None:
    """The reader (in every room, each with history) syncs from scratch, one at a time."""
    result, _ = await measured(
        w.server, f"initial /sync ({len(w.rooms)} rooms)",
        [lambda: w.client.sync(w.reader) for _ in range(w.scale.initial_syncs)], 1)
    w.results.append(result)


async def fanout(w: Workload) -> None:
    """Every member of the big room long-polls; one message at a time reaches all of them."""
    s = w.scale
    room = await join_big_room(w)
    members = w.users[:s.fanout_members]
    # A token to start from, with no room in it (the initial sync is not what is measured).
    empty = {**QUIET, "room": {"rooms": []}}
    setup = PhaseResult("fan-out setup")
    tokens = await run_concurrent(
        setup, [lambda a=a: w.client.sync(a, filter_json=empty) for a in members],
        s.register_concurrency)
    if setup.errors:
        raise RuntimeError(f"fan-out setup failed: {setup.first_error}")
    big_room = {**QUIET, "room": {"rooms": [room], "timeline": {"limit": 10},
                                  "state": {"lazy_load_members": True}}}
    seen: dict[str, dict[str, float]] = {}
    result = PhaseResult(f"/sync fan-out to {len(members)} members")

    async def member(a: Account, since: str) -> None:
        while True:
            try:
                r = await w.client.sync(a, since, timeout_ms=60_000, filter_json=big_room)
            except Exception as e:  # noted; the member keeps polling like a real client
                result.first_error = result.first_error or f"{type(e).__name__}: {e}"[:300]
                await asyncio.sleep(0.5)
                continue
            now = time.monotonic()
            for body in timeline_bodies(r):
                seen.setdefault(body, {}).setdefault(a.user_id, now)
            since = r["next_batch"]

    pollers = [asyncio.create_task(member(a, t["next_batch"])) for a, t in zip(members, tokens, strict=True)]
    meter = Meter(w.server, result)
    try:
        await asyncio.sleep(s.fanout_settle_s)
        meter.start()
        active = 0.0
        for k in range(s.fanout_messages):
            body = f"fan{w.run_id}-{k}"
            t0 = time.monotonic()
            await w.client.send(members[0], room, body)
            deadline = t0 + 60
            while len(seen.get(body, {})) < len(members) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            arrivals = seen.get(body, {})
            active += (max(arrivals.values()) if arrivals else time.monotonic()) - t0
            result.latencies += [t - t0 for t in arrivals.values()]
            result.errors += len(members) - len(arrivals)
            # Let every member's next long poll be parked before the next message.
            await asyncio.sleep(s.fanout_settle_s)
        meter.stop()
    finally:
        for p in pollers:
            p.cancel()
        for p in pollers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await p
    result.ops = len(result.latencies)
    result.note = (f"CPU covers {s.fanout_messages} messages incl. re-parking the polls; "
                   f"throughput = deliveries / time from send to last arrival ({active:.2f}s)")
    result.wall_s = active
    w.results.append(result)
