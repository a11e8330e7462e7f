"""The notifier: race-free wake-ups, stale notifications, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import time

from actors.sync.notifier import Notifier
from actors.sync.sync_token import SyncToken

ALICE = "@alice:x"
BOB = "@bob:x"


async def test_a_notification_past_the_snapshot_wakes_the_waiter() -> None:
    n = Notifier()
    waiter = n.register(ALICE)
    task = asyncio.create_task(waiter.wait_past(SyncToken((5,)), 5))
    await asyncio.sleep(0.01)
    n.on_new_event(0, 6, "!r:x", [ALICE])
    assert await asyncio.wait_for(task, 1) is True


async def test_a_notification_before_the_wait_is_not_lost() -> None:
    n = Notifier()
    waiter = n.register(ALICE)
    # Arrives while the sync is still reading the database.
    n.on_new_event(1, 3, "!r:x", [ALICE])
    start = time.monotonic()
    assert await waiter.wait_past(SyncToken((0, 2)), 5) is True
    assert time.monotonic() - start < 0.5


async def test_stale_and_foreign_notifications_do_not_end_the_wait() -> None:
    n = Notifier()
    waiter = n.register(ALICE)
    task = asyncio.create_task(waiter.wait_past(SyncToken((5,)), 0.3))
    await asyncio.sleep(0.01)
    n.on_new_event(0, 5, "!r:x", [ALICE])  # already in the response
    n.on_new_event(0, 9, "!r:x", [BOB])  # someone else's
    assert await task is False


async def test_cancellation_leaves_no_waiter_behind() -> None:
    n = Notifier()

    async def long_poll() -> None:
        waiter = n.register(ALICE)
        try:
            await waiter.wait_past(SyncToken((1,)), 30)
        finally:
            n.unregister(waiter)

    task = asyncio.create_task(long_poll())
    await asyncio.sleep(0.01)
    assert n.waiting_users() == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert n.waiting_users() == 0
    n.on_new_event(0, 2, "!r:x", [ALICE])


def test_current_is_the_highest_position_heard() -> None:
    n = Notifier()
    n.advance(SyncToken((4, 1)))
    n.on_new_event(1, 7, "!r:x", [])
    n.on_new_event(0, 2, "!r:x", [])  # out of order: never moves back
    assert n.current == SyncToken((4, 7))
