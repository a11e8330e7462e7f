"""Running a phase: concurrency, latencies, errors and the server's CPU-seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.harness.cpu import cpu_between, cpu_by_role, cpu_reading


class Server(Protocol):
    name: str
    client_url: str

    def pids(self) -> set[int]: ...


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


@dataclass
class PhaseResult:
    name: str
    ops: int = 0
    errors: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    cpu_by_role: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""
    note: str = ""

    def summary(self) -> dict[str, Any]:
        def ms(q: float) -> float | None:
            v = percentile(self.latencies, q)
            return None if v is None else round(v * 1000, 2)

        return {
            "ops": self.ops, "errors": self.errors, "wall_s": round(self.wall_s, 3),
            "throughput_per_s": round(self.ops / self.wall_s, 2) if self.wall_s else None,
            "p50_ms": ms(50), "p95_ms": ms(95), "p99_ms": ms(99),
            "cpu_s": round(self.cpu_s, 3),
            "cpu_ms_per_op": round(self.cpu_s / self.ops * 1000, 3) if self.ops else None,
            "cpu_s_by_role": self.cpu_by_role,
            "first_error": self.first_error, "note": self.note,
        }


class Meter:
    """CPU and wall time of the server between `start()` and `stop()`."""

    def __init__(self, server: Server, result: PhaseResult) -> None:
        self.server = server
        self.result = result

    def start(self) -> None:
        self._cpu = cpu_reading(self.server.pids())
        self._t0 = time.monotonic()

    def stop(self) -> None:
        self.result.wall_s = time.monotonic() - self._t0
        after = cpu_reading(self.server.pids())
        self.result.cpu_s = cpu_between(self._cpu, after)
        self.result.cpu_by_role = cpu_by_role(self._cpu, after)


async def run_concurrent(result: PhaseResult, ops: Iterable[Callable[[], Awaitable[Any]]],
                         concurrency: int) -> list[Any]:
    """Run `ops` with at most `concurrency` in flight; record latencies and failures."""
    queue = list(ops)
    outputs: list[Any] = [None] * len(queue)
    cursor = iter(range(len(queue)))

    async def worker() -> None:
        for i in cursor:
            t0 = time.monotonic()
            try:
                outputs[i] = await queue[i]()
            except Exception as e:  # a failed request is a data point, not the end of the run
                result.errors += 1
                result.first_error = result.first_error or f"{type(e).__name__}: {e}"[:300]
                continue
            result.latencies.append(time.monotonic() - t0)
            result.ops += 1

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return outputs


async def measured(server: Server, name: str, ops: Iterable[Callable[[], Awaitable[Any]]],
                   concurrency: int) -> tuple[PhaseResult, list[Any]]:
    result = PhaseResult(name)
    meter = Meter(server, result)
    meter.start()
    outputs = await run_concurrent(result, ops, concurrency)
    meter.stop()
    return result, outputs
