"""Serving a room to other servers: access checks and the shapes of the answers."""

from __future__ import annotations

import pytest

from protocol.auth_chain import auth_chain
from protocol.errors import MatrixError
from protocol.event_ids import compute_event_id
from tests.actors.room_server.fake_remote import BOB, REMOTE
from tests.actors.room_server.test_receive_pdus import MESSAGE, setup, text

__all__ = ["setup"]


async def live_ids(pool, room_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT event_id FROM events WHERE room_id = $1 AND NOT outlier ORDER BY room_seq",
        room_id)
    return [r["event_id"] for r in rows]


async def test_state_ids_state_and_event_auth(room_server, setup) -> None:
    _, room_id, remote = await setup()
    msg_id, pdu = remote.build(MESSAGE, BOB, text("hi"))
    await room_server.receive_pdus(REMOTE, [pdu])
    ids = await room_server.serve_state_ids(REMOTE, room_id, msg_id)
    expected = remote.state_before([msg_id])
    assert set(ids["pdu_ids"]) == set(expected.values())
    assert set(ids["auth_chain_ids"]) <= set(remote.events)
    full = await room_server.serve_state(REMOTE, room_id, msg_id)
    assert len(full["pdus"]) == len(ids["pdu_ids"])
    auth = await room_server.serve_event_auth(REMOTE, room_id, msg_id)
    served = {compute_event_id(p, remote.version) for p in auth["auth_chain"]}
    assert served == auth_chain([msg_id], remote.get)

async def test_servers_outside_the_room_or_denied_by_acl_are_refused(room_server, setup) -> None:
    alice, room_id, remote = await setup()
    event_id = (await live_ids(room_server.ctx.pool, room_id))[-1]
    with pytest.raises(MatrixError) as e:
        await room_server.serve_state_ids("stranger.test", room_id, event_id)
    assert (e.value.status, e.value.errcode) == (403, "M_FORBIDDEN")
    await room_server.send_state(room_id, alice, "m.room.server_acl", "",
                                 {"allow": ["*"], "deny": [REMOTE]})
    for call in (room_server.serve_state_ids(REMOTE, room_id, event_id),
                 room_server.serve_backfill(REMOTE, room_id, [event_id], 5),
                 room_server.serve_event(REMOTE, event_id)):
        with pytest.raises(MatrixError) as e:
            await call
        assert e.value.status == 403
    with pytest.raises(MatrixError) as e:
        await room_server.serve_state_ids(REMOTE, "!unknown:test.local", event_id)
    assert e.value.status == 404


async def test_backfill_and_missing_events_walk_the_dag(room_server, setup) -> None:
    alice, room_id, remote = await setup()
    sent = [await room_server.send_event(room_id, alice, "D", None, MESSAGE, text(f"m{i}"))
            for i in range(5)]
    answer = await room_server.serve_backfill(REMOTE, room_id, [sent[-1]], 3)
    await remote.copy_from(room_server.ctx.pool)
    got = [p["content"].get("body") for p in answer["pdus"]]
    assert got == ["m4", "m3", "m2"]
    missing = await room_server.serve_missing_events(REMOTE, room_id, [sent[0]], [sent[-1]], 10, 0)
    assert [p["content"]["body"] for p in missing["events"]] == ["m1", "m2", "m3"]


async def test_redacted_and_invisible_events_are_served_redacted(room_server, setup) -> None:
    alice, room_id, remote = await setup()
    secret = await room_server.send_event(room_id, alice, "D", None, MESSAGE, text("secret"))
    await room_server.redact(room_id, alice, "D", None, secret, None)
    served = (await room_server.serve_event(REMOTE, secret))["pdus"][0]
    assert served["content"] == {}
    # History only for joined members, and bob's server leaves: later events come redacted.
    await room_server.send_state(room_id, alice, "m.room.history_visibility", "",
                                 {"history_visibility": "joined"})
    leave_id, leave = remote.build("m.room.member", BOB, {"membership": "leave"}, state_key=BOB)
    await room_server.receive_pdus(REMOTE, [leave])
    hidden = await room_server.send_event(room_id, alice, "D", None, MESSAGE, text("private"))
    served = (await room_server.serve_event(REMOTE, hidden))["pdus"][0]
    assert served["content"] == {}
    before = (await room_server.serve_event(alice.split(":")[1], hidden))["pdus"][0]
    assert before["content"]["body"] == "private"


async def test_backfill_pages_in_history_that_began_elsewhere(room_server) -> None:
    from actors.room_server.federation_requests import InboundEffects
    from tests.actors.room_server.test_federated_membership import Resident, connect, local_user

    remote = Resident("10", room_server.ctx.signing_key)
    carol = f"@carol:{REMOTE}"
    history = [remote.build(MESSAGE, carol, text(f"old {i}"))[0] for i in range(4)]
    connect(room_server, remote)
    room_server.inbound_effects = InboundEffects(remote, remote.fetch_keys)
    alice = await local_user(room_server, "alice")
    join_id = await room_server.update_membership(
        remote.room_id, alice, alice, "join", None, {"via": [REMOTE]})
    pool = room_server.ctx.pool
    top = await pool.fetchval("SELECT max(stream_pos) FROM events WHERE writer = 0")
    added = await room_server.backfill_history(remote.room_id, 20)
    rows = await pool.fetch(
        "SELECT event_id, writer, room_seq, outlier, state_before FROM events"
        " WHERE room_id = $1 AND NOT outlier ORDER BY room_seq", remote.room_id)
    order = [r["event_id"] for r in rows]
    # The whole DAG before the join, oldest first, and the join last.
    assert added == len(order) - 1 and order[-1] == join_id
    assert order[-1 - len(history):-1] == history
    assert all(r["writer"] == -1 and r["state_before"] is not None for r in rows[:-1])
    # Nothing new for incremental sync: writer 0 did not move.
    assert await pool.fetchval("SELECT max(stream_pos) FROM events WHERE writer = 0") == top
    assert await room_server.backfill_history(remote.room_id, 20) == 0


async def test_messages_backfills_when_paging_past_the_join(room_server) -> None:
    from actors.room_server.federation_requests import InboundEffects
    from actors.sync.service import SyncService
    from tests.actors.room_server.test_federated_membership import Resident, connect, local_user

    remote = Resident("11", room_server.ctx.signing_key)
    carol = f"@carol:{REMOTE}"
    for i in range(3):
        remote.build(MESSAGE, carol, text(f"old {i}"))
    remote.build("m.room.history_visibility", carol, {"history_visibility": "shared"},
                 state_key="")
    connect(room_server, remote)
    room_server.inbound_effects = InboundEffects(remote, remote.fetch_keys)
    alice = await local_user(room_server, "alice")
    await room_server.update_membership(remote.room_id, alice, alice, "join", None,
                                        {"via": [REMOTE]})

    async def call(component, key, method, *args, **kwargs):
        assert (component, method) == ("room_server", "backfill_history")
        return await getattr(room_server, method)(*args)

    room_server.ctx.router.call = call
    sync = SyncService(room_server.ctx, shard=0)
    page = await sync.messages(alice, None, remote.room_id, direction="b", limit=10)
    bodies = [e["content"].get("body") for e in page["chunk"] if e["type"] == MESSAGE]
    assert bodies == ["old 2", "old 1", "old 0"]
