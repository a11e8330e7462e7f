"""End-to-end delivery: from the start of a send to the event in another user's /sync.

The receiver (in every room) long-polls /sync the whole time; each message
body is unique, so its arrival is matched to its send.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from bench.harness.client import timeline_bodies
from bench.harness.measure import Meter, PhaseResult, percentile, run_concurrent
from bench.harness.phases.send import plan_sends, send_op
from bench.harness.phases.state import QUIET, Workload

# Big enough that a busy room is not cut short ("limited") between two polls.
RECEIVER_FILTER = {**QUIET, "room": {"timeline": {"limit": 1000},
                                     "state": {"lazy_load_members": True}}}
GRACE_S = 30.0


async def _listen(w: Workload, since: str, seen: dict[str, float]) -> None:
    while True:
        r = await w.client.sync(w.receiver, since, timeout_ms=30_000, filter_json=RECEIVER_FILTER)
        now = time.monotonic()
        for body in timeline_bodies(r):
            seen.setdefault(body, now)
        since = r["next_batch"]


async def _with_receiver(w: Workload, result: PhaseResult,
                         run: Callable[[dict[str, float]], Awaitable[None]]) -> None:
    since = (await w.client.sync(w.receiver, filter_json=RECEIVER_FILTER))["next_batch"]
    seen: dict[str, float] = {}
    started: dict[str, float] = {}
    listener = asyncio.create_task(_listen(w, since, seen))
    meter = Meter(w.server, result)
    meter.start()
    try:
        await run(started)
        deadline = time.monotonic() + GRACE_S
        while set(started) - set(seen) and time.monotonic() < deadline and not listener.done():
            await asyncio.sleep(0.05)
    finally:
        meter.stop()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    send_latencies = result.latencies
    result.latencies = [seen[b] - t0 for b, t0 in started.items() if b in seen]
    missed = len(started) - len(result.latencies)
    result.note = (f"send p50 {_ms(send_latencies, 50)} ms; " if send_latencies else "") + (
        f"{missed} not seen within {GRACE_S:.0f}s" if missed else "all seen")
    result.errors += missed


def _ms(values: list[float], q: float) -> float:
    return round((percentile(values, q) or 0) * 1000, 1)


async def saturated(w: Workload) -> None:
    result = PhaseResult("send→sync, saturated")
    plan = plan_sends(w, w.scale.delivery_saturated, f"sat{w.run_id}")

    async def run(started: dict[str, float]) -> None:
        await run_concurrent(result, [send_op(w, p, started) for p in plan],
                             w.scale.send_concurrency)

    await _with_receiver(w, result, run)
    w.results.append(result)


async def paced(w: Workload) -> None:
    s = w.scale
    count = int(s.paced_rate * s.paced_seconds)
    result = PhaseResult(f"send→sync, paced {s.paced_rate:g}/s")
    plan = plan_sends(w, count, f"pace{w.run_id}")

    async def run(started: dict[str, float]) -> None:
        t0 = time.monotonic()
        tasks = []
        for n, op in enumerate(send_op(w, p, started) for p in plan):
            await asyncio.sleep(max(0.0, t0 + n / s.paced_rate - time.monotonic()))
            tasks.append(asyncio.create_task(run_concurrent(result, [op], 1)))
        await asyncio.gather(*tasks)

    await _with_receiver(w, result, run)
    w.results.append(result)
