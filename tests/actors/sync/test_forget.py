"""Forgetting a room (spec: `/forget`): its history is given up until the next membership."""

from __future__ import annotations

import json
import secrets

import pytest

from protocol.errors import MatrixError

INCLUDE_LEAVE = json.dumps({"room": {"include_leave": True}})


def uid(name: str) -> str:
    return f"@{name}{secrets.token_hex(3)}:test.local"


async def raises(code: str, status: int, coro) -> None:
    with pytest.raises(MatrixError) as e:
        await coro
    assert (e.value.errcode, e.value.status) == (code, status)


def bodies(page: dict) -> list[str]:
    return [e["content"]["body"] for e in page["chunk"] if e["type"] == "m.room.message"]


async def test_forgotten_history_is_gone_until_the_user_comes_back(room_server, sync) -> None:
    alice, bob = uid("alice"), uid("bob")
    room = (await room_server.create_room(alice, {"preset": "public_chat"}))["room_id"]
    await room_server.update_membership(room, bob, bob, "join")
    event = await room_server.send_event(room, alice, "A", "f1", "m.room.message",
                                         {"msgtype": "m.text", "body": "before"})
    await room_server.update_membership(room, bob, bob, "leave")

    # Left but remembered: the history up to the leave stays readable.
    assert bodies(await sync.messages(bob, "B", room, direction="b")) == ["before"]
    assert (await sync.event(bob, "B", room, event))["content"]["body"] == "before"
    assert room in (await sync.sync(bob, "B", filter=INCLUDE_LEAVE))["rooms"]["leave"]

    await room_server.forget_room(room, bob)
    await raises("M_FORBIDDEN", 403, sync.messages(bob, "B", room, direction="b"))
    await raises("M_FORBIDDEN", 403, sync.state(bob, "B", room))
    await raises("M_FORBIDDEN", 403, sync.members(bob, "B", room))
    await raises("M_NOT_FOUND", 404, sync.event(bob, "B", room, event))
    await raises("M_NOT_FOUND", 404, sync.context(bob, "B", room, event))
    assert room not in (await sync.sync(bob, "B", filter=INCLUDE_LEAVE))["rooms"]["leave"]

    # Joining again ends the forgetting: after the next leave the room is remembered.
    await room_server.update_membership(room, bob, bob, "join")
    await room_server.update_membership(room, bob, bob, "leave")
    assert "before" in bodies(await sync.messages(bob, "B", room, direction="b"))
    assert room in (await sync.sync(bob, "B", filter=INCLUDE_LEAVE))["rooms"]["leave"]
