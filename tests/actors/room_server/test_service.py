"""The room server's writes, checked against what it leaves in PostgreSQL."""

from __future__ import annotations

import secrets

import pytest

from protocol.errors import MatrixError

ALICE = "@alice:test.local"
BOB = "@bob:test.local"


def uid(name: str) -> str:
    return f"@{name}{secrets.token_hex(3)}:test.local"


async def state_of(pool, room_id: str) -> dict[tuple[str, str], str]:
    rows = await pool.fetch(
        "SELECT type, state_key, event_id FROM current_state WHERE room_id = $1", room_id)
    return {(r["type"], r["state_key"]): r["event_id"] for r in rows}


@pytest.mark.parametrize("version", ["1", "3", "10", "11", "12"])
async def test_create_room_writes_the_spec_order(room_server, version: str) -> None:
    alice = uid("alice")
    result = await room_server.create_room(alice, {
        "room_version": version, "name": "Lounge", "topic": "chat", "preset": "public_chat",
    })
    room_id = result["room_id"]
    rows = await room_server.ctx.pool.fetch(
        "SELECT type, room_seq, depth, state_before, state_after FROM events"
        " WHERE room_id = $1 ORDER BY room_seq", room_id)
    assert [r["type"] for r in rows] == [
        "m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules",
        "m.room.history_visibility", "m.room.guest_access", "m.room.name", "m.room.topic",
    ]
    assert [r["room_seq"] for r in rows] == list(range(1, 9))
    assert [r["depth"] for r in rows] == list(range(1, 9))
    for a, b in zip(rows, rows[1:], strict=False):
        assert b["state_before"] == a["state_after"]
    state = await state_of(room_server.ctx.pool, room_id)
    assert len(state) == 8 and ("m.room.member", alice) in state
    if version == "12":
        create_id = state[("m.room.create", "")]
        assert room_id == "!" + create_id[1:]


async def test_send_is_idempotent_per_device_and_txn(room_server) -> None:
    alice = uid("alice")
    room_id = (await room_server.create_room(alice, {}))["room_id"]
    first = await room_server.send_event(room_id, alice, "DEV", "t1", "m.room.message",
                                         {"msgtype": "m.text", "body": "hi"})
    again = await room_server.send_event(room_id, alice, "DEV", "t1", "m.room.message",
                                         {"msgtype": "m.text", "body": "hi"})
    other = await room_server.send_event(room_id, alice, "DEV2", "t1", "m.room.message",
                                         {"msgtype": "m.text", "body": "hi"})
    assert first == again != other
    count = await room_server.ctx.pool.fetchval(
        "SELECT count(*) FROM events WHERE room_id = $1 AND type = 'm.room.message'", room_id)
    assert count == 2


async def test_outsiders_cannot_send_and_nothing_is_written(room_server) -> None:
    alice, eve = uid("alice"), uid("eve")
    room_id = (await room_server.create_room(alice, {}))["room_id"]
    before = await room_server.ctx.pool.fetchval("SELECT pos FROM writer_positions WHERE writer = 0")
    with pytest.raises(MatrixError) as err:
        await room_server.send_event(room_id, eve, "D", "t", "m.room.message", {"body": "x"})
    assert err.value.status == 403 and err.value.errcode == "M_FORBIDDEN"
    after = await room_server.ctx.pool.fetchval("SELECT pos FROM writer_positions WHERE writer = 0")
    assert before == after


async def test_membership_journey(room_server) -> None:
    alice, bob = uid("alice"), uid("bob")
    room_id = (await room_server.create_room(alice, {"preset": "private_chat"}))["room_id"]
    with pytest.raises(MatrixError):
        await room_server.update_membership(room_id, bob, bob, "join")
    await room_server.update_membership(room_id, alice, bob, "invite")
    await room_server.update_membership(room_id, bob, bob, "join")
    await room_server.send_event(room_id, bob, "D", "b1", "m.room.message", {"body": "hello"})
    await room_server.update_membership(room_id, alice, bob, "kick", "bye")
    with pytest.raises(MatrixError):
        await room_server.update_membership(room_id, alice, bob, "kick")
    await room_server.update_membership(room_id, alice, bob, "ban")
    with pytest.raises(MatrixError):
        await room_server.update_membership(room_id, alice, bob, "invite")
    await room_server.update_membership(room_id, alice, bob, "unban")
    rows = await room_server.ctx.pool.fetch(
        "SELECT membership FROM current_state WHERE room_id = $1 AND state_key = $2",
        room_id, bob)
    assert [r["membership"] for r in rows] == ["leave"]


async def test_redaction_marks_the_target(room_server) -> None:
    alice = uid("alice")
    room_id = (await room_server.create_room(alice, {}))["room_id"]
    target = await room_server.send_event(room_id, alice, "D", "m", "m.room.message",
                                          {"body": "oops"})
    redaction = await room_server.redact(room_id, alice, "D", "r", target, "typo")
    row = await room_server.ctx.pool.fetchrow(
        "SELECT redacted_by FROM events WHERE event_id = $1", target)
    assert row["redacted_by"] == redaction


async def test_a_restarted_shard_continues_the_room(room_server, fresh) -> None:
    alice = uid("alice")
    room_id = (await room_server.create_room(alice, {}))["room_id"]
    first = await room_server.send_event(room_id, alice, "D", "1", "m.room.message", {"body": "a"})
    restarted = fresh()
    await restarted.recover()
    second = await restarted.send_event(room_id, alice, "D", "2", "m.room.message", {"body": "b"})
    again = await restarted.send_event(room_id, alice, "D", "1", "m.room.message", {"body": "a"})
    assert again == first
    row = await room_server.ctx.pool.fetchrow(
        "SELECT pdu, room_seq FROM events WHERE event_id = $1", second)
    assert row["pdu"]["prev_events"] == [first]
    assert row["room_seq"] == 8  # six creation events, then the two messages


async def test_state_dedupes_and_profile_updates(room_server) -> None:
    alice = uid("alice")
    room_id = (await room_server.create_room(alice, {}))["room_id"]
    a = await room_server.send_state(room_id, alice, "m.room.topic", "", {"topic": "t"})
    b = await room_server.send_state(room_id, alice, "m.room.topic", "", {"topic": "t"})
    assert a == b
    ev = await room_server.set_member_profile(room_id, alice, "Alice", None)
    content = await room_server.ctx.pool.fetchval(
        "SELECT pdu->'content' FROM events WHERE event_id = $1", ev)
    assert content == {"membership": "join", "displayname": "Alice"}


async def test_bad_requests_are_matrix_errors(room_server) -> None:
    alice = uid("alice")
    for body, code in [
        ({"room_version": "99"}, "M_UNSUPPORTED_ROOM_VERSION"),
        ({"visibility": "secret"}, "M_INVALID_PARAM"),
        ({"invite": ["not-a-user"]}, "M_INVALID_PARAM"),
        ({"initial_state": [{"type": "m.room.member", "content": {}}]}, "M_INVALID_PARAM"),
        ({"name": 5}, "M_BAD_JSON"),
    ]:
        with pytest.raises(MatrixError) as err:
            await room_server.create_room(alice, body)
        assert err.value.errcode == code


async def test_too_large_event(room_server) -> None:
    alice = uid("alice")
    room_id = (await room_server.create_room(alice, {}))["room_id"]
    with pytest.raises(MatrixError) as err:
        await room_server.send_event(room_id, alice, "D", "big", "m.room.message",
                                     {"body": "x" * 70000})
    assert err.value.status == 413 and err.value.errcode == "M_TOO_LARGE"
