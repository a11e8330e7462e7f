"""Inbound PDUs: the room server against a fake remote server that signs its own events."""

from __future__ import annotations

import secrets

import pytest

from actors.room_server.federation_requests import InboundEffects
from protocol.signing import generate_signing_key
from protocol.state_res import resolve_state
from tests.actors.room_server.fake_remote import BOB, REMOTE, FakeRemote

MESSAGE = "m.room.message"


def text(body: str) -> dict[str, str]:
    return {"msgtype": "m.text", "body": body}


@pytest.fixture
async def setup(room_server):
    """A public room of a local user that @bob:remote.test has joined over federation."""
    async def make(version: str = "10", join: bool = True):
        alice = f"@alice{secrets.token_hex(3)}:test.local"
        room_id = (await room_server.create_room(
            alice, {"room_version": version, "preset": "public_chat"}))["room_id"]
        remote = FakeRemote(room_server.rooms.get(room_id).version, room_id,
                            room_server.ctx.server_name, room_server.ctx.signing_key)
        await remote.copy_from(room_server.ctx.pool)
        room_server.inbound_effects = InboundEffects(remote, remote.fetch_keys)
        if join:
            join_id, join_pdu = remote.build("m.room.member", BOB, {"membership": "join"},
                                             state_key=BOB)
            assert await room_server.receive_pdus(REMOTE, [join_pdu]) == {join_id: {}}
        return alice, room_id, remote

    return make


async def row(pool, event_id: str):
    return await pool.fetchrow(
        "SELECT room_seq, stream_pos, outlier, soft_failed, rejected_reason, pdu, state_before,"
        " state_after FROM events WHERE event_id = $1", event_id)


async def current_state(pool, room_id: str) -> dict[tuple[str, str], str]:
    rows = await pool.fetch(
        "SELECT type, state_key, event_id FROM current_state WHERE room_id = $1", room_id)
    return {(r["type"], r["state_key"]): r["event_id"] for r in rows}


async def extremities(pool, room_id: str) -> set[str]:
    rows = await pool.fetch("SELECT event_id FROM forward_extremities WHERE room_id = $1", room_id)
    return {r["event_id"] for r in rows}


@pytest.mark.parametrize("version", ["4", "10", "12"])
async def test_accepted_message_is_live_and_wakes_sync(room_server, setup, version) -> None:
    alice, room_id, remote = await setup(version)
    pool = room_server.ctx.pool
    state = await current_state(pool, room_id)
    assert state[("m.room.member", BOB)] == remote.latest[0]
    room_server.ctx.router.notified.clear()
    msg_id, pdu = remote.build(MESSAGE, BOB, text("hello"))
    assert await room_server.receive_pdus(REMOTE, [pdu]) == {msg_id: {}}
    r = await row(pool, msg_id)
    assert not r["outlier"] and r["rejected_reason"] is None
    assert r["room_seq"] == await pool.fetchval(
        "SELECT max(room_seq) FROM events WHERE room_id = $1", room_id)
    assert await extremities(pool, room_id) == {msg_id}
    woken = [n for n in room_server.ctx.router.notified if n[0] == "sync"]
    assert woken and woken[-1][5] == room_id and alice in woken[-1][6]
    # A local event after it cites it and keeps the state chain whole.
    reply = await room_server.send_event(room_id, alice, "D", None, MESSAGE, text("hi bob"))
    reply_row = await row(pool, reply)
    assert reply_row["pdu"]["prev_events"] == [msg_id]
    assert reply_row["state_before"] == r["state_after"]


async def test_idempotent_redelivery(room_server, setup) -> None:
    _, room_id, remote = await setup()
    pool = room_server.ctx.pool
    msg_id, pdu = remote.build(MESSAGE, BOB, text("once"))
    assert await room_server.receive_pdus(REMOTE, [pdu]) == {msg_id: {}}
    pos = await pool.fetchval("SELECT pos FROM writer_positions WHERE writer = 0")
    assert await room_server.receive_pdus(REMOTE, [pdu, pdu]) == {msg_id: {}}
    assert await pool.fetchval("SELECT pos FROM writer_positions WHERE writer = 0") == pos
    assert await pool.fetchval("SELECT count(*) FROM events WHERE event_id = $1", msg_id) == 1


