"""Typing, receipts, read markers, presence, account data, tags and to-device, end to end.

Real HTTP on the Ray deployment; two matrix-nio clients for typing and
receipts, the spec-checked test client for the rest. The to-device test
kills a sync actor and keeps syncing.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import nio
import pytest
import ray

from sharding.names import NAMESPACE
from tests.clients import Account
from tests.ingress.client.sync_client import Client, fresh_account, second_device
from tests.openapi import assert_matches


def nio_client(server: Any, account: Account) -> nio.AsyncClient:
    client = nio.AsyncClient(server.client_url, account.user_id, device_id=account.device_id)
    client.access_token = account.access_token
    client.user_id = account.user_id
    return client


def ephemeral(response: dict[str, Any], room_id: str, event_type: str) -> list[dict[str, Any]]:
    room = response["rooms"]["join"].get(room_id, {})
    return [e for e in room.get("ephemeral", {}).get("events", []) if e["type"] == event_type]


def receipts_of(response: dict[str, Any], room_id: str) -> dict[str, Any]:
    """The m.receipt contents of a room merged: event -> type -> user -> receipt."""
    merged: dict[str, Any] = {}
    for event in ephemeral(response, room_id, "m.receipt"):
        for event_id, by_type in event["content"].items():
            for rtype, by_user in by_type.items():
                merged.setdefault(event_id, {}).setdefault(rtype, {}).update(by_user)
    return merged


def shared_room(server: Any) -> tuple[Client, Client, str]:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    return alice, bob, room


# --- typing and receipts between two nio clients -------------------------------------


async def test_two_nio_clients_see_each_other_typing_and_reading(server) -> None:
    alice_account, bob_account = fresh_account(server, "alice"), fresh_account(server, "bob")
    alice, bob = nio_client(server, alice_account), nio_client(server, bob_account)
    try:
        created = await alice.room_create(preset=nio.RoomPreset.public_chat)
        assert isinstance(created, nio.RoomCreateResponse), created
        room = created.room_id
        assert isinstance(await bob.join(room), nio.JoinResponse)
        assert isinstance(await alice.sync(timeout=0), nio.SyncResponse)
        assert isinstance(await bob.sync(timeout=0), nio.SyncResponse)

        assert isinstance(await alice.room_typing(room, True, 30_000), nio.RoomTypingResponse)
        seen = await bob.sync(timeout=10_000)
        assert isinstance(seen, nio.SyncResponse), seen
        typing = [e for e in seen.rooms.join[room].ephemeral if isinstance(e, nio.TypingNoticeEvent)]
        assert typing and typing[-1].users == [alice.user_id]

        # Bob types too; Alice sees both.
        assert isinstance(await bob.room_typing(room, True, 30_000), nio.RoomTypingResponse)
        both = await alice.sync(timeout=10_000)
        typing = [e for e in both.rooms.join[room].ephemeral if isinstance(e, nio.TypingNoticeEvent)]
        assert sorted(typing[-1].users) == sorted([alice.user_id, bob.user_id])

        sent = await alice.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "hi"})
        assert isinstance(sent, nio.RoomSendResponse), sent
        await bob.sync(timeout=10_000)
        marked = await bob.update_receipt_marker(room, sent.event_id)
        assert isinstance(marked, nio.UpdateReceiptMarkerResponse), marked
        deadline = time.monotonic() + 10
        receipts: list[nio.Receipt] = []
        while not receipts and time.monotonic() < deadline:
            got = await alice.sync(timeout=5_000)
            assert isinstance(got, nio.SyncResponse), got
            joined = got.rooms.join.get(room)
            for event in joined.ephemeral if joined else []:
                if isinstance(event, nio.ReceiptEvent):
                    receipts += [r for r in event.receipts if r.user_id == bob.user_id]
        assert [(r.event_id, r.receipt_type) for r in receipts] == [(sent.event_id, "m.read")]
    finally:
        await alice.close()
        await bob.close()


def test_typing_ends_by_itself_after_its_timeout(server) -> None:
    alice, bob, room = shared_room(server)
    since = bob.sync()["next_batch"]
    r = alice.http.put(f"/rooms/{room}/typing/{alice.user_id}", json={"typing": True, "timeout": 1500})
    assert r.status_code == 200, r.text
    first = bob.sync(since=since, timeout=10_000)
    assert ephemeral(first, room, "m.typing")[-1]["content"]["user_ids"] == [alice.user_id]
    started = time.monotonic()
    # No client call: the typing shard's timer ends it and wakes Bob's long-poll.
    ended = bob.sync(since=first["next_batch"], timeout=20_000)
    assert ephemeral(ended, room, "m.typing")[-1]["content"]["user_ids"] == []
    assert 0.5 < time.monotonic() - started < 6


def test_typing_is_only_for_yourself_and_joined_rooms(server) -> None:
    alice, bob, room = shared_room(server)
    carol = Client(server, fresh_account(server, "carol"))
    other = alice.http.put(f"/rooms/{room}/typing/{bob.user_id}", json={"typing": True, "timeout": 1})
    assert (other.status_code, other.json()["errcode"]) == (403, "M_FORBIDDEN")
    outsider = carol.http.put(f"/rooms/{room}/typing/{carol.user_id}",
                              json={"typing": True, "timeout": 1000})
    assert (outsider.status_code, outsider.json()["errcode"]) == (403, "M_FORBIDDEN")
    bad = alice.http.put(f"/rooms/{room}/typing/{alice.user_id}", json={"typing": "yes"})
    assert (bad.status_code, bad.json()["errcode"]) == (400, "M_BAD_JSON")
    no_timeout = alice.http.put(f"/rooms/{room}/typing/{alice.user_id}", json={"typing": True})
    assert (no_timeout.status_code, no_timeout.json()["errcode"]) == (400, "M_BAD_JSON")
    stop = alice.http.put(f"/rooms/{room}/typing/{alice.user_id}", json={"typing": False})
    assert stop.status_code == 200, stop.text
    assert_matches("typing.yaml", "/rooms/{roomId}/typing/{userId}", "put", 200, stop.json())


# --- receipts and read markers ---------------------------------------------------------


def test_private_receipts_reach_only_their_owner(server) -> None:
    alice, bob, room = shared_room(server)
    event = alice.send(room, "secret read")
    bob_since = bob.sync()["next_batch"]
    alice_since = alice.sync()["next_batch"]
    r = alice.http.post(f"/rooms/{room}/receipt/m.read.private/{event}", json={})
    assert r.status_code == 200, r.text
    mine = alice.sync(since=alice_since, timeout=10_000)
    assert alice.user_id in receipts_of(mine, room)[event]["m.read.private"]
    # Bob's long-poll is not woken for it and never sees it.
    theirs = bob.sync(since=bob_since, timeout=1000)
    assert event not in receipts_of(theirs, room)
    assert event not in receipts_of(bob.sync(), room)
    assert alice.user_id in receipts_of(alice.sync(), room)[event]["m.read.private"]


def test_a_receipt_never_moves_backwards(server) -> None:
    alice, bob, room = shared_room(server)
    first = alice.send(room, "one")
    second = alice.send(room, "two")
    for event in (second, first):
        r = bob.http.post(f"/rooms/{room}/receipt/m.read/{event}", json={})
        assert r.status_code == 200, r.text
    receipts = receipts_of(alice.sync(), room)
    assert bob.user_id in receipts[second]["m.read"]
    assert first not in receipts or bob.user_id not in receipts[first].get("m.read", {})


def test_threaded_receipts_and_their_errors(server) -> None:
    alice, bob, room = shared_room(server)
    root = alice.send(room, "root")
    r = alice.http.put(f"/rooms/{room}/send/m.room.message/t{secrets.token_hex(4)}", json={
        "msgtype": "m.text", "body": "in thread",
        "m.relates_to": {"rel_type": "m.thread", "event_id": root},
    })
    reply = alice.ok(r)["event_id"]
    since = alice.sync()["next_batch"]
    ok_main = bob.http.post(f"/rooms/{room}/receipt/m.read/{root}", json={"thread_id": "main"})
    assert ok_main.status_code == 200, ok_main.text
    ok_thread = bob.http.post(f"/rooms/{room}/receipt/m.read/{reply}", json={"thread_id": root})
    assert ok_thread.status_code == 200, ok_thread.text
    got = alice.sync(since=since, timeout=10_000)
    receipts = receipts_of(got, room)
    if reply not in receipts:
        receipts.update(receipts_of(alice.sync(since=got["next_batch"], timeout=5000), room))
    assert receipts[root]["m.read"][bob.user_id]["thread_id"] == "main"
    assert receipts[reply]["m.read"][bob.user_id]["thread_id"] == root
    for path, body in [
        (f"/rooms/{room}/receipt/m.read/{reply}", {"thread_id": "main"}),  # not main timeline
        (f"/rooms/{room}/receipt/m.read/{root}", {"thread_id": ""}),
        (f"/rooms/{room}/receipt/m.read/{root}", {"thread_id": 5}),
        (f"/rooms/{room}/receipt/m.fully_read/{root}", {"thread_id": "main"}),
        (f"/rooms/{room}/receipt/m.unknown/{root}", {}),
    ]:
        bad = bob.http.post(path, json=body)
        assert (bad.status_code, bad.json()["errcode"]) == (400, "M_INVALID_PARAM"), (path, body)
    missing = bob.http.post(f"/rooms/{room}/receipt/m.read/$nope", json={})
    assert (missing.status_code, missing.json()["errcode"]) == (404, "M_NOT_FOUND")


def test_read_markers_set_fully_read_forward_only_and_all_or_nothing(server) -> None:
    alice, bob, room = shared_room(server)
    first = bob.send(room, "a")
    second = bob.send(room, "b")
    since = alice.sync()["next_batch"]
    r = alice.http.post(f"/rooms/{room}/read_markers",
                        json={"m.fully_read": second, "m.read": second})
    assert r.status_code == 200, r.text
    got = alice.sync(since=since, timeout=10_000)
    data = got["rooms"]["join"][room]["account_data"]["events"]
    assert {"type": "m.fully_read", "content": {"event_id": second}} in data
    # Backwards: ignored. Via the receipt endpoint: the same marker.
    back = alice.http.post(f"/rooms/{room}/receipt/m.fully_read/{first}", json={})
    assert back.status_code == 200, back.text
    marker = alice.http.get(f"/user/{alice.user_id}/rooms/{room}/account_data/m.fully_read")
    assert marker.json() == {"event_id": second}
    # A bad event anywhere in the body changes nothing.
    third = bob.send(room, "c")
    bad = alice.http.post(f"/rooms/{room}/read_markers",
                          json={"m.fully_read": third, "m.read": "$missing"})
    assert (bad.status_code, bad.json()["errcode"]) == (404, "M_NOT_FOUND")
    marker = alice.http.get(f"/user/{alice.user_id}/rooms/{room}/account_data/m.fully_read")
    assert marker.json() == {"event_id": second}
    wrong = alice.http.post(f"/rooms/{room}/read_markers", json={"m.read": 5})
    assert (wrong.status_code, wrong.json()["errcode"]) == (400, "M_BAD_JSON")


# --- presence ------------------------------------------------------------------------


def presence_of(response: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    return [e["content"] for e in response["presence"]["events"] if e["sender"] == user_id]


def test_presence_reaches_only_room_mates(server) -> None:
    alice, bob, _ = shared_room(server)
    carol = Client(server, fresh_account(server, "carol"))
    alice_since = alice.sync()["next_batch"]
    carol_since = carol.sync()["next_batch"]
    r = bob.http.put(f"/presence/{bob.user_id}/status",
                     json={"presence": "online", "status_msg": "here"})
    assert r.status_code == 200, r.text
    got = alice.sync(since=alice_since, timeout=10_000)
    [content] = presence_of(got, bob.user_id)
    assert content["presence"] == "online" and content["status_msg"] == "here"
    assert content["currently_active"] is True
    assert not presence_of(carol.sync(since=carol_since, timeout=1000), bob.user_id)
    assert not presence_of(carol.sync(), bob.user_id)
    # Bob sees himself; Alice's initial sync has him too.
    assert presence_of(bob.sync(), bob.user_id)
    assert presence_of(alice.sync(), bob.user_id)

    seen = alice.http.get(f"/presence/{bob.user_id}/status")
    assert seen.status_code == 200, seen.text
    assert_matches("presence.yaml", "/presence/{userId}/status", "get", 200, seen.json())
    assert seen.json()["presence"] == "online"
    hidden = carol.http.get(f"/presence/{bob.user_id}/status")
    assert (hidden.status_code, hidden.json()["errcode"]) == (403, "M_FORBIDDEN")
    other = alice.http.put(f"/presence/{bob.user_id}/status", json={"presence": "offline"})
    assert (other.status_code, other.json()["errcode"]) == (403, "M_FORBIDDEN")
    bad = bob.http.put(f"/presence/{bob.user_id}/status", json={"presence": "asleep"})
    assert (bad.status_code, bad.json()["errcode"]) == (400, "M_BAD_JSON")


def test_set_presence_on_sync_marks_the_user_online(server) -> None:
    alice, bob, _ = shared_room(server)
    alice_since = alice.sync(set_presence="offline")["next_batch"]
    bob.sync(set_presence="unavailable")
    deadline = time.monotonic() + 10
    states: list[str] = []
    while time.monotonic() < deadline and "unavailable" not in states:
        got = alice.sync(since=alice_since, timeout=3000, set_presence="offline")
        alice_since = got["next_batch"]
        states += [c["presence"] for c in presence_of(got, bob.user_id)]
    assert "unavailable" in states
    assert alice.http.get(f"/presence/{bob.user_id}/status").json()["presence"] == "unavailable"


# --- account data and tags ---------------------------------------------------------------


def account_events(response: dict[str, Any], event_type: str, room: str | None = None) -> list[Any]:
    if room is None:
        events = response["account_data"]["events"]
    else:
        events = response["rooms"]["join"].get(room, {}).get("account_data", {}).get("events", [])
    return [e["content"] for e in events if e["type"] == event_type]


def test_account_data_and_tags_round_trip_and_sync_once_per_change(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    room = alice.create_room()
    since = alice.sync()["next_batch"]
    base = f"/user/{alice.user_id}"

    assert alice.http.put(f"{base}/account_data/org.example.cfg", json={"a": 1}).status_code == 200
    assert alice.http.get(f"{base}/account_data/org.example.cfg").json() == {"a": 1}
    assert alice.http.put(f"{base}/rooms/{room}/account_data/org.example.r",
                          json={"r": True}).status_code == 200
    assert alice.http.get(f"{base}/rooms/{room}/account_data/org.example.r").json() == {"r": True}
    tag = alice.http.put(f"{base}/rooms/{room}/tags/u.work", json={"order": 0.5})
    assert tag.status_code == 200, tag.text
    tags = alice.http.get(f"{base}/rooms/{room}/tags")
    assert_matches("tags.yaml", "/user/{userId}/rooms/{roomId}/tags", "get", 200, tags.json())
    assert tags.json() == {"tags": {"u.work": {"order": 0.5}}}

    got = alice.sync(since=since, timeout=10_000)
    assert account_events(got, "org.example.cfg") == [{"a": 1}]
    assert account_events(got, "org.example.r", room) == [{"r": True}]
    assert account_events(got, "m.tag", room) == [{"tags": {"u.work": {"order": 0.5}}}]
    # Exactly once: the next sync has none of them.
    quiet = alice.sync(since=got["next_batch"])
    assert not account_events(quiet, "org.example.cfg")
    assert room not in quiet["rooms"]["join"]

    assert alice.http.delete(f"{base}/rooms/{room}/tags/u.work").status_code == 200
    assert alice.http.get(f"{base}/rooms/{room}/tags").json() == {"tags": {}}
    after = alice.sync(since=quiet["next_batch"], timeout=10_000)
    assert account_events(after, "m.tag", room) == [{"tags": {}}]
    assert not account_events(after, "org.example.cfg")
    # An initial sync has the latest of each.
    initial = alice.sync()
    assert account_events(initial, "org.example.cfg") == [{"a": 1}]
    assert account_events(initial, "m.tag", room) == [{"tags": {}}]

    # Errors, none of which writes anything.
    cases = [
        (bob.http.put(f"{base}/account_data/x", json={}), 403, "M_FORBIDDEN"),
        (bob.http.get(f"{base}/account_data/org.example.cfg"), 403, "M_FORBIDDEN"),
        (alice.http.put(f"{base}/account_data/x", json=[1]), 400, "M_BAD_JSON"),
        (alice.http.put(f"{base}/account_data/x", content=b"{nope"), 400, "M_NOT_JSON"),
        (alice.http.put(f"{base}/account_data/m.push_rules", json={}), 405, "M_BAD_JSON"),
        (alice.http.put(f"{base}/rooms/{room}/account_data/m.fully_read", json={}), 405,
         "M_BAD_JSON"),
        (alice.http.put(f"{base}/rooms/not-a-room/account_data/x", json={}), 400,
         "M_INVALID_PARAM"),
        (alice.http.get(f"{base}/account_data/org.example.none"), 404, "M_NOT_FOUND"),
        (alice.http.put(f"{base}/rooms/{room}/tags/u.bad", json={"order": "high"}), 400,
         "M_BAD_JSON"),
        (bob.http.put(f"{base}/rooms/{room}/tags/u.x", json={}), 403, "M_FORBIDDEN"),
    ]
    for response, status, errcode in cases:
        assert (response.status_code, response.json()["errcode"]) == (status, errcode), \
            response.request.url
    assert not account_events(alice.sync(since=after["next_batch"]), "x")


# --- to-device -------------------------------------------------------------------------------


def send_to_device(client: Client, messages: dict[str, Any], txn: str | None = None) -> None:
    txn = txn or secrets.token_hex(6)
    r = client.http.put(f"/sendToDevice/m.test/{txn}", json={"messages": messages})
    assert r.status_code == 200, r.text


def to_device_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    return response.get("to_device", {}).get("events", [])


def test_to_device_is_idempotent_limited_and_deleted_once_acknowledged(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    bob_phone = Client(server, second_device(server, bob.account))
    since = bob.sync()["next_batch"]
    send_to_device(alice, {bob.user_id: {bob.account.device_id: {"n": 0}}}, txn="same")
    send_to_device(alice, {bob.user_id: {bob.account.device_id: {"n": 0}}}, txn="same")
    send_to_device(alice, {bob.user_id: {"*": {"all": True}}})
    got = bob.sync(since=since, timeout=10_000)
    assert [e["content"] for e in to_device_events(got)] == [{"n": 0}, {"all": True}]
    assert to_device_events(got)[0]["sender"] == alice.user_id
    assert [e["content"] for e in to_device_events(bob_phone.sync())] == [{"all": True}]
    assert not to_device_events(bob.sync(since=got["next_batch"]))

    with httpx.Client(base_url=alice.http.base_url, headers=alice.http.headers) as http:
        for n in range(105):
            r = http.put(f"/sendToDevice/m.test/many{n}",
                         json={"messages": {bob.user_id: {bob.account.device_id: {"n": n}}}})
            assert r.status_code == 200, r.text
    first = bob.sync(since=got["next_batch"])
    assert [e["content"]["n"] for e in to_device_events(first)] == list(range(100))
    rest = bob.sync(since=first["next_batch"], timeout=5000)
    assert [e["content"]["n"] for e in to_device_events(rest)] == list(range(100, 105))
    # Retrying with an old token gets the unacknowledged messages again.
    again = bob.sync(since=first["next_batch"])
    assert [e["content"]["n"] for e in to_device_events(again)] == list(range(100, 105))
    assert not to_device_events(bob.sync(since=rest["next_batch"]))

    bad = alice.http.put("/sendToDevice/m.test/bad", json={"messages": {"nobody": {}}})
    assert (bad.status_code, bad.json()["errcode"]) == (400, "M_BAD_JSON")
    missing = alice.http.put("/sendToDevice/m.test/bad2", json={})
    assert (missing.status_code, missing.json()["errcode"]) == (400, "M_MISSING_PARAM")


@pytest.mark.timeout(300)
def test_to_device_survives_a_sync_actor_restart(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    since = bob.sync()["next_batch"]
    send_to_device(alice, {bob.user_id: {bob.account.device_id: {"before": "restart"}}})
    ray.kill(ray.get_actor("sync-0", namespace=NAMESPACE), no_restart=False)
    ray.kill(ray.get_actor("sync-1", namespace=NAMESPACE), no_restart=False)
    got = _sync_until(bob, since, lambda r: bool(to_device_events(r)))
    assert [e["content"] for e in to_device_events(got)] == [{"before": "restart"}]
    send_to_device(alice, {bob.user_id: {bob.account.device_id: {"after": "restart"}}})
    later = _sync_until(bob, got["next_batch"], lambda r: bool(to_device_events(r)))
    assert [e["content"] for e in to_device_events(later)] == [{"after": "restart"}]
    assert not to_device_events(bob.sync(since=later["next_batch"]))


def _sync_until(client: Client, since: str, done: Any, within: float = 120) -> dict[str, Any]:
    """Sync (retrying while the sync shard restarts) until `done(response)`."""
    deadline = time.monotonic() + within
    while True:
        r = client.get("/sync", since=since, timeout=5000)
        if r.status_code == 200:
            body = r.json()
            assert_matches("sync.yaml", "/sync", "get", 200, body)
            if done(body):
                return body
            since = body["next_batch"]
        assert time.monotonic() < deadline, f"gave up: {r.status_code} {r.text}"
        if r.status_code != 200:
            time.sleep(0.2)
