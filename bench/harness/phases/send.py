"""Message sends from many concurrent users into many rooms."""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.harness.client import Account
from bench.harness.measure import measured
from bench.harness.phases.state import Workload


@dataclass(frozen=True)
class Send:
    account: Account
    room: str
    body: str  # unique: a receiver matches arrivals to sends by it


def plan_sends(w: Workload, count: int, tag: str) -> list[Send]:
    """`count` sends spread over the senders and, per sender, over its rooms."""
    s = w.scale
    turn = {i: itertools.cycle(w.sender_rooms[i]) for i in range(s.senders)}
    return [Send(w.sender(n % s.senders), next(turn[n % s.senders]), f"{tag}-{n}")
            for n in range(count)]


def send_op(w: Workload, send: Send,
            started: dict[str, float] | None = None) -> Callable[[], Awaitable[str]]:
    async def op() -> str:
        if started is not None:
            started[send.body] = time.monotonic()
        return await w.client.send(send.account, send.room, send.body)
    return op


async def sends(w: Workload) -> None:
    plan = plan_sends(w, w.scale.sends, f"send{w.run_id}")
    result, _ = await measured(w.server, "send", [send_op(w, s) for s in plan],
                               w.scale.send_concurrency)
    w.results.append(result)
