"""Public room directories across servers: reading another server's, serving ours."""

from __future__ import annotations

import secrets

import pytest

from actors.sync.remote_directory import PUBLIC_ROOMS_PATH
from federation.client import FederationError
from protocol.errors import MatrixError
from tests.openapi import SERVER_SERVER, assert_matches

REMOTE = "remote.example"
ROOM = {"room_id": "!r:remote.example", "num_joined_members": 3, "world_readable": False,
        "guest_can_join": True, "name": "Remote"}


async def test_a_plain_page_is_a_get_and_a_filtered_one_a_post(sync) -> None:
    fake = sync.federation
    fake.answer("GET", REMOTE, PUBLIC_ROOMS_PATH, {
        "chunk": [ROOM, {"room_id": 5}], "next_batch": "n1", "total_room_count_estimate": 9,
        "extra": "dropped"})
    page = await sync.public_rooms(limit=5, since="s0", server=REMOTE)
    assert page == {"chunk": [ROOM], "next_batch": "n1", "total_room_count_estimate": 9}
    assert fake.requests[-1].query == {"limit": "5", "since": "s0"}

    fake.answer("POST", REMOTE, PUBLIC_ROOMS_PATH, {"chunk": [ROOM]})
    page = await sync.public_rooms(server=REMOTE, body={
        "limit": 2, "filter": {"generic_search_term": "rem", "room_types": [None]}})
    assert page == {"chunk": [ROOM]}
    assert fake.requests[-1].body == {
        "limit": 2, "filter": {"generic_search_term": "rem", "room_types": [None]}}


@pytest.mark.parametrize(("answer", "expected"), [
    (None, (502, "M_UNKNOWN")),  # unreachable
    (FederationError(400, "M_INVALID_PARAM", {}), (400, "M_INVALID_PARAM")),
    (FederationError(500, None, ""), (502, "M_UNKNOWN")),
    ({"chunk": "nope"}, (502, "M_UNKNOWN")),
])
async def test_remote_failures(sync, answer, expected) -> None:
    if answer is not None:
        sync.federation.answer("GET", REMOTE, PUBLIC_ROOMS_PATH, answer)
    with pytest.raises(MatrixError) as e:
        await sync.public_rooms(server=REMOTE)
    assert (e.value.status, e.value.errcode) == expected


async def test_federation_serves_the_local_directory(room_server, sync) -> None:
    tag = secrets.token_hex(4)
    alice = f"@alice{tag}:test.local"
    room = (await room_server.create_room(alice, {
        "preset": "public_chat", "visibility": "public", "name": f"Fed {tag}"}))["room_id"]
    listed = await sync.federation_public_rooms(body={"filter": {"generic_search_term": tag}})
    assert [r["room_id"] for r in listed["chunk"]] == [room]
    assert_matches("public_rooms.yaml", "/publicRooms", "post", 200, listed, api=SERVER_SERVER)
    page = await sync.federation_public_rooms(limit=1)
    assert_matches("public_rooms.yaml", "/publicRooms", "get", 200, page, api=SERVER_SERVER)
    assert len(page["chunk"]) == 1
    # Asking for our own server is a local read.
    assert (await sync.public_rooms(server="test.local", limit=1))["chunk"] == page["chunk"]
    assert sync.federation.requests == []
