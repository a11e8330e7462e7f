"""Feeding one search shard's index from the room servers' event streams.

Each room-server shard is a writer whose positions commit in order, so
"every event of writer w up to position p" is a well-defined prefix. The
feeder keeps, per writer, the position up to which its index holds every
searchable event of the shard's rooms (the watermark) and moves it forward:

1. read the writers' committed positions (the targets);
2. read each writer's searchable events and redactions after the watermark,
   up to the target, in batches; index the ones in rooms this shard owns,
   and delete the targets of applied redactions;
3. commit the index (at most every `commit_interval` seconds, and every
   `COMMIT_EVERY` documents during a long catch-up), then save the watermark
   in PostgreSQL.

A wake-up from a room server (`wake`) starts a round; a timer starts one
anyway every `poll_interval` seconds, so a lost wake-up costs latency only.
The send path never waits for any of this. After a crash the index resumes
from the saved watermark; events it may already hold are re-added with
replace semantics (see `SearchIndex`), so nothing is indexed twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import asyncpg

from actors.search import store
from search_index.index import SearchIndex

log = logging.getLogger("dendray.search")

T = TypeVar("T")

BATCH = 1000
COMMIT_EVERY = 20_000


class Feeder:
    def __init__(
        self,
        pool: asyncpg.Pool,
        index: SearchIndex,
        executor: Executor,
        *,
        shard: int,
        owns: Callable[[str], bool],
        commit_interval: float = 0.5,
        poll_interval: float = 5.0,
    ) -> None:
        self.pool = pool
        self.index = index
        self.executor = executor
        self.shard = shard
        self.owns = owns
        self.commit_interval = commit_interval
        self.poll_interval = poll_interval
        self.positions: dict[int, int] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._last_commit = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        """Index writes run on the one writer thread, never on the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def start(self) -> None:
        async with self.pool.acquire() as conn:
            self.positions = await store.attach(conn, self.shard, self.index.index_id)
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.wake()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            # Gather what arrives meanwhile into one commit.
            delay = self._last_commit + self.commit_interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("search shard %d: feeding the index failed; retrying", self.shard)
                await asyncio.sleep(1.0)
                self.wake()

    async def catch_up(self) -> int:
        """Index everything committed so far; returns how many documents changed."""
        async with self._lock:
            try:
                return await self._catch_up()
            except BaseException:
                # Forget uncommitted work and go back to the saved watermark.
                await self._in_writer(self.index.rollback)
                async with self.pool.acquire() as conn:
                    self.positions = await store.attach(conn, self.shard, self.index.index_id)
                raise

    async def _catch_up(self) -> int:
        async with self.pool.acquire() as conn:
            targets = await store.writer_positions(conn)
        positions = dict(self.positions)
        changed = 0
        uncommitted = 0
        moved = False
        for writer, target in sorted(targets.items()):
            while positions.get(writer, 0) < target:
                after = positions.get(writer, 0)
                async with self.pool.acquire() as conn:
                    rows = await store.read_feed(conn, writer, after, target, BATCH)
                mine = [r for r in rows if self.owns(r.room_id)]
                if mine:
                    done = await self._in_writer(_apply, self.index, mine)
                    changed += done
                    uncommitted += done
                positions[writer] = rows[-1].stream_pos if len(rows) == BATCH else target
                moved = True
                if uncommitted >= COMMIT_EVERY:
                    await self._commit(positions)
                    uncommitted = 0
        if uncommitted:
            await self._commit(positions)
        elif moved:
            await self._save(positions)
        return changed

    async def _commit(self, positions: dict[int, int]) -> None:
        await self._in_writer(self.index.commit, dict(positions))
        self._last_commit = time.monotonic()
        await self._save(positions)

    async def _save(self, positions: dict[int, int]) -> None:
        async with self.pool.acquire() as conn:
            saved = await store.save(conn, self.shard, self.index.index_id, positions)
        if not saved:
            raise RuntimeError("the search index was replaced while it was being fed")
        self.positions = dict(positions)

    async def reset(self) -> None:
        """Empty the index under a new ID and feed it again from the start (a rebuild)."""
        async with self._lock:
            new_id = await self._in_writer(self.index.reset)
            async with self.pool.acquire() as conn:
                self.positions = await store.attach(conn, self.shard, new_id)
        self.wake()


def _apply(index: SearchIndex, rows: list[store.FeedRow]) -> int:
    done = 0
    for row in rows:
        if row.redacts is not None:
            index.delete(row.redacts)
            done += 1
        elif row.event is not None and index.add(row.event):
            done += 1
    return done
