"""`POST /search`, category `room_events`: fan out to the shards, merge, keep what the user may see.

The search shard chosen by the user's ID coordinates:

1. the sync component names the rooms the user may search (joined, or
   joined once and left); the request's filter and a group token narrow them;
2. each search shard holding some of those rooms returns its best hits after
   the cursor; the merge keeps the best `limit` of all, in the one total
   order, and moves the cursor to the last of them;
3. the sync component keeps the hits the user may see (history visibility,
   no redacted events) and serves them; if that leaves the page short, the
   next hits are fetched, a few rounds at most;
4. context, profiles, room state, highlights, groups and `next_batch` are
   added. `count` is the shards' count of matching documents in the user's
   rooms: an estimate, since it includes events hidden by history visibility.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from actors.search.batch_token import BatchToken, decode
from actors.search.request import RoomEventsCriteria, parse_search_body
from protocol.errors import invalid_param
from search_index.analysis import QueryTerms, highlights, parse_terms
from search_index.documents import searchable_text
from search_index.query import Cursor
from sharding.router import Router

# Rounds of "fetch the next hits" when history visibility hides some of them.
MAX_ROUNDS = 4


@dataclass(frozen=True)
class _Hit:
    value: float | int
    event_id: str
    rank: float
    shard: int


async def search(
    router: Router, languages: tuple[str, ...], user_id: str, device_id: str | None,
    body: dict[str, Any], next_batch: str | None,
) -> dict[str, Any]:
    criteria = parse_search_body(body)
    token = decode(next_batch) if next_batch is not None else None
    if criteria is None:
        return {"search_categories": {}}
    if token is not None and token.order != criteria.order:
        raise invalid_param("next_batch belongs to a search with another order_by")
    search = _RoomEventsSearch(router, languages, user_id, device_id, criteria, token)
    return {"search_categories": {"room_events": await search.run()}}


class _RoomEventsSearch:
    def __init__(
        self, router: Router, languages: tuple[str, ...], user_id: str, device_id: str | None,
        criteria: RoomEventsCriteria, token: BatchToken | None,
    ) -> None:
        self.router = router
        self.languages = languages
        self.user_id = user_id
        self.device_id = device_id
        self.criteria = criteria
        self.token = token
        self.terms: QueryTerms = parse_terms(criteria.search_term, languages)

    async def run(self) -> dict[str, Any]:
        c = self.criteria
        rooms, senders = await self._scope()
        by_shard: dict[int, list[str]] = {}
        for room in rooms:
            by_shard.setdefault(self.router.shard_for("search", room), []).append(room)
        if self.terms.empty or not by_shard or not c.types or c.limit == 0 or senders == []:
            return self._response([], 0, None)
        results, count, next_token = await self._collect(by_shard, senders)
        return await self._finish(results, count, next_token)

    async def _scope(self) -> tuple[list[str], list[str] | None]:
        f = self.criteria.filter
        rooms = await self.router.call(
            "sync", self.user_id, "searchable_rooms", self.user_id, idempotent=True
        )
        rooms = [r for r in rooms if f.matches_room(r)]
        senders = list(f.senders) if f.senders is not None else None
        group = self.token.group if self.token is not None else None
        if group is not None and group[0] == "room_id":
            rooms = [r for r in rooms if r == group[1]]
        elif group is not None:
            senders = [s for s in (senders if senders is not None else [group[1]]) if s == group[1]]
        return rooms, senders

    def _shard_request(
        self, rooms: list[str], senders: list[str] | None, after: Cursor | None, limit: int,
        generation: str | None, skip_hint: int, with_count: bool,
    ) -> dict[str, Any]:
        f = self.criteria.filter
        return {
            "term": self.criteria.search_term,
            "rooms": rooms,
            "types": list(self.criteria.types),
            "senders": senders,
            "not_senders": list(f.not_senders),
            "contains_url": f.contains_url,
            "order": self.criteria.order,
            "after": [after.value, after.event_id] if after is not None else None,
            "limit": limit,
            "generation": generation,
            "skip_hint": skip_hint,
            "count": with_count,
        }

    async def _collect(
        self, by_shard: dict[int, list[str]], senders: list[str] | None
    ) -> tuple[list[tuple[_Hit, dict[str, Any]]], int, BatchToken | None]:
        limit = self.criteria.limit
        cursor = self.token.cursor if self.token is not None else None
        served = self.token.served if self.token is not None else 0
        generations = dict(self.token.generations) if self.token is not None else {}
        results: list[tuple[_Hit, dict[str, Any]]] = []
        count = 0
        pending = set(by_shard)
        for round_no in range(MAX_ROUNDS):
            want = limit - len(results)
            shards = sorted(pending)
            pages = await asyncio.gather(*(
                self.router.call_shard("search", shard, "query", self._shard_request(
                    by_shard[shard], senders, cursor, want, generations.get(shard), served,
                    round_no == 0,
                ), idempotent=True)
                for shard in shards
            ))
            merged: list[_Hit] = []
            for shard, page in zip(shards, pages, strict=True):
                generations[shard] = page["generation"]
                count += page["count"] or 0
                merged += [_Hit(v, eid, rank, shard) for v, eid, rank in page["hits"]]
            merged.sort(key=lambda h: (h.value, h.event_id), reverse=True)
            taken, left = merged[:want], merged[want:]
            for shard, page in zip(shards, pages, strict=True):
                if page["exhausted"] and not any(h.shard == shard for h in left):
                    pending.discard(shard)
            if taken:
                cursor = Cursor(taken[-1].value, taken[-1].event_id)
                served += len(taken)
                events = await self.router.call(
                    "sync", self.user_id, "search_events", self.user_id, self.device_id,
                    [h.event_id for h in taken], idempotent=True,
                )
                by_id = {e["event_id"]: e for e in events}
                results += [(h, by_id[h.event_id]) for h in taken if h.event_id in by_id]
            if not pending or len(results) >= limit:
                break
        next_token = None
        if pending and cursor is not None:
            group = self.token.group if self.token is not None else None
            next_token = BatchToken(self.criteria.order, cursor, served, generations, group)
        return results, count, next_token

    async def _finish(
        self, results: list[tuple[_Hit, dict[str, Any]]], count: int, next_token: BatchToken | None
    ) -> dict[str, Any]:
        c = self.criteria
        ids = [e["event_id"] for _, e in results]
        contexts: dict[str, Any] = {}
        if c.context is not None and ids:
            contexts = await self.router.call(
                "sync", self.user_id, "search_context", self.user_id, self.device_id, ids,
                before_limit=c.context.before_limit, after_limit=c.context.after_limit,
                include_profile=c.context.include_profile, idempotent=True,
            )
        out = self._response(
            [
                {"rank": h.rank, "result": e, **({"context": contexts[h.event_id]}
                                                  if h.event_id in contexts else {})}
                for h, e in results
            ],
            count, next_token,
        )
        if c.include_state:
            rooms = list(dict.fromkeys(e["room_id"] for _, e in results))
            out["state"] = await self.router.call(
                "sync", self.user_id, "search_room_states", self.user_id, self.device_id, rooms,
                idempotent=True,
            ) if rooms else {}
        return out

    def _response(
        self, results: list[dict[str, Any]], count: int, next_token: BatchToken | None
    ) -> dict[str, Any]:
        texts = [
            t for r in results
            if (t := searchable_text(r["result"].get("type", ""), r["result"].get("content")))
        ]
        out: dict[str, Any] = {
            "count": count,
            "results": results,
            "highlights": highlights(self.terms, texts, self.languages),
        }
        if self.criteria.group_by:
            out["groups"] = _groups(self.criteria.group_by, results, next_token)
        if self.criteria.include_state and not results:
            out["state"] = {}
        if next_token is not None:
            out["next_batch"] = next_token.encode()
        return out


def _groups(
    keys: tuple[str, ...], results: list[dict[str, Any]], next_token: BatchToken | None
) -> dict[str, dict[str, Any]]:
    """Results grouped by room or sender; a group's token continues within the group."""
    groups: dict[str, dict[str, Any]] = {}
    for key in keys:
        by_value: dict[str, dict[str, Any]] = {}
        for r in results:
            value = r["result"].get(key, "")
            entry = by_value.setdefault(value, {"results": [], "order": len(by_value) + 1})
            entry["results"].append(r["result"]["event_id"])
        if next_token is not None:
            for value, entry in by_value.items():
                entry["next_batch"] = next_token.in_group(key, value).encode()
        groups[key] = by_value
    return groups
