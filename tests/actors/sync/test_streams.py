"""The non-room streams framework: positions in next_batch, room entries, and long-poll wake-ups."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from actors.sync.notifier import Notifier
from actors.sync.streams import StreamOutput, StreamRequest, StreamSource
from actors.sync.sync_token import SyncToken, parse_sync_token

STREAM = "device_lists"  # any named stream; no real source uses it in these tests


class CounterSource(StreamSource):
    """A stream whose changes are numbered 1, 2, ...; each change is one event for a room."""

    name = STREAM

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self.pos = 0

    async def current(self, conn: Any, req: StreamRequest) -> int:
        return self.pos

    async def fill(self, conn: Any, req: StreamRequest, now: int, out: StreamOutput) -> int:
        since = req.since_pos(self.name) or 0
        events = [{"type": "org.example.n", "content": {"n": n}} for n in range(since + 1, now + 1)]
        if self.room_id in req.joined_rooms:
            out.add_room_events(self.room_id, "ephemeral", events)
        return now


def uid(name: str) -> str:
    return f"@{name}{secrets.token_hex(3)}:test.local"


async def test_a_stream_fills_rooms_and_its_position_goes_in_next_batch(room_server, sync) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {}))["room_id"]
    source = CounterSource(room)
    sync.handler.sources = (*sync.handler.sources, source)
    first = await sync.sync(alice, "D")
    assert parse_sync_token(first["next_batch"]).stream_pos(STREAM) == 0
    source.pos = 2
    second = await sync.sync(alice, "D", since=first["next_batch"])
    assert parse_sync_token(second["next_batch"]).stream_pos(STREAM) == 2
    entry = second["rooms"]["join"][room]
    # No timeline news: the room gets an entry of its own for the stream's part.
    assert entry["timeline"] == {"events": [], "limited": False,
                                 "prev_batch": entry["timeline"]["prev_batch"]}
    assert [e["content"]["n"] for e in entry["ephemeral"]["events"]] == [1, 2]
    third = await sync.sync(alice, "D", since=second["next_batch"])
    assert third["rooms"]["join"] == {}


async def test_a_client_token_ahead_of_the_stream_is_kept(room_server, sync) -> None:
    alice = uid("alice")
    source = CounterSource("!none:test.local")
    sync.handler.sources = (*sync.handler.sources, source)
    ahead = SyncToken((), {STREAM: 50}).encode()
    got = await sync.sync(alice, "D", since=ahead)
    assert parse_sync_token(got["next_batch"]).stream_pos(STREAM) == 50


async def test_on_stream_wakes_a_long_poll(room_server, sync) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {}))["room_id"]
    source = CounterSource(room)
    sync.handler.sources = (*sync.handler.sources, source)
    since = (await sync.sync(alice, "D"))["next_batch"]
    poll = asyncio.create_task(sync.sync(alice, "D", since=since, timeout_ms=10_000))
    await asyncio.sleep(0.2)
    assert not poll.done()
    source.pos = 1
    started = time.monotonic()
    await sync.on_stream(STREAM, 1, [alice])
    got = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 1
    assert [e["content"]["n"] for e in got["rooms"]["join"][room]["ephemeral"]["events"]] == [1]


async def test_stream_notifications_follow_the_snapshot_rule() -> None:
    n = Notifier()
    waiter = n.register("@a:x")
    token = SyncToken((5,), {STREAM: 7})
    n.on_stream(STREAM, 7, ["@a:x"])  # already covered by the snapshot
    n.on_stream(STREAM, 9, ["@b:x"])  # someone else's
    n.on_stream("receipts", 0, ["@a:x"])  # not past the token's 0
    assert await waiter.wait_past(token, 0.2) is False
    n.on_stream(STREAM, 8, ["@a:x"])  # arrived while the sync was reading
    assert await waiter.wait_past(token, 5) is True