async def test_forged_signature_is_dropped(room_server, setup) -> None:
    _, room_id, remote = await setup()
    impostor = generate_signing_key("r1")
    msg_id, pdu = remote.build(MESSAGE, BOB, text("forged"), signing_key=impostor, learn=False)
    answer = await room_server.receive_pdus(REMOTE, [pdu])
    assert "signature" in answer[msg_id]["error"]
    assert await row(room_server.ctx.pool, msg_id) is None


async def test_wrong_hash_is_stored_redacted(room_server, setup) -> None:
    _, room_id, remote = await setup()
    msg_id, pdu = remote.build(MESSAGE, BOB, text("original"))
    tampered = {**pdu, "content": text("tampered")}
    assert await room_server.receive_pdus(REMOTE, [tampered]) == {msg_id: {}}
    r = await row(room_server.ctx.pool, msg_id)
    assert r["pdu"]["content"] == {} and not r["outlier"]


async def test_unauthorised_event_is_rejected_and_changes_nothing(room_server, setup) -> None:
    _, room_id, remote = await setup()
    pool = room_server.ctx.pool
    before = await current_state(pool, room_id)
    pl_id = before[("m.room.power_levels", "")]
    content = dict(remote.events[pl_id].content)
    content["users"] = {**content.get("users", {}), BOB: 100}
    bad_id, pdu = remote.build("m.room.power_levels", BOB, content, state_key="")
    answer = await room_server.receive_pdus(REMOTE, [pdu])
    assert answer[bad_id]["error"].startswith("rejected")
    assert (await row(pool, bad_id))["rejected_reason"]
    assert await current_state(pool, room_id) == before
    assert bad_id not in await extremities(pool, room_id)
    room = room_server.rooms.get(room_id)
    assert room.state[("m.room.power_levels", "")] == pl_id


async def test_missing_prev_events_are_fetched(room_server, setup) -> None:
    _, room_id, remote = await setup()
    pool = room_server.ctx.pool
    ids = [remote.build(MESSAGE, BOB, text(f"m{i}"))[0] for i in range(3)]
    answer = await room_server.receive_pdus(REMOTE, [remote.pdu(ids[-1])])
    assert answer == {ids[-1]: {}}
    assert ("POST", f"/_matrix/federation/v1/get_missing_events/{room_id}") in [
        (m, p.replace("%21", "!").replace("%3A", ":")) for m, p in remote.requests]
    seqs = [(await row(pool, i))["room_seq"] for i in ids]
    assert seqs == sorted(seqs)
    for i in ids:
        assert not (await row(pool, i))["outlier"]
    assert await extremities(pool, room_id) == {ids[-1]}


async def test_gap_is_filled_with_state_ids(room_server, setup) -> None:
    alice, room_id, remote = await setup()
    pool = room_server.ctx.pool
    # A topic change in the gap: the state fetched at the gap must carry it.
    ids = [remote.build(MESSAGE, BOB, text(f"m{i}"))[0] for i in range(3)]
    pl_event = remote.events[remote.state_after[ids[-1]][("m.room.power_levels", "")]]
    assert pl_event.content.get("state_default", 50) > 0
    ids += [remote.build(MESSAGE, BOB, text(f"m{i}"))[0] for i in range(3, 15)]
    answer = await room_server.receive_pdus(REMOTE, [remote.pdu(ids[-1])])
    assert answer == {ids[-1]: {}}
    assert any(p.startswith("/_matrix/federation/v1/state_ids/") for _, p in remote.requests)
    rows = {i: await row(pool, i) for i in ids}
    fetched = [i for i in ids if rows[i] is not None and not rows[i]["outlier"]]
    assert fetched == ids[-11:]
    gap = ids[-12]
    assert rows[gap]["outlier"] and rows[gap]["state_after"] is not None
    assert all(rows[i] is None for i in ids[:-12])
    # Both branches are extremities now: ours (bob's join) and the remote chain's tip.
    assert ids[-1] in await extremities(pool, room_id)
    reply = await room_server.send_event(room_id, alice, "D", None, MESSAGE, text("merge"))
    prevs = set((await row(pool, reply))["pdu"]["prev_events"])
    assert ids[-1] in prevs and await extremities(pool, room_id) == {reply}


