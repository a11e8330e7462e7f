"""Rooms moving between the join, invite, knock and leave sections; history visibility."""

from __future__ import annotations

import secrets


def uid(name: str) -> str:
    return f"@{name}{secrets.token_hex(3)}:test.local"


def msg(body: str) -> dict:
    return {"msgtype": "m.text", "body": body}


def bodies(events: list[dict]) -> list[str]:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


async def _room_with_history(room_server, alice: str, visibility: str) -> str:
    room = (await room_server.create_room(alice, {"preset": "public_chat"}))["room_id"]
    await room_server.send_state(room, alice, "m.room.history_visibility", "",
                                 {"history_visibility": visibility})
    for i in range(3):
        await room_server.send_event(room, alice, "A", f"e{i}{room}", "m.room.message", msg(f"early{i}"))
    return room


async def test_joined_visibility_hides_history_shared_shows_it(room_server, sync) -> None:
    alice, bob = uid("alice"), uid("bob")
    hidden = await _room_with_history(room_server, alice, "joined")
    shown = await _room_with_history(room_server, alice, "shared")
    since = (await sync.sync(bob, "B"))["next_batch"]
    for room in (hidden, shown):
        await room_server.update_membership(room, bob, bob, "join")
        await room_server.send_event(room, alice, "A", "late" + room, "m.room.message", msg("late"))
    r = await sync.sync(bob, "B", since=since)
    assert bodies(r["rooms"]["join"][hidden]["timeline"]["events"]) == ["late"]
    assert bodies(r["rooms"]["join"][shown]["timeline"]["events"]) == [
        "early0", "early1", "early2", "late"]
    # Newly joined: everything before the timeline is in the state section. (The
    # room's first events were sent while history was still `shared`, so they
    # are visible in the timeline itself.)
    joined = r["rooms"]["join"][hidden]
    seen = joined["state"]["events"] + joined["timeline"]["events"]
    assert {"m.room.create", "m.room.power_levels", "m.room.join_rules"} <= {
        e["type"] for e in seen}
    # The same rule for /messages and /event.
    page = await sync.messages(bob, "B", hidden, direction="b", limit=50)
    assert bodies(page["chunk"]) == ["late"]
    page = await sync.messages(bob, "B", shown, direction="b", limit=50)
    assert bodies(page["chunk"]) == ["late", "early2", "early1", "early0"]


async def test_invited_visibility_from_the_invite(room_server, sync) -> None:
    alice, bob = uid("alice"), uid("bob")
    room = await _room_with_history(room_server, alice, "invited")
    await room_server.update_membership(room, alice, bob, "invite")
    await room_server.send_event(room, alice, "A", "x", "m.room.message", msg("after-invite"))
    await room_server.update_membership(room, bob, bob, "join")
    page = await sync.messages(bob, "B", room, direction="b", limit=50)
    assert bodies(page["chunk"]) == ["after-invite"]


async def test_invite_section_then_join_then_leave(room_server, sync) -> None:
    alice, bob = uid("alice"), uid("bob")
    room = (await room_server.create_room(alice, {"name": "Club", "preset": "private_chat"}))[
        "room_id"]
    since = (await sync.sync(bob, "B"))["next_batch"]
    await room_server.update_membership(room, alice, bob, "invite")
    r = await sync.sync(bob, "B", since=since)
    invite = r["rooms"]["invite"][room]["invite_state"]["events"]
    kinds = {(e["type"], e["state_key"]) for e in invite}
    assert {("m.room.create", ""), ("m.room.name", ""), ("m.room.join_rules", ""),
            ("m.room.member", alice), ("m.room.member", bob)} <= kinds
    assert invite[-1]["content"]["membership"] == "invite"
    assert all(set(e) == {"type", "state_key", "sender", "content"} for e in invite)
    # An initial sync shows the invite too.
    assert room in (await sync.sync(bob, "B"))["rooms"]["invite"]

    await room_server.update_membership(room, bob, bob, "join")
    r = await sync.sync(bob, "B", since=r["next_batch"])
    assert room in r["rooms"]["join"] and room not in r["rooms"]["invite"]

    await room_server.send_event(room, alice, "A", "m1", "m.room.message", msg("before-leave"))
    await room_server.update_membership(room, bob, bob, "leave")
    await room_server.send_event(room, alice, "A", "m2", "m.room.message", msg("after-leave"))
    r = await sync.sync(bob, "B", since=r["next_batch"])
    left = r["rooms"]["leave"][room]["timeline"]["events"]
    assert bodies(left) == ["before-leave"]
    assert left[-1]["type"] == "m.room.member" and left[-1]["content"]["membership"] == "leave"
    assert room not in r["rooms"]["join"]
    # Nothing more after leaving.
    await room_server.send_event(room, alice, "A", "m3", "m.room.message", msg("later"))
    r2 = await sync.sync(bob, "B", since=r["next_batch"])
    assert not any(r2["rooms"].values())
    # Initial sync: left rooms only with include_leave.
    assert room not in (await sync.sync(bob, "B"))["rooms"]["leave"]
    with_leave = await sync.sync(bob, "B", filter='{"room": {"include_leave": true}}')
    assert bodies(with_leave["rooms"]["leave"][room]["timeline"]["events"]) == ["before-leave"]
    # The leaver reads state and members as of their leave.
    members = await sync.members(bob, "B", room)
    mine = [m for m in members["chunk"] if m["state_key"] == bob][0]
    assert mine["content"]["membership"] == "leave"
    await room_server.send_state(room, alice, "m.room.name", "", {"name": "Renamed"})
    name = await sync.state_event(bob, "B", room, "m.room.name", "")
    assert name == {"name": "Club"}


