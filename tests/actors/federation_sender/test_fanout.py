"""Which PDUs go where: read from a writer's stream, sent to the room's other servers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from actors.federation_sender.destinations import pdu_destinations
from actors.federation_sender.forwarding import mark_for_forwarding
from tests.actors.federation_sender.conftest import SERVER, Clock, FakeClient, settle


def test_destinations_rule() -> None:
    joined = {SERVER, "a.test", "b.test"}
    assert pdu_destinations(joined, event_type="m.room.message", state_key=None,
                            our_server=SERVER, origin=None) == {"a.test", "b.test"}
    assert pdu_destinations(joined, event_type="m.room.member", state_key="@x:c.test",
                            our_server=SERVER, origin="a.test") == {"b.test", "c.test"}


class Room:
    """Hand-made rows of one writer: member events, state groups and events citing them."""

    def __init__(self, pool, writer: int) -> None:
        self.pool, self.writer = pool, writer
        self.room_id = f"!{secrets.token_hex(6)}:{SERVER}"
        self.pos = 0
        self.members: dict[str, str] = {}

    async def event(self, sender: str, *, type: str = "m.room.message",
                    state_key: str | None = None, membership: str | None = None,
                    outlier: bool = False, forwarded_from: str | None = None) -> str:
        self.pos += 1
        event_id = f"$e{secrets.token_hex(8)}"
        content = {"membership": membership} if membership else {"body": "x"}
        pdu = {"room_id": self.room_id, "type": type, "sender": sender, "content": content,
               "tag": event_id}
        async with self.pool.acquire() as conn, conn.transaction():
            if state_key is not None:
                self.members[state_key] = event_id
            group = await conn.fetchval(
                "INSERT INTO state_groups (room_id, prev_group, chain_len) VALUES ($1, NULL, 0)"
                " RETURNING id", self.room_id)
            await conn.executemany(
                "INSERT INTO state_group_entries (state_group, type, state_key, event_id)"
                " VALUES ($1, 'm.room.member', $2, $3)",
                [(group, k, v) for k, v in self.members.items()])
            await conn.execute(
                "INSERT INTO events (event_id, room_id, writer, stream_pos, room_seq, type,"
                " state_key, sender, depth, origin_server_ts, pdu, state_after, outlier)"
                " VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $4, 1, $8, $9, $10)",
                event_id, self.room_id, self.writer, self.pos, type, state_key, sender, pdu,
                group, outlier)
            if forwarded_from:
                await mark_for_forwarding(conn, event_id, forwarded_from)
            await conn.execute("UPDATE writer_positions SET pos = $2 WHERE writer = $1",
                               self.writer, self.pos)
        return event_id

    async def member(self, user_id: str, membership: str, **kw) -> str:
        return await self.event(user_id if membership != "invite" else f"@a:{SERVER}",
                                type="m.room.member", state_key=user_id,
                                membership=membership, **kw)


@pytest.fixture
async def writer(db_pool) -> AsyncIterator[int]:
    """A writer of its own, removed afterwards so other tests' stream readers never see it."""
    writer = 10_000 + secrets.randbelow(10**6)
    await db_pool.execute("INSERT INTO writer_positions (writer, pos) VALUES ($1, 0)", writer)
    yield writer
    await db_pool.execute("DELETE FROM writer_positions WHERE writer = $1", writer)


async def test_events_go_to_the_joined_servers_and_membership_targets(make_sender, db_pool,
                                                                      writer) -> None:
    client = FakeClient()
    sender = await make_sender(client=client, clock=Clock())
    room = Room(db_pool, writer)
    expected: dict[str, set[str]] = {}
    expected[await room.member(f"@a:{SERVER}", "join")] = set()
    # Arrived over /send from one.test: never sent on.
    expected[await room.member("@b:one.test", "join")] = set()
    expected[await room.event(f"@a:{SERVER}")] = {"one.test"}
    expected[await room.member("@d:three.test", "invite")] = {"one.test", "three.test"}
    # A join another server gave us through send_join: to everyone but that server.
    expected[await room.member("@e:four.test", "join", forwarded_from="four.test")] = {
        "one.test"}
    expected[await room.event(f"@a:{SERVER}", outlier=True)] = set()
    expected[await room.member(f"@a:{SERVER}", "leave")] = {"one.test", "four.test"}
    await sender.catch_up()
    await settle(sender)
    got: dict[str, set[str]] = {e: set() for e in expected}
    for destination, _, body in client.sent:
        for pdu in body["pdus"]:
            got[pdu["tag"]].add(destination)
    assert got == expected
    # Caught up: the position is saved, so a restarted shard queues nothing again.
    again = FakeClient()
    restarted = await make_sender(client=again, clock=Clock(), shard=sender.shard)
    await restarted.catch_up()
    await settle(restarted)
    assert again.sent == []
