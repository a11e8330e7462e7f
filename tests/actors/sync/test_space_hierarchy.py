"""GET /_matrix/federation/v1/hierarchy/{roomId} through the sync service."""

from __future__ import annotations

import secrets

import pytest

from protocol.errors import MatrixError
from tests.openapi import SERVER_SERVER, assert_matches

ORIGIN = "remote.example"


async def test_space_with_open_private_restricted_and_unknown_children(room_server, sync) -> None:
    alice = f"@alice{secrets.token_hex(3)}:test.local"
    space = (await room_server.create_room(alice, {
        "preset": "public_chat", "name": "Space", "creation_content": {"type": "m.space"}}))[
        "room_id"]
    public = (await room_server.create_room(alice, {"preset": "public_chat", "name": "Pub"}))[
        "room_id"]
    private = (await room_server.create_room(alice, {"preset": "private_chat"}))["room_id"]
    restricted = (await room_server.create_room(alice, {"preset": "private_chat"}))["room_id"]
    await room_server.send_state(restricted, alice, "m.room.join_rules", "", {
        "join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]})
    unknown = "!unknown:elsewhere.example"
    for child, suggested in ((public, True), (private, False), (restricted, False),
                             (unknown, True)):
        await room_server.send_state(space, alice, "m.space.child", child,
                                     {"via": ["test.local"], "suggested": suggested})
    # No `via`: not a child (spec: how a link is removed).
    await room_server.send_state(space, alice, "m.space.child", "!gone:test.local", {})

    answer = await sync.federation_hierarchy(ORIGIN, space, False)
    assert_matches("space_hierarchy.yaml", "/hierarchy/{roomId}", "get", 200, answer,
                   api=SERVER_SERVER)
    room = answer["room"]
    assert (room["room_id"], room["room_type"], room["name"]) == (space, "m.space", "Space")
    assert sorted(c["state_key"] for c in room["children_state"]) == sorted(
        [public, private, restricted, unknown])
    assert all(c["sender"] == alice and c["origin_server_ts"] > 0 for c in room["children_state"])
    # The asking server is in no room here: only the public child is open to it.
    assert [c["room_id"] for c in answer["children"]] == [public]
    assert sorted(answer["inaccessible_children"]) == sorted([private, restricted])

    # Once one of its users is in the space, the restricted child opens up to it.
    await room_server.update_membership(space, f"@bob:{ORIGIN}", f"@bob:{ORIGIN}", "join")
    answer = await sync.federation_hierarchy(ORIGIN, space, False)
    by_id = {c["room_id"]: c for c in answer["children"]}
    assert set(by_id) == {public, restricted}
    assert by_id[restricted]["allowed_room_ids"] == [space]

    suggested = await sync.federation_hierarchy(ORIGIN, space, True)
    assert sorted(c["state_key"] for c in suggested["room"]["children_state"]) == sorted(
        [public, unknown])
    assert [c["room_id"] for c in suggested["children"]] == [public]


async def test_rooms_the_asking_server_cannot_see(room_server, sync) -> None:
    alice = f"@alice{secrets.token_hex(3)}:test.local"
    private = (await room_server.create_room(alice, {"preset": "private_chat"}))["room_id"]
    for room_id in (private, "!nosuch:test.local", "not a room"):
        with pytest.raises(MatrixError) as e:
            await sync.federation_hierarchy(ORIGIN, room_id, False)
        assert (e.value.status, e.value.errcode) == (404, "M_NOT_FOUND")
