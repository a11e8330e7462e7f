"""Room reads through the service: access rules, /context, /state, /members, directory, filters."""

from __future__ import annotations

import json
import secrets

import pytest

from protocol.errors import MatrixError


def uid(name: str) -> str:
    return f"@{name}{secrets.token_hex(3)}:test.local"


def msg(body: str) -> dict:
    return {"msgtype": "m.text", "body": body}


async def raises(code: str, status: int, coro) -> None:
    with pytest.raises(MatrixError) as e:
        await coro
    assert (e.value.errcode, e.value.status) == (code, status)


async def test_strangers_are_kept_out_unless_world_readable(room_server, sync) -> None:
    alice, eve = uid("alice"), uid("eve")
    room = (await room_server.create_room(alice, {"preset": "public_chat"}))["room_id"]
    event = await room_server.send_event(room, alice, "A", "w1", "m.room.message", msg("hi"))
    await raises("M_FORBIDDEN", 403, sync.messages(eve, "E", room, direction="b"))
    await raises("M_FORBIDDEN", 403, sync.state(eve, "E", room))
    await raises("M_FORBIDDEN", 403, sync.members(eve, "E", room))
    await raises("M_FORBIDDEN", 403, sync.joined_members(eve, "E", room))
    await raises("M_FORBIDDEN", 403, sync.room_aliases(eve, room))
    await raises("M_NOT_FOUND", 404, sync.event(eve, "E", room, event))
    await raises("M_NOT_FOUND", 404, sync.context(eve, "E", room, event))
    await raises("M_FORBIDDEN", 403, sync.state(eve, "E", "!nosuchroom:test.local"))

    await room_server.send_state(room, alice, "m.room.history_visibility", "",
                                 {"history_visibility": "world_readable"})
    later = await room_server.send_event(room, alice, "A", "w2", "m.room.message", msg("open"))
    assert (await sync.event(eve, "E", room, later))["content"]["body"] == "open"
    await raises("M_NOT_FOUND", 404, sync.event(eve, "E", room, event))
    page = await sync.messages(eve, "E", room, direction="b")
    assert [e["content"].get("body") for e in page["chunk"] if e["type"] == "m.room.message"] == [
        "open"]
    assert any(e["type"] == "m.room.create" for e in await sync.state(eve, "E", room))
    assert (await sync.room_aliases(eve, room)) == {"aliases": []}


async def test_event_in_another_room_is_not_found(room_server, sync) -> None:
    alice = uid("alice")
    one = (await room_server.create_room(alice, {}))["room_id"]
    two = (await room_server.create_room(alice, {}))["room_id"]
    event = await room_server.send_event(one, alice, "A", "x1", "m.room.message", msg("x"))
    await raises("M_NOT_FOUND", 404, sync.event(alice, "A", two, event))
    await raises("M_NOT_FOUND", 404, sync.event(alice, "A", one, "$nope"))


async def test_context_around_an_event(room_server, sync) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {}))["room_id"]
    ids = [await room_server.send_event(room, alice, "A", f"c{i}", "m.room.message", msg(str(i)))
           for i in range(9)]
    ctx = await sync.context(alice, "A", room, ids[4], limit=4)
    assert ctx["event"]["event_id"] == ids[4]
    assert [e["event_id"] for e in ctx["events_before"]] == [ids[3], ids[2]]
    assert [e["event_id"] for e in ctx["events_after"]] == [ids[5], ids[6]]
    assert any(e["type"] == "m.room.create" for e in ctx["state"])
    # start/end continue with /messages.
    back = await sync.messages(alice, "A", room, direction="b", from_token=ctx["start"], limit=1)
    assert back["chunk"][0]["event_id"] == ids[1]
    fwd = await sync.messages(alice, "A", room, direction="f", from_token=ctx["end"], limit=1)
    assert fwd["chunk"][0]["event_id"] == ids[7]
    filtered = await sync.context(alice, "A", room, ids[4], limit=4,
                                  filter='{"types": ["m.room.member"]}')
    assert filtered["events_after"] == []
    assert {e["type"] for e in filtered["state"]} == {"m.room.member"}
    await raises("M_INVALID_PARAM", 400, sync.context(alice, "A", room, ids[4], limit=-1))


async def test_state_and_members(room_server, sync) -> None:
    alice, bob, carol = uid("alice"), uid("bob"), uid("carol")
    room = (await room_server.create_room(alice, {"name": "Room", "preset": "public_chat"}))[
        "room_id"]
    await room_server.update_membership(room, bob, bob, "join")
    await room_server.update_membership(room, alice, carol, "invite")
    state = await sync.state(alice, "A", room)
    assert all(e["room_id"] == room for e in state)
    assert await sync.state_event(alice, "A", room, "m.room.name", "") == {"name": "Room"}
    full = await sync.state_event(alice, "A", room, "m.room.name", "", "event")
    assert full["type"] == "m.room.name" and full["event_id"].startswith("$")
    await raises("M_NOT_FOUND", 404, sync.state_event(alice, "A", room, "m.room.topic", ""))
    await raises("M_INVALID_PARAM", 400,
                 sync.state_event(alice, "A", room, "m.room.name", "", "xml"))

    def who(result) -> set[str]:
        return {e["state_key"] for e in result["chunk"]}

    assert who(await sync.members(alice, "A", room)) == {alice, bob, carol}
    assert who(await sync.members(alice, "A", room, membership="invite")) == {carol}
    assert who(await sync.members(alice, "A", room, not_membership="invite")) == {alice, bob}
    await raises("M_INVALID_PARAM", 400, sync.members(alice, "A", room, membership="x"))
    joined = await sync.joined_members(alice, "A", room)
    assert set(joined["joined"]) == {alice, bob}
    # /members?at= a point before bob joined.
    first = await sync.sync(alice, "A")
    prev_batch = first["rooms"]["join"][room]["timeline"]["prev_batch"]
    assert who(await sync.members(alice, "A", room, at=prev_batch)) == set()
    assert who(await sync.members(alice, "A", room, at=first["next_batch"])) == {
        alice, bob, carol}
    assert room in (await sync.joined_rooms(bob))["joined_rooms"]
    assert room not in (await sync.joined_rooms(carol))["joined_rooms"]


