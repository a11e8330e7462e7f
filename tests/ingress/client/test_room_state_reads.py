"""/state, /state/{type}/{key}, /members, /joined_members, /joined_rooms end to end."""

from __future__ import annotations

import jsonschema

from tests.ingress.client.sync_client import Client, fresh_account
from tests.openapi import assert_matches, response_schema


def test_state_members_and_joined_rooms(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    room = alice.create_room(name="Stateful", preset="public_chat")
    bob.join(room)

    state = alice.ok(alice.get(f"/rooms/{room}/state"))
    assert_matches("rooms.yaml", "/rooms/{roomId}/state", "get", 200, state)
    assert ("m.room.name", "") in {(e["type"], e["state_key"]) for e in state}

    name = alice.ok(alice.get(f"/rooms/{room}/state/m.room.name"))
    assert name == {"name": "Stateful"}
    assert alice.ok(alice.get(f"/rooms/{room}/state/m.room.name/")) == name
    event = alice.ok(alice.get(f"/rooms/{room}/state/m.room.name/", format="event"))
    # The spec's `oneOf` (any object, or a state event) can never hold for an event,
    # since an event is an object too: check the state-event branch.
    schema = response_schema("rooms.yaml", "/rooms/{roomId}/state/{eventType}/{stateKey}",
                             "get", 200)
    jsonschema.validate(event, schema["oneOf"][1])
    assert event["content"] == name
    member = alice.ok(alice.get(f"/rooms/{room}/state/m.room.member/{bob.user_id}"))
    assert member["membership"] == "join"
    r = alice.get(f"/rooms/{room}/state/m.room.topic/")
    assert r.status_code == 404 and r.json()["errcode"] == "M_NOT_FOUND"

    members = alice.ok(alice.get(f"/rooms/{room}/members"))
    assert_matches("rooms.yaml", "/rooms/{roomId}/members", "get", 200, members)
    assert {e["state_key"] for e in members["chunk"]} == {alice.user_id, bob.user_id}
    assert alice.ok(alice.get(f"/rooms/{room}/members", not_membership="join"))["chunk"] == []
    r = alice.get(f"/rooms/{room}/members", membership="dancing")
    assert r.status_code == 400 and r.json()["errcode"] == "M_INVALID_PARAM"

    joined = alice.ok(alice.get(f"/rooms/{room}/joined_members"))
    assert_matches("rooms.yaml", "/rooms/{roomId}/joined_members", "get", 200, joined)
    assert set(joined["joined"]) == {alice.user_id, bob.user_id}

    rooms = bob.ok(bob.get("/joined_rooms"))
    assert_matches("list_joined_rooms.yaml", "/joined_rooms", "get", 200, rooms)
    assert room in rooms["joined_rooms"]

    # After leaving, bob sees the state as it was when he left.
    bob.leave(room)
    alice.set_state(room, "m.room.name", {"name": "Renamed"})
    assert bob.ok(bob.get(f"/rooms/{room}/state/m.room.name")) == {"name": "Stateful"}
    assert room not in bob.ok(bob.get("/joined_rooms"))["joined_rooms"]
    r = bob.get(f"/rooms/{room}/joined_members")
    assert r.status_code == 403

    stranger = Client(server, fresh_account(server, "eve"))
    for path in ("state", "members", "state/m.room.name"):
        r = stranger.get(f"/rooms/{room}/{path}")
        assert r.status_code == 403 and r.json()["errcode"] == "M_FORBIDDEN", path
    r = stranger.get("/rooms/not-a-room/state")
    assert r.status_code == 400
