"""Reading state groups: the state of a room before or after each event.

The room server writes them (`state_groups`, `state_group_entries`): a group
is either a snapshot (`prev_group IS NULL`, holding every entry) or a delta on
its parent holding only the keys that changed. A group's state is therefore
its chain's entries, the nearest group winning for each key. One recursive
query resolves many groups at once, optionally only for some keys (history
visibility needs two keys for many events; a full `/sync` needs everything).

Groups never change once written, so full states are cached here, bounded by
the number of entries held.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

StateKey = tuple[str, str]
StateMap = dict[StateKey, str]

_CHAIN = """
WITH RECURSIVE chain(start, grp, depth) AS (
    SELECT id, id, 0 FROM state_groups WHERE id = ANY($1::bigint[])
  UNION ALL
    SELECT c.start, g.prev_group, c.depth + 1
    FROM chain c JOIN state_groups g ON g.id = c.grp
    WHERE g.prev_group IS NOT NULL
)
SELECT DISTINCT ON (c.start, e.type, e.state_key) c.start, e.type, e.state_key, e.event_id
FROM chain c JOIN state_group_entries e ON e.state_group = c.grp
"""
_ORDER = " ORDER BY c.start, e.type, e.state_key, c.depth"

_FULL = _CHAIN + _ORDER
_BY_KEYS = (
    _CHAIN
    + " WHERE (e.type, e.state_key) IN (SELECT * FROM unnest($2::text[], $3::text[]))"
    + _ORDER
)
_BY_TYPES = _CHAIN + " WHERE e.type = ANY($2::text[])" + _ORDER

# Entries held by the cache of full states (a few large rooms or many small ones).
DEFAULT_CACHE_ENTRIES = 200_000


class StateGroupReader:
    def __init__(self, cache_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self._cache: OrderedDict[int, StateMap] = OrderedDict()
        self._cached_entries = 0
        self._budget = cache_entries

    def _remember(self, group: int, state: StateMap) -> None:
        if len(state) > self._budget:
            return
        self._cache[group] = state
        self._cached_entries += len(state)
        while self._cached_entries > self._budget:
            _, evicted = self._cache.popitem(last=False)
            self._cached_entries -= len(evicted)

    def _cached(self, group: int) -> StateMap | None:
        state = self._cache.get(group)
        if state is not None:
            self._cache.move_to_end(group)
        return state

    async def full_states(self, conn: Any, groups: Iterable[int]) -> dict[int, StateMap]:
        """The whole state of each group (the returned maps must not be modified)."""
        wanted = {g for g in groups if g is not None}
        out: dict[int, StateMap] = {}
        missing = []
        for g in wanted:
            state = self._cached(g)
            if state is None:
                missing.append(g)
            else:
                out[g] = state
        if missing:
            loaded: dict[int, StateMap] = {g: {} for g in missing}
            for row in await conn.fetch(_FULL, missing):
                loaded[row["start"]][(row["type"], row["state_key"])] = row["event_id"]
            for g, state in loaded.items():
                self._remember(g, state)
                out[g] = state
        return out

    async def full_state(self, conn: Any, group: int | None) -> StateMap:
        if group is None:
            return {}
        return (await self.full_states(conn, [group]))[group]

    async def entries(
        self, conn: Any, groups: Iterable[int], keys: Iterable[StateKey]
    ) -> dict[int, StateMap]:
        """Only the given keys of each group's state (cached full states answer first)."""
        keys = list(dict.fromkeys(keys))
        wanted = {g for g in groups if g is not None}
        out: dict[int, StateMap] = {}
        missing = []
        for g in wanted:
            state = self._cached(g)
            if state is None:
                missing.append(g)
            else:
                out[g] = {k: state[k] for k in keys if k in state}
        if missing and keys:
            loaded: dict[int, StateMap] = {g: {} for g in missing}
            rows = await conn.fetch(
                _BY_KEYS, missing, [k[0] for k in keys], [k[1] for k in keys]
            )
            for row in rows:
                loaded[row["start"]][(row["type"], row["state_key"])] = row["event_id"]
            out.update(loaded)
        for g in missing:
            out.setdefault(g, {})
        return out

    async def entries_of_types(
        self, conn: Any, group: int | None, types: Iterable[str]
    ) -> StateMap:
        """Every entry of the given types in one group's state (e.g. all members)."""
        if group is None:
            return {}
        types = list(types)
        state = self._cached(group)
        if state is not None:
            return {k: v for k, v in state.items() if k[0] in types}
        rows = await conn.fetch(_BY_TYPES, [group], types)
        return {(row["type"], row["state_key"]): row["event_id"] for row in rows}


def state_delta(old: StateMap, new: StateMap) -> StateMap:
    """The entries of `new` that `old` does not have (state never loses keys)."""
    return {k: v for k, v in new.items() if old.get(k) != v}
