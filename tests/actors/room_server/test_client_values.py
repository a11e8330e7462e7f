"""Values a client may not put in an event: 4xx errors, and nothing written.

U+0000 (PostgreSQL cannot store it), `type`/`state_key` over 255 bytes (spec:
Size limits) and, from room version 6, numbers outside strict canonical JSON.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable

import pytest

from actors.room_server.service import RoomServerService
from protocol.errors import MatrixError


def uid(name: str) -> str:
    return f"@{name}{secrets.token_hex(3)}:test.local"


async def refused(
    room_server: RoomServerService, work: Awaitable[object], status: int, errcode: str
) -> None:
    """`work` fails with `status errcode`, and this writer wrote no event."""
    pool = room_server.ctx.pool
    before = await pool.fetchval("SELECT pos FROM writer_positions WHERE writer = 0")
    with pytest.raises(MatrixError) as err:
        await work
    assert (err.value.status, err.value.errcode) == (status, errcode)
    assert await pool.fetchval("SELECT pos FROM writer_positions WHERE writer = 0") == before


async def test_nul_anywhere_in_an_event_is_bad_json(room_server: RoomServerService) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {}))["room_id"]
    send, state = room_server.send_event, room_server.send_state
    await refused(room_server, send(room, alice, "D", "n1", "m.room.message",
                                    {"msgtype": "m.text", "body": "a\x00b"}), 400, "M_BAD_JSON")
    await refused(room_server, send(room, alice, "D", "n2", "m.room.message",
                                    {"nested": {"k\x00": 1}}), 400, "M_BAD_JSON")
    await refused(room_server, send(room, alice, "D", "n3", "org.\x00", {}), 400, "M_BAD_JSON")
    await refused(room_server, state(room, alice, "m.room.topic", "", {"topic": "\x00"}),
                  400, "M_BAD_JSON")
    await refused(room_server, state(room, alice, "org.example", "k\x00", {}), 400, "M_BAD_JSON")
    await refused(room_server, send(room, alice, "D", "t\x00", "m.room.message", {"body": "x"}),
                  400, "M_INVALID_PARAM")
    await refused(room_server, room_server.redact(room, alice, "D", "r1", "$e\x00", None),
                  404, "M_NOT_FOUND")
    await refused(room_server, room_server.create_room(alice, {"name": "a\x00"}),
                  400, "M_BAD_JSON")


@pytest.mark.parametrize("value", [2**53, -(2**53), 1.5])
async def test_v6_and_later_need_strict_canonical_json(
    room_server: RoomServerService, value: float
) -> None:
    alice = uid("alice")
    for version in ("6", "12"):
        room = (await room_server.create_room(alice, {"room_version": version}))["room_id"]
        await refused(room_server, room_server.send_event(
            room, alice, "D", f"s{version}", "m.room.message", {"body": "x", "n": value}),
            400, "M_BAD_JSON")
        await refused(room_server, room_server.create_room(alice, {
            "room_version": version, "creation_content": {"n": value}}), 400, "M_BAD_JSON")
    # Before v6 the numbers were not restricted, and events in those rooms may carry them.
    legacy = (await room_server.create_room(alice, {"room_version": "5"}))["room_id"]
    assert await room_server.send_event(legacy, alice, "D", "l1", "m.room.message",
                                        {"body": "x", "n": value})


async def test_type_and_state_key_are_limited_to_255_bytes(room_server: RoomServerService) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {}))["room_id"]
    longest = "o." + "é" * 126 + "x"  # 255 bytes in UTF-8
    assert len(longest.encode()) == 255
    assert await room_server.send_event(room, alice, "D", "k1", longest, {})
    assert await room_server.send_state(room, alice, "org.example", longest, {})
    await refused(room_server, room_server.send_event(room, alice, "D", "k2", longest + "x", {}),
                  413, "M_TOO_LARGE")
    await refused(room_server, room_server.send_state(room, alice, "org.example", longest + "x",
                                                      {}), 413, "M_TOO_LARGE")


async def test_create_room_checks_is_direct(room_server: RoomServerService) -> None:
    alice, bob = uid("alice"), uid("bob")
    await refused(room_server, room_server.create_room(alice, {
        "invite": [bob], "is_direct": "yes"}), 400, "M_BAD_JSON")
    room = (await room_server.create_room(alice, {"invite": [bob], "is_direct": True}))["room_id"]
    pdu = await room_server.ctx.pool.fetchval(
        "SELECT pdu FROM events WHERE room_id = $1 AND type = 'm.room.member'"
        " AND state_key = $2", room, bob)
    assert pdu["content"] == {"membership": "invite", "is_direct": True}


async def test_a_taken_alias_creates_no_room(room_server: RoomServerService) -> None:
    alice = uid("alice")
    name = f"race{secrets.token_hex(3)}"
    pool = room_server.ctx.pool
    rooms_before = await pool.fetchval("SELECT count(*) FROM rooms WHERE creator = $1", alice)
    results = await asyncio.gather(*(
        room_server.create_room(alice, {"room_alias_name": name, "visibility": "public"})
        for _ in range(3)), return_exceptions=True)
    created = [r for r in results if isinstance(r, dict)]
    refused_ = [r for r in results if isinstance(r, MatrixError)]
    assert len(created) == 1 and len(refused_) == 2
    assert {(e.status, e.errcode) for e in refused_} == {(400, "M_ROOM_IN_USE")}
    rooms_after = await pool.fetchval("SELECT count(*) FROM rooms WHERE creator = $1", alice)
    assert rooms_after == rooms_before + 1
    published = await pool.fetchval(
        "SELECT count(*) FROM room_directory d JOIN rooms r USING (room_id) WHERE r.creator = $1",
        alice)
    assert published == 1
