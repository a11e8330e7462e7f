"""GET /rooms/{roomId}/messages, /context, /event end to end, checked against the spec."""

from __future__ import annotations

from tests.ingress.client.sync_client import Client, bodies, fresh_account, timeline
from tests.openapi import assert_matches


def test_paging_both_ways_and_errors(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    room = alice.create_room()
    for i in range(7):
        alice.send(room, f"p{i}")
    newest = alice.messages(room, dir="b", limit=3)
    assert bodies(newest["chunk"]) == ["p6", "p5", "p4"]
    older = alice.messages(room, dir="b", from_=newest["end"], limit=3)
    assert bodies(older["chunk"]) == ["p3", "p2", "p1"]
    forward = alice.messages(room, dir="f", from_=older["end"], limit=100)
    assert bodies(forward["chunk"]) == [f"p{i}" for i in range(1, 7)]
    assert "end" not in forward
    # From the beginning of the room, without `from` (v1.3).
    first = alice.messages(room, dir="f", limit=1)
    assert first["chunk"][0]["type"] == "m.room.create"
    assert all(e["room_id"] == room for e in first["chunk"])
    only_members = alice.messages(room, dir="b", filter='{"types":["m.room.member"]}')
    assert {e["type"] for e in only_members["chunk"]} == {"m.room.member"}
    for params, code in (({"dir": "x"}, "M_INVALID_PARAM"), ({}, "M_MISSING_PARAM"),
                         ({"dir": "b", "from": "junk"}, "M_INVALID_PARAM"),
                         ({"dir": "b", "filter": "[1"}, "M_INVALID_PARAM"),
                         ({"dir": "b", "limit": "many"}, "M_INVALID_PARAM")):
        r = alice.get(f"/rooms/{room}/messages", **params)
        assert r.status_code == 400 and r.json()["errcode"] == code, (params, r.text)
    stranger = Client(server, fresh_account(server, "eve"))
    r = stranger.get(f"/rooms/{room}/messages", dir="b")
    assert r.status_code == 403 and r.json()["errcode"] == "M_FORBIDDEN"


def test_messages_lazy_loads_senders(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    bob.send(room, "bob speaks")
    page = alice.messages(room, dir="b", limit=1, filter='{"lazy_load_members":true}')
    assert [e["state_key"] for e in page["state"]] == [bob.user_id]


def test_gap_from_since_to_prev_batch(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    room = alice.create_room()
    since = alice.sync()["next_batch"]
    for i in range(8):
        alice.send(room, f"g{i}")
    tl = timeline(alice.sync(since=since, filter='{"room":{"timeline":{"limit":2}}}'), room)
    gap = alice.messages(room, dir="f", from_=since, to=tl["prev_batch"], limit=50)
    assert bodies(gap["chunk"]) == [f"g{i}" for i in range(6)]


def test_context_and_single_event(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    room = alice.create_room()
    ids = [alice.send(room, f"c{i}") for i in range(5)]
    r = alice.get(f"/rooms/{room}/context/{ids[2]}", limit=2)
    body = alice.ok(r)
    assert_matches("event_context.yaml", "/rooms/{roomId}/context/{eventId}", "get", 200, body)
    assert body["event"]["event_id"] == ids[2]
    assert [e["event_id"] for e in body["events_before"]] == [ids[1]]
    assert [e["event_id"] for e in body["events_after"]] == [ids[3]]
    event = alice.ok(alice.get(f"/rooms/{room}/event/{ids[0]}"))
    assert_matches("rooms.yaml", "/rooms/{roomId}/event/{eventId}", "get", 200, event)
    assert event["content"]["body"] == "c0" and event["room_id"] == room
    missing = alice.get(f"/rooms/{room}/event/$nope")
    assert missing.status_code == 404 and missing.json()["errcode"] == "M_NOT_FOUND"
    stranger = Client(server, fresh_account(server, "eve"))
    hidden = stranger.get(f"/rooms/{room}/event/{ids[0]}")
    assert hidden.status_code == 404 and hidden.json()["errcode"] == "M_NOT_FOUND"
    hidden = stranger.get(f"/rooms/{room}/context/{ids[0]}")
    assert hidden.status_code == 404
