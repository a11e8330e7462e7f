"""The search component: a tantivy index per shard, fed from the room servers' streams.

Sharded by room ID: shard s indexes the searchable events of the rooms
`shard_of(room_id) == s`, in its own folder `<data_dir>/search/<s>` (on a
cluster, on the node the actor runs on). The index is a cache of
PostgreSQL: deleting the folder, or `dendray search rebuild`, makes the
shard index everything again from the `events` table.

Methods:
- `on_new_event(writer, pos)` (room servers, fire and forget): new events.
- `query(request)` (coordinators): one page of this shard's hits.
- `search(user_id, device_id, body, next_batch)` (ingress, on the shard of
  the user's ID): the whole `/search` request, fanned out to the shards.
- `rebuild()`, `progress()` (`dendray search rebuild`).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from actors.context import Context
from actors.search import room_events, store
from actors.search.feeder import Feeder
from search_index.analysis import check_languages, parse_terms
from search_index.index import SearchIndex
from search_index.query import Cursor, Scope, search_page


class SearchService:
    def __init__(self, ctx: Context, shard: int) -> None:
        self.ctx = ctx
        self.shard = shard
        self.shard_count = ctx.config.shard_count("search")
        self.languages = check_languages(ctx.config.search.languages)
        self.path = Path(ctx.config.data_dir) / "search" / str(shard)
        # Tantivy's writer is used from this one thread only.
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix=f"search-{shard}-writer")
        self.index: SearchIndex | None = None
        self.feeder: Feeder | None = None

    async def recover(self) -> None:
        """Open (or recreate) the index and start catching up in the background."""
        loop = asyncio.get_running_loop()
        owner = f"{self.shard}/{self.shard_count}"
        self.index = await loop.run_in_executor(
            self._writer_thread, SearchIndex.open, self.path, self.languages, owner
        )
        self.feeder = Feeder(
            self.ctx.pool, self.index, self._writer_thread, shard=self.shard, owns=self._owns,
            commit_interval=self.ctx.config.search.commit_interval_ms / 1000,
        )
        await self.feeder.start()

    def _owns(self, room_id: str) -> bool:
        return self.ctx.router.shard_for("search", room_id) == self.shard

    def _ready(self) -> tuple[SearchIndex, Feeder]:
        if self.index is None or self.feeder is None:
            raise RuntimeError("the search shard has not recovered yet")
        return self.index, self.feeder

    # --- called by room servers ------------------------------------------------------

    async def on_new_event(self, writer: int, pos: int) -> None:
        """Something was committed at `pos` of `writer`: catch up soon (never waits for it)."""
        self._ready()[1].wake()

    # --- one shard's page (called by the coordinating shard) ---------------------------

    async def query(self, request: dict[str, Any]) -> dict[str, Any]:
        index, _ = self._ready()
        terms = parse_terms(request["term"], self.languages)
        senders = request.get("senders")
        scope = Scope(
            rooms=tuple(r for r in request["rooms"] if self._owns(r)),
            types=tuple(request["types"]),
            senders=tuple(senders) if senders is not None else None,
            not_senders=tuple(request.get("not_senders") or ()),
            contains_url=request.get("contains_url"),
        )
        after = request.get("after")
        page = await asyncio.to_thread(
            search_page, index, terms, scope,
            order=request["order"],
            after=Cursor(after[0], after[1]) if after else None,
            limit=int(request["limit"]),
            generation=request.get("generation"),
            skip_hint=int(request.get("skip_hint", 0)),
            with_count=bool(request.get("count")),
        )
        return {
            "hits": [[h.value, h.event_id, h.rank] for h in page.hits],
            "exhausted": page.exhausted,
            "count": page.count,
            "generation": page.generation,
        }

    # --- the whole request (called by the ingress) ---------------------------------------

    async def search(
        self, user_id: str, device_id: str | None, body: dict[str, Any], next_batch: str | None
    ) -> dict[str, Any]:
        return await room_events.search(
            self.ctx.router, self.languages, user_id, device_id, body, next_batch
        )

    # --- operations ------------------------------------------------------------------------

    async def rebuild(self) -> dict[str, Any]:
        """Empty this shard's index and index every event again from the database."""
        await self._ready()[1].reset()
        return await self.progress()

    async def progress(self) -> dict[str, Any]:
        """How far the index is: positions covered versus the writers' positions."""
        index, feeder = self._ready()
        async with self.ctx.pool.acquire() as conn:
            targets = await store.writer_positions(conn)
        done = sum(min(feeder.positions.get(w, 0), t) for w, t in targets.items())
        return {
            "shard": self.shard,
            "index_id": index.index_id,
            "documents": index.num_docs(),
            "done": done,
            "total": sum(targets.values()),
        }