async def test_rejected_invite_shows_only_the_membership(room_server, sync) -> None:
    alice, bob = uid("alice"), uid("bob")
    room = (await room_server.create_room(alice, {"preset": "private_chat"}))["room_id"]
    await room_server.send_event(room, alice, "A", "s", "m.room.message", msg("secret"))
    await room_server.update_membership(room, alice, bob, "invite")
    since = (await sync.sync(bob, "B"))["next_batch"]
    await room_server.update_membership(room, bob, bob, "leave")
    r = await sync.sync(bob, "B", since=since)
    left = r["rooms"]["leave"][room]
    assert [e["content"]["membership"] for e in left["timeline"]["events"]] == ["leave"]
    assert left["state"]["events"] == []


async def test_knock_section(room_server, sync) -> None:
    alice, bob = uid("alice"), uid("bob")
    room = (await room_server.create_room(alice, {"room_version": "11"}))["room_id"]
    await room_server.send_state(room, alice, "m.room.join_rules", "", {"join_rule": "knock"})
    since = (await sync.sync(bob, "B"))["next_batch"]
    await room_server.update_membership(room, bob, bob, "knock")
    r = await sync.sync(bob, "B", since=since)
    knock = r["rooms"]["knock"][room]["knock_state"]["events"]
    assert knock[-1]["content"]["membership"] == "knock"
    assert ("m.room.join_rules", "") in {(e["type"], e["state_key"]) for e in knock}


async def test_gap_state_and_prev_content(room_server, sync) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {"name": "One"}))["room_id"]
    since = (await sync.sync(alice, "A"))["next_batch"]
    await room_server.send_state(room, alice, "m.room.name", "", {"name": "Two"})
    for i in range(6):
        await room_server.send_event(room, alice, "A", f"g{i}", "m.room.message", msg(str(i)))
    r = await sync.sync(alice, "A", since=since, filter='{"room":{"timeline":{"limit":2}}}')
    joined = r["rooms"]["join"][room]
    assert joined["timeline"]["limited"] is True
    assert [e["content"] for e in joined["state"]["events"]] == [{"name": "Two"}]
    renamed = joined["state"]["events"][0]
    assert renamed["unsigned"]["prev_content"] == {"name": "One"}
    assert renamed["unsigned"]["replaces_state"].startswith("$")
    # use_state_after: the state at the end of the timeline instead.
    r = await sync.sync(alice, "A", since=since, use_state_after=True,
                        filter='{"room":{"timeline":{"limit":2}}}')
    joined = r["rooms"]["join"][room]
    assert "state" not in joined
    assert [e["content"] for e in joined["state_after"]["events"]] == [{"name": "Two"}]


async def test_redacted_events_are_served_redacted(room_server, sync) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {}))["room_id"]
    target = await room_server.send_event(room, alice, "A", "r1", "m.room.message", msg("oops"))
    redaction = await room_server.redact(room, alice, "A", "r2", target, "typo")
    events = (await sync.sync(alice, "A"))["rooms"]["join"][room]["timeline"]["events"]
    redacted = [e for e in events if e["event_id"] == target][0]
    assert redacted["content"] == {}
    assert redacted["unsigned"]["redacted_because"]["event_id"] == redaction
    served = await sync.event(alice, "A", room, target)
    assert served["content"] == {} and served["room_id"] == room


async def test_lazy_loading_members(room_server, sync) -> None:
    alice = uid("alice")
    others = [uid(f"m{i}") for i in range(4)]
    room = (await room_server.create_room(alice, {"preset": "public_chat"}))["room_id"]
    for o in others:
        await room_server.update_membership(room, o, o, "join")
    await room_server.send_event(room, others[0], "X", "l1", "m.room.message", msg("hi"))
    lazy = '{"room":{"state":{"lazy_load_members":true},"timeline":{"limit":1}}}'
    r = await sync.sync(alice, "A", filter=lazy)
    joined = r["rooms"]["join"][room]
    members = {e["state_key"] for e in joined["state"]["events"] if e["type"] == "m.room.member"}
    # The sender, the syncing user, and the heroes (at most 5 members).
    assert members == {alice, *others}
    assert set(joined["summary"]["m.heroes"]) == set(others)
    assert joined["summary"]["m.joined_member_count"] == 5
    # Next sync: the same sender again is redundant, unless asked for.
    await room_server.send_event(room, others[0], "X", "l2", "m.room.message", msg("again"))
    r2 = await sync.sync(alice, "A", filter=lazy, since=r["next_batch"])
    assert "state" not in r2["rooms"]["join"][room] or not [
        e for e in r2["rooms"]["join"][room]["state"]["events"] if e["type"] == "m.room.member"]
    redundant = '{"room":{"state":{"lazy_load_members":true,"include_redundant_members":true}}}'
    await room_server.send_event(room, others[0], "X", "l3", "m.room.message", msg("more"))
    r3 = await sync.sync(alice, "A", filter=redundant, since=r2["next_batch"])
    state = r3["rooms"]["join"][room]["state"]["events"]
    assert [e["state_key"] for e in state if e["type"] == "m.room.member"] == [others[0]]
    # /messages with lazy loading returns the senders' member events.
    page = await sync.messages(alice, "A", room, direction="b", limit=3,
                               filter='{"lazy_load_members": true}')
    assert {e["state_key"] for e in page["state"]} == {others[0]}
