"""The timer heap: due keys in order, rescheduling, cancelling, and no work while idle."""

from __future__ import annotations

import asyncio

from actors.context import now_ms
from actors.timer_heap import TimerHeap
from tests.actors.ephemeral.conftest import FakeClock


async def _nothing(keys: list[str], now: int) -> None:
    raise AssertionError("the timer must not fire in this test")


async def test_due_pops_in_deadline_order_and_honours_reschedule_and_cancel() -> None:
    clock = FakeClock()
    heap: TimerHeap[str] = TimerHeap(_nothing, clock)
    t = clock()
    heap.schedule("a", t + 300_000)
    heap.schedule("b", t + 100_000)
    heap.schedule("c", t + 200_000)
    heap.schedule("a", t + 50_000)  # moved earlier: the old entry is stale
    heap.cancel("c")
    assert heap.due(t + 49_999) == []
    assert heap.due(t + 150_000) == ["a", "b"]
    assert heap.due(t + 10**9) == []
    assert len(heap) == 0
    heap.stop()


async def test_the_task_fires_due_keys_without_being_polled() -> None:
    fired: list[tuple[list[str], int]] = []
    done = asyncio.Event()

    async def on_due(keys: list[str], now: int) -> None:
        fired.append((keys, now))
        done.set()

    calls = 0

    def counting_clock() -> int:
        nonlocal calls
        calls += 1
        return now_ms()

    heap: TimerHeap[str] = TimerHeap(on_due, counting_clock)
    start = now_ms()
    heap.schedule("later", start + 600_000)
    heap.schedule("soon", start + 80)
    await asyncio.wait_for(done.wait(), 2)
    assert fired[0][0] == ["soon"] and fired[0][1] >= start + 80
    # Now only a deadline ten minutes away: the task sleeps, it does not poll.
    before = calls
    await asyncio.sleep(0.3)
    assert calls - before <= 1
    assert heap.deadline("later") == start + 600_000
    heap.stop()


async def test_a_failing_callback_does_not_stop_later_deadlines() -> None:
    seen: list[str] = []
    done = asyncio.Event()

    async def on_due(keys: list[str], now: int) -> None:
        seen.extend(keys)
        if "second" in keys:
            done.set()
        else:
            raise RuntimeError("boom")

    heap: TimerHeap[str] = TimerHeap(on_due, now_ms)
    heap.schedule("first", now_ms() + 10)
    heap.schedule("second", now_ms() + 60)
    await asyncio.wait_for(done.wait(), 2)
    assert seen == ["first", "second"]
    heap.stop()
