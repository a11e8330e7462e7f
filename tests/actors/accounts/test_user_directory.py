"""User directory search over room state written straight into the database."""

from __future__ import annotations

import itertools
import random

import pytest

from protocol.errors import MatrixError
from tests.actors.accounts.helpers import password_auth, register, unique
from tests.openapi import assert_matches

# Positions no room-server test of this session uses.
_positions = itertools.count(random.randrange(10**9, 2 * 10**9))
WRITER = 999


async def add_state(pool, room_id: str, kind: str, state_key: str, content: dict) -> None:
    event_id = f"${unique('e')}"
    pos = next(_positions)
    pdu = {"type": kind, "state_key": state_key, "content": content, "room_id": room_id}
    membership = content.get("membership") if kind == "m.room.member" else None
    await pool.execute(
        "INSERT INTO events (event_id, room_id, writer, stream_pos, room_seq, type, state_key,"
        " sender, depth, origin_server_ts, pdu) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, 1, 0, $8)",
        event_id, room_id, WRITER, pos, kind, state_key, "@creator:test.local", pdu)
    await pool.execute(
        "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id, type, state_key)"
        " DO UPDATE SET event_id = $4, membership = $5",
        room_id, kind, state_key, event_id, membership)


async def room(pool, members: dict[str, str], **state: str) -> str:
    room_id = f"!{unique('room')}:test.local"
    if "join_rule" in state:
        await add_state(pool, room_id, "m.room.join_rules", "", {"join_rule": state["join_rule"]})
    if "history" in state:
        await add_state(pool, room_id, "m.room.history_visibility", "",
                        {"history_visibility": state["history"]})
    for user_id, membership in members.items():
        content = {"membership": membership}
        if user_id.endswith(":remote.example"):
            content["displayname"] = "Zed From Afar"
        await add_state(pool, room_id, "m.room.member", user_id, content)
    return room_id


async def test_search_sees_shared_public_and_world_readable_rooms(accounts) -> None:
    pool = accounts.router.shards[0].pool
    tag = unique("dir")
    names = ["req", "shared", "public", "invited", "readable", "hidden", "gone"]
    users = {}
    for name in names:
        users[name] = (await register(accounts, f"{tag}{name}"))["user_id"]
    remote = f"@{tag}zed:remote.example"
    requester = users["req"]
    await room(pool, {requester: "join", users["shared"]: "join"}, join_rule="invite")
    await room(pool, {users["public"]: "join", users["invited"]: "invite", remote: "join",
                      users["gone"]: "join"}, join_rule="public")
    await room(pool, {users["readable"]: "join"}, join_rule="invite", history="world_readable")
    await room(pool, {users["hidden"]: "join"}, join_rule="invite")
    gone = users["gone"]
    await accounts.call(gone, "deactivate", gone, {"auth": password_auth(gone)})
    await accounts.call(users["shared"], "set_profile_field", users["shared"], users["shared"],
                        "displayname", {"displayname": "Searchable Sam"})

    found = await accounts.call(requester, "search_user_directory", requester,
                                {"search_term": tag.upper(), "limit": 50})
    assert_matches("users.yaml", "/user_directory/search", "post", 200, found)
    assert found["limited"] is False
    assert {r["user_id"] for r in found["results"]} == {
        requester, users["shared"], users["public"], users["readable"], remote}
    by_id = {r["user_id"]: r for r in found["results"]}
    assert by_id[remote]["display_name"] == "Zed From Afar"
    # Users with profile information rank first among equal matches.
    assert found["results"][0]["user_id"] == users["shared"]

    by_name = await accounts.call(requester, "search_user_directory", requester,
                                  {"search_term": "sam"})
    assert by_name["results"] == [{"user_id": users["shared"], "display_name": "Searchable Sam"}]

    limited = await accounts.call(requester, "search_user_directory", requester,
                                  {"search_term": tag, "limit": 2})
    assert len(limited["results"]) == 2 and limited["limited"] is True

    wildcard = await accounts.call(requester, "search_user_directory", requester,
                                   {"search_term": f"{tag}%"})
    assert wildcard == {"results": [], "limited": False}


@pytest.mark.parametrize(("body", "errcode"), [
    ({}, "M_MISSING_PARAM"), ({"search_term": 1}, "M_BAD_JSON"),
    ({"search_term": "a", "limit": "10"}, "M_BAD_JSON"),
    ({"search_term": "a", "limit": -1}, "M_INVALID_PARAM"),
])
async def test_bad_searches(accounts, body: dict, errcode: str) -> None:
    user_id = (await register(accounts))["user_id"]
    with pytest.raises(MatrixError) as e:
        await accounts.call(user_id, "search_user_directory", user_id, body)
    assert (e.value.status, e.value.errcode) == (400, errcode)
