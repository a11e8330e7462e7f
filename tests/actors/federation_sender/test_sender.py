"""The outbound side: transactions, limits, one in flight, backoff, retries, restarts, catch-up."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from actors.federation_sender import queue
from actors.federation_sender.backoff import Backoff
from actors.federation_sender.service import CATCH_UP_LIMIT
from actors.federation_sender.transactions import MAX_EDUS, MAX_PDUS, transaction_body
from tests.actors.federation_sender.conftest import SERVER, Clock, FakeClient, settle, unique


async def insert_events(pool, room_id: str, count: int) -> list[str]:
    """Event rows outside any writer's stream (writer -1): only the queues refer to them."""
    ids = [f"$ev{secrets.token_hex(8)}" for _ in range(count)]
    base = secrets.randbelow(10**12)
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO events (event_id, room_id, writer, stream_pos, room_seq, type, sender,"
            " depth, origin_server_ts, pdu) VALUES ($1, $2, -1, $3, $3, 'm.room.message',"
            " $4, 1, 1, $5)",
            [(e, room_id, base + i, f"@a:{SERVER}", {"room_id": room_id, "n": i})
             for i, e in enumerate(ids)],
        )
    return ids


async def queue_pdus(pool, destination: str, room_id: str, count: int) -> list[str]:
    ids = await insert_events(pool, room_id, count)
    async with pool.acquire() as conn:
        await queue.enqueue_pdus(conn, [(destination, e, room_id) for e in ids])
    return ids


class StuckClock(Clock):
    """A backoff that never ends (the process dies during it)."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.Event().wait()


def test_transaction_limits() -> None:
    body = transaction_body(SERVER, 5, [{}] * MAX_PDUS, [{}] * MAX_EDUS)
    assert body["origin"] == SERVER and body["origin_server_ts"] == 5
    assert "edus" not in transaction_body(SERVER, 5, [], [])
    with pytest.raises(ValueError):
        transaction_body(SERVER, 5, [{}] * (MAX_PDUS + 1), [])
    with pytest.raises(ValueError):
        transaction_body(SERVER, 5, [], [{}] * (MAX_EDUS + 1))


def test_backoff_doubles_up_to_the_cap() -> None:
    b = Backoff(first_ms=1000, cap_ms=10_000)
    assert [b.delay_ms(n) for n in range(6)] == [0, 1000, 2000, 4000, 8000, 10_000]
    assert b.delay_ms(10_000) == 10_000


async def test_batches_of_at_most_50_pdus_and_100_edus(make_sender, db_pool) -> None:
    client, clock = FakeClient(), Clock()
    sender = await make_sender(client=client, clock=clock)
    dest = unique("batch")
    await queue_pdus(db_pool, dest, "!r:x", 60)
    async with db_pool.acquire() as conn:
        for i in range(120):
            await queue.enqueue_edus(conn, [dest], "m.receipt", {"n": i})
    await sender.on_queued([dest])
    await settle(sender)
    sizes = [(len(b["pdus"]), len(b.get("edus", []))) for _, _, b in client.sent]
    assert sizes == [(50, 100), (10, 20)]
    # In queue order, and every path is this destination's /send.
    assert [e["content"]["n"] for _, _, b in client.sent for e in b.get("edus", [])] == list(
        range(120))
    assert all(d == dest and p.startswith("/_matrix/federation/v1/send/")
               for d, p, _ in client.sent)
    async with db_pool.acquire() as conn:
        assert dest not in await queue.destinations_with_work(conn)


async def test_one_transaction_in_flight_per_destination(make_sender) -> None:
    client, clock = FakeClient(), Clock()
    client.gate.clear()
    sender = await make_sender(client=client, clock=clock)
    dest = unique("single")
    await sender.queue_edu([dest], "m.direct_to_device", {"n": 0})
    for _ in range(500):
        if client.in_flight:
            break
        await asyncio.sleep(0.01)
    for i in range(1, 5):
        await sender.queue_edu([dest], "m.direct_to_device", {"n": i})
    await asyncio.sleep(0.05)
    assert client.in_flight == 1
    client.gate.set()
    await settle(sender)
    assert client.max_in_flight == 1
    # What was queued while the first was in flight went in one more transaction.
    assert [len(b["edus"]) for _, _, b in client.sent] == [1, 4]
    txn_ids = [p.rsplit("/", 1)[1] for _, p, _ in client.sent]
    assert len(set(txn_ids)) == 2


async def test_retries_reuse_the_txn_id_and_back_off(make_sender, db_pool) -> None:
    client, clock = FakeClient(), Clock()
    client.failures = 3
    sender = await make_sender(client=client, clock=clock)
    dest = unique("retry")
    await sender.queue_edu([dest], "m.direct_to_device", {"hello": 1})
    await settle(sender)
    assert len(client.sent) == 4
    assert len({p for _, p, _ in client.sent}) == 1
    assert all(b == client.sent[0][2] for _, _, b in client.sent)
    assert clock.sleeps == [2.0, 4.0, 8.0]
    async with db_pool.acquire() as conn:
        # Success clears the failure count.
        assert (await queue.destination_state(conn, dest)).failures == 0


async def test_a_restart_resends_the_same_transaction(make_sender, db_pool) -> None:
    client, clock = FakeClient(), StuckClock()
    client.failures = 1
    first = await make_sender(client=client, clock=clock)
    dest = unique("restart")
    client.gate.clear()
    await first.queue_edu([dest], "m.direct_to_device", {"survives": True})
    await asyncio.sleep(0.05)
    client.gate.set()
    await asyncio.sleep(0.05)
    await first.close()  # killed while backing off after the failure
    assert len(client.sent) == 1

    second_client, second_clock = FakeClient(), Clock()
    second = await make_sender(client=second_client, clock=second_clock, shard=first.shard)
    await settle(second)
    assert [p for _, p, _ in second_client.sent] == [client.sent[0][1]]
    assert second_client.sent[0][2] == client.sent[0][2]
    # The backoff survived the restart too.
    assert second_clock.sleeps == [2.0]


async def test_after_an_outage_only_each_rooms_newest_pdu_is_sent(make_sender, db_pool) -> None:
    client, clock = FakeClient(), Clock()
    dest = unique("outage")
    rooms = ["!a:x", "!b:x", "!c:x"]
    for room in rooms:
        await queue_pdus(db_pool, dest, room, CATCH_UP_LIMIT // 2)
    async with db_pool.acquire() as conn:
        await queue.record_failure(conn, dest, 5, clock.now + 1000)
    sender = await make_sender(client=client, clock=clock)
    await settle(sender)
    assert len(client.sent) == 1
    sent = client.sent[0][2]["pdus"]
    assert sorted((p["room_id"], p["n"]) for p in sent) == [
        (room, CATCH_UP_LIMIT // 2 - 1) for room in rooms]
    assert clock.sleeps == [1.0]


async def test_typing_is_not_queued_for_a_failing_destination(make_sender, db_pool) -> None:
    client, clock = FakeClient(), Clock()
    dest = unique("typing")
    async with db_pool.acquire() as conn:
        await queue.record_failure(conn, dest, 2, clock.now + 10_000)
    sender = await make_sender(client=client, clock=clock)
    await sender.queue_edu([dest], "m.typing", {"room_id": "!r:x"})
    async with db_pool.acquire() as conn:
        assert dest not in await queue.destinations_with_work(conn)
