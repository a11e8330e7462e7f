"""One writer per room: concurrent writes to a room run one after another, never alongside."""

from __future__ import annotations

import asyncio
import secrets

from actors.room_server.service import RoomServerService


async def test_writes_arriving_while_others_wait_stay_in_order(
    room_server: RoomServerService,
) -> None:
    alice = f"@alice{secrets.token_hex(3)}:test.local"
    room = (await room_server.create_room(alice, {}))["room_id"]
    sends = []
    # Arrivals spread over time: new writes come while earlier ones hold or wait for
    # the room, including the moment a finished write hands the room to the next.
    for i in range(40):
        sends.append(asyncio.ensure_future(room_server.send_event(
            room, alice, "D", f"w{i}", "m.room.message", {"msgtype": "m.text", "body": str(i)})))
        await asyncio.sleep(0.001 * (i % 4))
    event_ids = await asyncio.gather(*sends)
    assert len(set(event_ids)) == 40
    rows = await room_server.ctx.pool.fetch(
        "SELECT room_seq, depth FROM events WHERE room_id = $1 ORDER BY room_seq", room)
    assert [r["room_seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["depth"] for r in rows] == list(range(1, len(rows) + 1))
