"""Reading delta chains of state groups, as the room server writes them."""

from __future__ import annotations

import secrets

from actors.sync.state_groups import StateGroupReader, state_delta


async def _group(pool, room: str, prev: int | None, chain_len: int, entries: dict) -> int:
    gid = await pool.fetchval(
        "INSERT INTO state_groups (room_id, prev_group, chain_len) VALUES ($1, $2, $3)"
        " RETURNING id", room, prev, chain_len)
    for (t, sk), eid in entries.items():
        await pool.execute(
            "INSERT INTO state_group_entries (state_group, type, state_key, event_id)"
            " VALUES ($1, $2, $3, $4)", gid, t, sk, eid)
    return gid


async def test_delta_chain_resolves_nearest_first(db_pool) -> None:
    room = f"!{secrets.token_hex(4)}:test.local"
    snap = await _group(db_pool, room, None, 0, {("a", ""): "$a1", ("b", ""): "$b1"})
    d1 = await _group(db_pool, room, snap, 1, {("a", ""): "$a2"})
    d2 = await _group(db_pool, room, d1, 2, {("c", "x"): "$c1", ("a", ""): "$a3"})
    snap2 = await _group(db_pool, room, None, 0, {("z", ""): "$z"})
    reader = StateGroupReader()
    async with db_pool.acquire() as conn:
        states = await reader.full_states(conn, [snap, d1, d2, snap2])
        assert states[snap] == {("a", ""): "$a1", ("b", ""): "$b1"}
        assert states[d1] == {("a", ""): "$a2", ("b", ""): "$b1"}
        assert states[d2] == {("a", ""): "$a3", ("b", ""): "$b1", ("c", "x"): "$c1"}
        assert states[snap2] == {("z", ""): "$z"}
        # Keyed lookups, uncached and cached.
        fresh = StateGroupReader()
        keys = [("a", ""), ("c", "x"), ("q", "")]
        want = {d1: {("a", ""): "$a2"}, d2: {("a", ""): "$a3", ("c", "x"): "$c1"}}
        assert await fresh.entries(conn, [d1, d2], keys) == want
        assert await reader.entries(conn, [d1, d2], keys) == want
        assert await fresh.entries_of_types(conn, d2, ["a", "c"]) == {
            ("a", ""): "$a3", ("c", "x"): "$c1"}
        assert await reader.full_state(conn, None) == {}


async def test_cache_is_bounded(db_pool) -> None:
    room = f"!{secrets.token_hex(4)}:test.local"
    groups = [await _group(db_pool, room, None, 0, {("t", str(i)): f"$e{i}" for i in range(3)})
              for _ in range(4)]
    reader = StateGroupReader(cache_entries=7)
    async with db_pool.acquire() as conn:
        for g in groups:
            await reader.full_state(conn, g)
    assert reader._cached_entries <= 7


def test_state_delta() -> None:
    old = {("a", ""): "$1", ("b", ""): "$2"}
    new = {("a", ""): "$1", ("b", ""): "$3", ("c", ""): "$4"}
    assert state_delta(old, new) == {("b", ""): "$3", ("c", ""): "$4"}
