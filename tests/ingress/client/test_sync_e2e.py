"""GET /sync end to end: real HTTP, the whole server, responses checked against the spec."""

from __future__ import annotations

import threading
import time

from tests.ingress.client.sync_client import (
    Client,
    bodies,
    fresh_account,
    second_device,
    timeline,
)


def test_initial_and_incremental_see_a_message_exactly_once(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    room = alice.create_room(name="Once")
    first = alice.sync()
    assert room in first["rooms"]["join"]
    alice.send(room, "only once")
    second = alice.sync(since=first["next_batch"])
    assert bodies(timeline(second, room)["events"]) == ["only once"]
    third = alice.sync(since=second["next_batch"])
    assert room not in third["rooms"]["join"]
    # A fresh initial sync has it once as well.
    assert bodies(timeline(alice.sync(), room)["events"]).count("only once") == 1


def test_long_poll_wakes_within_a_second(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    since = bob.sync()["next_batch"]
    result: dict = {}

    def poll() -> None:
        result["body"] = bob.sync(since=since, timeout=20_000)
        result["at"] = time.monotonic()

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(1.0)
    assert thread.is_alive()
    alice.send(room, "wake up")
    # The event is committed (and the wake-up sent) before the send returns.
    committed_at = time.monotonic()
    thread.join(15)
    assert not thread.is_alive()
    assert result["at"] - committed_at < 1.0
    assert bodies(timeline(result["body"], room)["events"]) == ["wake up"]


def test_long_poll_times_out_empty(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    # Not marked online: her own presence coming online would be news.
    since = alice.sync(set_presence="offline")["next_batch"]
    start = time.monotonic()
    empty = alice.sync(since=since, timeout=500, set_presence="offline")
    assert time.monotonic() - start >= 0.45
    assert not any(empty["rooms"].values())


def test_transaction_id_only_for_the_sending_device(server) -> None:
    account = fresh_account(server, "alice")
    phone = Client(server, account)
    laptop = Client(server, second_device(server, account))
    room = phone.create_room()
    phone.send(room, "from phone", txn="phone-txn-1")
    for client, expected in ((phone, "phone-txn-1"), (laptop, None)):
        events = timeline(client.sync(), room)["events"]
        sent = [e for e in events if e["type"] == "m.room.message"][0]
        assert sent["unsigned"].get("transaction_id") == expected


def test_limited_then_messages_back_from_prev_batch_without_gaps(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    room = alice.create_room()
    since = alice.sync()["next_batch"]
    for i in range(15):
        alice.send(room, f"m{i}")
    r = alice.sync(since=since, filter='{"room":{"timeline":{"limit":4}}}')
    tl = timeline(r, room)
    assert tl["limited"] is True
    assert bodies(tl["events"]) == [f"m{i}" for i in range(11, 15)]
    seen: list[str] = []
    token = tl["prev_batch"]
    for _ in range(20):
        page = alice.messages(room, dir="b", from_=token, limit=3)
        seen += bodies(page["chunk"])
        if "end" not in page:
            break
        token = page["end"]
    # Every older message once, newest first, then the room's creation events.
    assert seen == [f"m{i}" for i in range(10, -1, -1)]


def test_history_visibility_joined_hides_and_shared_shows(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    rooms = {}
    for visibility in ("joined", "shared"):
        room = alice.create_room(preset="public_chat")
        alice.set_state(room, "m.room.history_visibility", {"history_visibility": visibility})
        alice.send(room, f"before bob ({visibility})")
        rooms[visibility] = room
    for room in rooms.values():
        bob.join(room)
        alice.send(room, "after bob")
    r = bob.sync()
    assert bodies(timeline(r, rooms["joined"])["events"]) == ["after bob"]
    assert bodies(timeline(r, rooms["shared"])["events"]) == ["before bob (shared)", "after bob"]
    assert bodies(bob.messages(rooms["joined"], dir="b")["chunk"]) == ["after bob"]


def test_invite_then_leave_sections(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    room = alice.create_room(name="Invite only", preset="private_chat")
    since = bob.sync()["next_batch"]
    alice.invite(room, bob.user_id)
    r = bob.sync(since=since)
    state = r["rooms"]["invite"][room]["invite_state"]["events"]
    assert ("m.room.name", "") in {(e["type"], e["state_key"]) for e in state}
    assert state[-1]["state_key"] == bob.user_id
    assert state[-1]["content"]["membership"] == "invite"
    bob.join(room)
    r = bob.sync(since=r["next_batch"])
    assert room in r["rooms"]["join"]
    alice.send(room, "see you")
    bob.leave(room)
    alice.send(room, "gone")
    r = bob.sync(since=r["next_batch"])
    left = timeline(r, room, "leave")["events"]
    assert bodies(left) == ["see you"]
    assert left[-1]["content"]["membership"] == "leave"
    later = bob.sync(since=r["next_batch"])
    assert room not in later["rooms"]["leave"] and room not in later["rooms"]["join"]


def test_lazy_loading_members(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    room = alice.create_room(preset="public_chat")
    members = [Client(server, fresh_account(server, f"m{i}")) for i in range(3)]
    for m in members:
        m.join(room)
    members[1].send(room, "talking")
    lazy = '{"room":{"state":{"lazy_load_members":true},"timeline":{"limit":1}}}'
    joined = alice.sync(filter=lazy)["rooms"]["join"][room]
    loaded = {e["state_key"] for e in joined["state"]["events"] if e["type"] == "m.room.member"}
    # The sender, alice herself, and the heroes of the summary.
    assert {members[1].user_id, alice.user_id} <= loaded
    assert loaded <= {alice.user_id, *(m.user_id for m in members)}
    assert joined["summary"]["m.joined_member_count"] == 4
    eager = alice.sync(filter='{"room":{"timeline":{"limit":1}}}')["rooms"]["join"][room]
    assert len([e for e in eager["state"]["events"] if e["type"] == "m.room.member"]) == 4


def test_bad_parameters_are_matrix_errors(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    for params in ({"since": "nonsense"}, {"timeout": "soon"}, {"filter": "{oops"},
                   {"set_presence": "dancing"}, {"full_state": "maybe"}):
        r = alice.get("/sync", **params)
        assert r.status_code == 400 and r.json()["errcode"] == "M_INVALID_PARAM", (params, r.text)
    r = alice.http.get("/sync", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