async def test_soft_failed_event_is_kept_out(room_server, setup) -> None:
    alice, room_id, remote = await setup()
    pool = room_server.ctx.pool
    fork = list(remote.latest)
    await room_server.update_membership(room_id, alice, BOB, "ban")
    # Bob's server has not seen the ban: its event is fine against its own state.
    msg_id, pdu = remote.build(MESSAGE, BOB, text("after the ban"), prev=fork)
    assert await room_server.receive_pdus(REMOTE, [pdu]) == {msg_id: {}}
    r = await row(pool, msg_id)
    assert r["soft_failed"] and r["outlier"] and r["rejected_reason"] is None
    assert msg_id not in await extremities(pool, room_id)
    assert (await current_state(pool, room_id))[("m.room.member", BOB)] != fork[0]


async def test_conflicting_power_levels_resolve_like_the_protocol_core(room_server, setup) -> None:
    alice, room_id, remote = await setup()
    pool = room_server.ctx.pool
    state = await current_state(pool, room_id)
    pl_id = state[("m.room.power_levels", "")]
    content = dict(remote.events[pl_id].content)
    users = {**content.get("users", {}), BOB: 100}
    await room_server.send_state(room_id, alice, "m.room.power_levels", "",
                                 {**content, "users": users})
    await remote.copy_from(pool)
    fork = list(remote.latest)
    # Concurrently, both at level 100: alice raises the topic level here, bob the name level there.
    alice_pl = await room_server.send_state(
        room_id, alice, "m.room.power_levels", "",
        {**content, "users": users, "events": {**content["events"], "m.room.topic": 75}})
    bob_pl, pdu = remote.build(
        "m.room.power_levels", BOB,
        {**content, "users": users, "events": {**content["events"], "m.room.name": 80}},
        state_key="", prev=fork)
    ours = await current_state(pool, room_id)
    assert await room_server.receive_pdus(REMOTE, [pdu]) == {bob_pl: {}}
    await remote.copy_from(pool)
    expected = resolve_state(remote.version, [ours, remote.state_after[bob_pl]], remote.get)
    assert await current_state(pool, room_id) == expected
    assert room_server.rooms.get(room_id).state == expected
    # Equal power: the later event (alice's, by origin_server_ts) is applied last and wins.
    assert expected[("m.room.power_levels", "")] == alice_pl
    assert await extremities(pool, room_id) == {alice_pl, bob_pl}


async def test_pdus_for_an_unknown_room_are_left_out(room_server, setup) -> None:
    _, room_id, remote = await setup()
    msg_id, pdu = remote.build(MESSAGE, BOB, text("elsewhere"), learn=False)
    pdu = {**pdu, "room_id": "!nowhere:remote.test"}
    assert await room_server.receive_pdus(REMOTE, [pdu, "junk", {"room_id": 5}]) == {}


async def test_pdus_from_a_server_denied_by_the_acl_are_refused(room_server, setup) -> None:
    alice, room_id, remote = await setup()
    await room_server.send_state(room_id, alice, "m.room.server_acl", "",
                                 {"allow": ["*"], "deny": [REMOTE]})
    await remote.copy_from(room_server.ctx.pool)
    msg_id, pdu = remote.build(MESSAGE, BOB, text("banned server"))
    answer = await room_server.receive_pdus(REMOTE, [pdu])
    assert "ACL" in answer[msg_id]["error"]
    assert await row(room_server.ctx.pool, msg_id) is None
