"""The typing service: timeouts by timer (injected clock), positions, and the sync's view across shards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.sync.event_access import Viewer
from actors.sync.filters import SyncFilter
from actors.sync.stream_typing import TypingSource
from actors.sync.streams import StreamOutput, StreamRequest
from actors.typing.service import TypingService
from protocol.errors import MatrixError
from tests.actors.ephemeral.conftest import FakeClock, join, new_room, new_user


def typing_service(ctx: Any, clock: FakeClock, shard: int = 0) -> TypingService:
    return TypingService(ctx, shard, clock_ms=clock, clock_us=clock.us)


async def test_a_timeout_ends_typing_without_any_client_call(make_ctx, clock, router) -> None:
    svc = typing_service(make_ctx(), clock)
    room, alice = new_room(), new_user("alice")
    await join(svc.ctx.pool, room, alice)
    since = await svc.clock()
    await svc.set_typing(alice, room, alice, {"typing": True, "timeout": 1000})
    assert svc.typing_users(room) == [alice]
    clock.advance(999)
    svc.expire_due()
    assert svc.typing_users(room) == [alice]
    clock.advance(2)
    svc.expire_due()
    assert svc.typing_users(room) == []
    upto = await svc.clock()
    assert await svc.changes([room], since, upto, []) == {room: []}
    await asyncio.sleep(0.05)  # the wake-ups look up the members first
    assert router.woken("typing")[alice] > since


async def test_refreshing_a_timeout_is_not_a_change(make_ctx, clock) -> None:
    svc = typing_service(make_ctx(), clock)
    room, alice = new_room(), new_user()
    await join(svc.ctx.pool, room, alice)
    await svc.set_typing(alice, room, alice, {"typing": True, "timeout": 1000})
    after_start = await svc.clock()
    clock.advance(800)
    await svc.set_typing(alice, room, alice, {"typing": True, "timeout": 1000})
    assert await svc.changes([room], after_start, await svc.clock(), []) == {}
    clock.advance(900)  # past the first timeout, not the refreshed one
    svc.expire_due()
    assert svc.typing_users(room) == [alice]


async def test_changes_after_the_sync_position_wait_for_the_next_sync(make_ctx, clock) -> None:
    svc = typing_service(make_ctx(), clock)
    room, alice = new_room(), new_user()
    await join(svc.ctx.pool, room, alice)
    since = await svc.clock()
    upto = await svc.clock()
    # In the same microsecond as the reading, and still above it.
    svc.start(room, alice, clock() + 5000)
    assert await svc.changes([room], since, upto, []) == {}
    assert await svc.changes([room], upto, await svc.clock(), []) == {room: [alice]}
    # A new room gets its current list whatever the positions.
    assert await svc.changes([room], upto, upto, [room]) == {room: [alice]}


async def test_only_yourself_only_when_joined_and_well_formed(make_ctx, clock) -> None:
    svc = typing_service(make_ctx(), clock)
    room, alice, bob = new_room(), new_user(), new_user()
    await join(svc.ctx.pool, room, alice)
    for requester, user, body, code in [
        (alice, bob, {"typing": True, "timeout": 10}, "M_FORBIDDEN"),
        (bob, bob, {"typing": True, "timeout": 10}, "M_FORBIDDEN"),
        (alice, alice, {"typing": 1}, "M_BAD_JSON"),
        (alice, alice, {"typing": True, "timeout": -1}, "M_BAD_JSON"),
        (alice, alice, {"typing": True, "timeout": True}, "M_BAD_JSON"),
    ]:
        with pytest.raises(MatrixError) as e:
            await svc.set_typing(requester, room, user, body)
        assert e.value.errcode == code
    assert svc.typing_users(room) == []


class ShardRouter:
    """call_shard to in-process typing services; shard_for by a fixed room map."""

    def __init__(self, shards: dict[int, TypingService], rooms: dict[str, int]) -> None:
        self.shards = shards
        self.rooms = rooms

    def shard_for(self, component: str, key: str) -> int:
        return self.rooms[key]

    async def call_shard(self, component: str, shard: int, method: str, *args: Any) -> Any:
        return await getattr(self.shards[shard], method)(*args)


async def test_the_sync_never_misses_a_change_on_a_shard_with_a_slower_clock(make_ctx) -> None:
    fast, slow = FakeClock(), FakeClock()
    slow.advance(-10_000)  # ten seconds behind
    ctx = make_ctx()
    a, b = typing_service(ctx, fast, 0), typing_service(ctx, slow, 1)
    room_a, room_b, alice = new_room(), new_room(), new_user()
    await join(ctx.pool, room_a, alice)
    await join(ctx.pool, room_b, alice)
    source_ctx = make_ctx()
    source_ctx.router = ShardRouter({0: a, 1: b}, {room_a: 0, room_b: 1})
    source = TypingSource(source_ctx)

    async def sync(since: int | None, rooms: tuple[str, ...] = (room_a, room_b)
                   ) -> tuple[int, StreamOutput]:
        req = StreamRequest(Viewer(alice), SyncFilter(), _token(since), False, rooms)
        out = StreamOutput()
        now = await source.current(None, req)
        return await source.fill(None, req, now, out), out

    pos, _ = await sync(0)
    # Both shards change after the sync read them; the slow one's positions
    # are far below the fast one's clock.
    a.start(room_a, alice, fast() + 60_000)
    b.start(room_b, alice, slow() + 60_000)
    pos2, out = await sync(pos)
    assert set(out.rooms) == {room_a, room_b}
    pos3, out = await sync(pos2)
    assert out.rooms == {} and pos3 >= pos2
    # A token from the fast shard, then only the slow shard's room: its
    # changes still land above the token.
    fast.advance(60_000)
    fast_only, _ = await sync(pos3, (room_a,))
    slow_pos, _ = await sync(fast_only, (room_b,))
    b.stop(room_b, alice)
    _, out = await sync(slow_pos, (room_b,))
    assert out.rooms == {room_b: {"ephemeral": [{"type": "m.typing", "content": {"user_ids": []}}]}}


def _token(typing_pos: int | None) -> Any:
    from actors.sync.sync_token import SyncToken

    return None if typing_pos is None else SyncToken((), {"typing": typing_pos})
