"""KeyedLock: one holder per key, in arrival order, even across the hand-over to a waiter."""

from __future__ import annotations

import asyncio

from actors.keyed_lock import KeyedLock


async def test_newcomers_during_a_hand_over_wait_their_turn() -> None:
    locks = KeyedLock()
    inside: list[int] = []
    order: list[int] = []

    async def worker(i: int) -> None:
        async with locks.hold("room"):
            inside.append(i)
            assert len(inside) == 1, f"{inside} hold the same key at once"
            order.append(i)
            await asyncio.sleep(0)
            inside.remove(i)

    tasks = [asyncio.ensure_future(worker(0)), asyncio.ensure_future(worker(1))]
    # Let 0 finish and hand the key to 1, then arrive while 1 is still waking up.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    tasks.append(asyncio.ensure_future(worker(2)))
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_other_keys_do_not_wait() -> None:
    locks = KeyedLock()
    async with locks.hold("a"):
        await asyncio.wait_for(_enter(locks, "b"), 1)


async def _enter(locks: KeyedLock, key: str) -> None:
    async with locks.hold(key):
        pass
