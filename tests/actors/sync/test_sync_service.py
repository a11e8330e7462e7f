"""/sync through the service, with the real room server writing the rooms."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from protocol.errors import MatrixError


def uid(name: str) -> str:
    return f"@{name}{secrets.token_hex(3)}:test.local"


def msg(body: str) -> dict:
    return {"msgtype": "m.text", "body": body}


def bodies(events: list[dict]) -> list[str]:
    return [e["content"]["body"] for e in events if e["type"] == "m.room.message"]


async def test_initial_then_incremental_sees_a_message_once(room_server, sync) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {"name": "Lounge"}))["room_id"]
    first = await sync.sync(alice, "DEV")
    joined = first["rooms"]["join"][room]
    types = [e["type"] for e in joined["timeline"]["events"]]
    assert types[0] == "m.room.create" and "m.room.name" in types
    assert joined["state"]["events"] == []
    assert joined["timeline"]["limited"] is False
    assert joined["summary"]["m.joined_member_count"] == 1
    assert all("room_id" not in e for e in joined["timeline"]["events"])

    await room_server.send_event(room, alice, "DEV", "t1", "m.room.message", msg("hello"))
    second = await sync.sync(alice, "DEV", since=first["next_batch"])
    events = second["rooms"]["join"][room]["timeline"]["events"]
    assert bodies(events) == ["hello"]
    assert events[0]["unsigned"]["transaction_id"] == "t1"
    third = await sync.sync(alice, "DEV", since=second["next_batch"])
    assert third["rooms"]["join"] == {}
    assert third["next_batch"] == second["next_batch"]


async def test_transaction_id_only_for_the_sending_device(room_server, sync) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {}))["room_id"]
    await room_server.send_event(room, alice, "PHONE", "txn9", "m.room.message", msg("x"))
    for device, expected in (("PHONE", "txn9"), ("LAPTOP", None)):
        events = (await sync.sync(alice, device))["rooms"]["join"][room]["timeline"]["events"]
        sent = [e for e in events if e["type"] == "m.room.message"][0]
        assert sent["unsigned"].get("transaction_id") == expected


async def test_long_poll_wakes_on_a_new_event(room_server, sync) -> None:
    alice, bob = uid("alice"), uid("bob")
    room = (await room_server.create_room(alice, {"preset": "public_chat"}))["room_id"]
    await room_server.update_membership(room, bob, bob, "join")
    since = (await sync.sync(bob, "D"))["next_batch"]
    start = time.monotonic()
    poll = asyncio.create_task(sync.sync(bob, "D", since=since, timeout_ms=10_000))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await room_server.send_event(room, alice, "A", "t", "m.room.message", msg("wake"))
    result = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - start < 2
    assert bodies(result["rooms"]["join"][room]["timeline"]["events"]) == ["wake"]


async def test_long_poll_times_out_empty_and_tolerates_cancel(sync) -> None:
    lonely = uid("lonely")
    since = (await sync.sync(lonely, "D"))["next_batch"]
    start = time.monotonic()
    empty = await sync.sync(lonely, "D", since=since, timeout_ms=300)
    assert 0.25 < time.monotonic() - start < 3
    assert not any(empty["rooms"].values())
    task = asyncio.create_task(sync.sync(lonely, "D", since=since, timeout_ms=30_000))
    await asyncio.sleep(0.1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sync.notifier.waiting_users() == 0


async def test_limited_timeline_then_messages_fill_the_gap(room_server, sync) -> None:
    alice = uid("alice")
    room = (await room_server.create_room(alice, {}))["room_id"]
    since = (await sync.sync(alice, "D"))["next_batch"]
    for i in range(25):
        await room_server.send_event(room, alice, "D", f"m{i}", "m.room.message", msg(str(i)))
    flt = '{"room": {"timeline": {"limit": 5}}}'
    r = await sync.sync(alice, "D", since=since, filter=flt)
    timeline = r["rooms"]["join"][room]["timeline"]
    assert timeline["limited"] is True
    assert bodies(timeline["events"]) == [str(i) for i in range(20, 25)]
    # Backwards from prev_batch down to `since`: exactly the gap, no repeats.
    seen: list[str] = []
    token = timeline["prev_batch"]
    while True:
        page = await sync.messages(alice, "D", room, direction="b", from_token=token,
                                   to_token=since, limit=4)
        seen += bodies(page["chunk"])
        if "end" not in page:
            break
        token = page["end"]
    assert seen == [str(i) for i in range(19, -1, -1)]
    # And forwards with from=since, to=prev_batch, as the spec suggests.
    page = await sync.messages(alice, "D", room, direction="f", from_token=since,
                               to_token=timeline["prev_batch"], limit=50)
    assert bodies(page["chunk"]) == [str(i) for i in range(20)]
    assert "end" not in page


async def test_bad_tokens_and_filters_are_400(sync) -> None:
    alice = uid("alice")
    for kwargs in ({"since": "garbage"}, {"filter": "{nope"}, {"filter": "12345"},
                   {"filter": '{"room": {"timeline": {"limit": "x"}}}'}, {"timeout_ms": -1}):
        with pytest.raises(MatrixError) as e:
            await sync.sync(alice, "D", **kwargs)
        assert (e.value.status, e.value.errcode) == (400, "M_INVALID_PARAM")