async def test_directory_reads(room_server, sync) -> None:
    alice, bob = uid("alice"), uid("bob")
    local = secrets.token_hex(4)
    alias = f"#{local}:test.local"
    room = (await room_server.create_room(alice, {
        "room_alias_name": local, "preset": "public_chat", "visibility": "public",
        "name": f"Cheese {local}", "topic": "Tasty",
    }))["room_id"]
    assert await sync.resolve_alias(alias) == {"room_id": room, "servers": ["test.local"]}
    await raises("M_NOT_FOUND", 404, sync.resolve_alias("#missing:test.local"))
    await raises("M_NOT_FOUND", 404, sync.resolve_alias("#remote:elsewhere.org"))
    await raises("M_INVALID_PARAM", 400, sync.resolve_alias("not-an-alias"))
    assert await sync.room_aliases(alice, room) == {"aliases": [alias]}
    assert await sync.room_visibility(room) == {"visibility": "public"}
    private = (await room_server.create_room(alice, {}))["room_id"]
    assert await sync.room_visibility(private) == {"visibility": "private"}
    await raises("M_NOT_FOUND", 404, sync.room_visibility("!none:test.local"))

    await room_server.update_membership(room, bob, bob, "join")
    listed = await sync.public_rooms(body={"filter": {"generic_search_term": local}})
    assert listed["chunk"] == [{
        "room_id": room, "num_joined_members": 2, "world_readable": False,
        "guest_can_join": False, "name": f"Cheese {local}", "topic": "Tasty",
        "canonical_alias": alias, "join_rule": "public",
    }]
    assert (await sync.public_rooms(body={"filter": {"room_types": ["m.space"],
                                                       "generic_search_term": local}}))[
        "chunk"] == []
    everything = await sync.public_rooms(limit=1)
    assert len(everything["chunk"]) == 1
    if everything["total_room_count_estimate"] > 1:
        nxt = await sync.public_rooms(limit=1, since=everything["next_batch"])
        assert nxt["chunk"] != everything["chunk"] and "prev_batch" in nxt
    await raises("M_INVALID_PARAM", 400, sync.public_rooms(since="zz"))
    await raises("M_BAD_JSON", 400, sync.public_rooms(body={"limit": "ten"}))
    # Other servers' directories: tests/actors/sync/test_remote_directory.py.
    await raises("M_INVALID_PARAM", 400, sync.public_rooms(server="bad server!"))


async def test_filters_round_trip(sync) -> None:
    alice = uid("alice")
    definition = {"room": {"timeline": {"limit": 3}}, "event_fields": ["type"]}
    created = await sync.create_filter(alice, alice, definition)
    assert created["filter_id"].isdigit()
    assert await sync.get_filter(alice, alice, created["filter_id"]) == definition
    assert await sync.create_filter(alice, alice, definition) == created
    other = await sync.create_filter(alice, alice, {"room": {"include_leave": True}})
    assert other != created
    await raises("M_FORBIDDEN", 403, sync.create_filter(alice, uid("bob"), definition))
    await raises("M_FORBIDDEN", 403, sync.get_filter(uid("bob"), alice, created["filter_id"]))
    await raises("M_NOT_FOUND", 404, sync.get_filter(alice, alice, "999999"))
    await raises("M_NOT_FOUND", 404, sync.get_filter(alice, alice, "{x"))
    await raises("M_BAD_JSON", 400, sync.create_filter(alice, alice, {"event_format": 1}))
    r = await sync.sync(alice, "A", filter=created["filter_id"])
    assert "next_batch" in r


async def test_strings_postgres_cannot_hold_are_not_found(room_server, sync) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {}))["room_id"]
    await raises("M_NOT_FOUND", 404, sync.event(alice, "A", room, "$a\x00b"))
    await raises("M_NOT_FOUND", 404, sync.context(alice, "A", room, "$a\x00b"))
    await raises("M_NOT_FOUND", 404, sync.state_event(alice, "A", room, "m.x\x00", ""))
    await raises("M_NOT_FOUND", 404, sync.room_visibility("!a\x00:test.local"))
    await raises("M_BAD_JSON", 400, sync.create_filter(alice, alice, {"x\x00": 1}))


async def test_federation_format_and_room_filters(room_server, sync) -> None:
    alice = uid("alice")
    kept = (await room_server.create_room(alice, {}))["room_id"]
    dropped = (await room_server.create_room(alice, {}))["room_id"]
    flt = json.dumps({"event_format": "federation", "room": {"not_rooms": [dropped]}})
    r = await sync.sync(alice, "A", filter=flt)
    assert set(r["rooms"]["join"]) == {kept}
    create = r["rooms"]["join"][kept]["timeline"]["events"][0]
    assert create["type"] == "m.room.create"
    assert {"hashes", "signatures", "depth", "event_id"} <= set(create)
    only = json.dumps({"room": {"rooms": [dropped], "timeline": {"not_types": ["m.room.member"]}}})
    r = await sync.sync(alice, "A", filter=only)
    assert set(r["rooms"]["join"]) == {dropped}
    events = r["rooms"]["join"][dropped]["timeline"]["events"]
    assert events and all(e["type"] != "m.room.member" for e in events)
