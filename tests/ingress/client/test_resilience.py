"""The guarantees of DESIGN.md under load and failure, through HTTP on the Ray deployment.

- rooms on different room-server shards, many concurrent senders: every
  client's syncs see every event exactly once, in each room's order;
- a room-server actor killed mid-run: clients retry with the same txn ID and
  no event is lost or duplicated;
- the whole server restarted: accounts, rooms, messages and tokens intact.

The restart test runs last in this module and leaves the session's server up.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest
import ray

from sharding.hashing import shard_of
from sharding.names import NAMESPACE
from tests.clients import Account, auth_headers, register

V3 = "/_matrix/client/v3"
ROOM_SHARDS = 2


class AsyncUser:
    def __init__(self, server: Any, account: Account) -> None:
        self.account = account
        self.http = httpx.AsyncClient(base_url=server.client_url + V3,
                                      headers=auth_headers(account), timeout=120)
        self.since: str | None = None
        self.timelines: dict[str, list[dict[str, Any]]] = {}

    async def close(self) -> None:
        await self.http.aclose()

    async def send(self, room_id: str, body: str, txn: str, attempts: int = 30) -> str:
        """Send, retrying with the same txn ID until the server acknowledges."""
        last = None
        for _ in range(attempts):
            try:
                r = await self.http.put(f"/rooms/{room_id}/send/m.room.message/{txn}",
                                        json={"msgtype": "m.text", "body": body})
                if r.status_code == 200:
                    return r.json()["event_id"]
                last = r.text
            except httpx.HTTPError as e:
                last = repr(e)
            await asyncio.sleep(0.5)
        raise AssertionError(f"send never acknowledged: {last}")

    async def sync_once(self, timeout_ms: int = 0) -> dict[str, Any]:
        params: dict[str, Any] = {"timeout": timeout_ms,
                                  "filter": '{"room":{"timeline":{"limit":1000}}}'}
        incremental = self.since is not None
        if incremental:
            params["since"] = self.since
        r = await self.http.get("/sync", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        self.since = body["next_batch"]
        for room_id, room in body.get("rooms", {}).get("join", {}).items():
            timeline = room.get("timeline", {})
            # With a limit of 1000 an incremental sync must never need a gap.
            assert not (incremental and timeline.get("limited")), room_id
            self.timelines.setdefault(room_id, []).extend(timeline.get("events", []))
        return body


def _messages(user: AsyncUser, room_id: str) -> list[str]:
    return [e["content"]["body"] for e in user.timelines.get(room_id, [])
            if e["type"] == "m.room.message"]


async def _room_order(user: AsyncUser, room_id: str) -> list[str]:
    """The room's order of message bodies, from /messages paging backwards from the end."""
    bodies: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"dir": "b", "limit": 100}
        if token:
            params["from"] = token
        r = await user.http.get(f"/rooms/{room_id}/messages", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        bodies += [e["content"]["body"] for e in page["chunk"] if e["type"] == "m.room.message"]
        if not page.get("end") or not page["chunk"]:
            return list(reversed(bodies))
        token = page["end"]


async def _rooms_on_both_shards(owner: AsyncUser, per_shard: int) -> list[str]:
    rooms: dict[int, list[str]] = {0: [], 1: []}
    while min(len(v) for v in rooms.values()) < per_shard:
        r = await owner.http.post("/createRoom", json={"preset": "public_chat"})
        assert r.status_code == 200, r.text
        room_id = r.json()["room_id"]
        shard = shard_of(room_id, ROOM_SHARDS)
        if len(rooms[shard]) < per_shard:
            rooms[shard].append(room_id)
    return rooms[0] + rooms[1]


@pytest.fixture(scope="module")
def accounts(server) -> list[Account]:
    return [register(server, f"load{i}{secrets.token_hex(3)}") for i in range(6)]


async def test_concurrent_senders_each_event_once_in_room_order(server, accounts) -> None:
    users = [AsyncUser(server, a) for a in accounts]
    try:
        rooms = await _rooms_on_both_shards(users[0], per_shard=3)
        for user in users[1:]:
            for room_id in rooms:
                r = await user.http.post(f"/join/{room_id}", json={})
                assert r.status_code == 200, r.text
        for user in users:
            await user.sync_once()

        per_user = 12

        async def sender(i: int, user: AsyncUser) -> None:
            for n in range(per_user):
                room_id = rooms[(i + n) % len(rooms)]
                await user.send(room_id, f"{user.account.user_id}#{n}", f"c{n}")

        syncing = True

        async def syncer(user: AsyncUser) -> None:
            while syncing:
                await user.sync_once(timeout_ms=500)

        sync_tasks = [asyncio.create_task(syncer(u)) for u in users]
        await asyncio.gather(*(sender(i, u) for i, u in enumerate(users)))
        syncing = False
        await asyncio.gather(*sync_tasks)
        for user in users:
            await user.sync_once()

        total = 0
        for room_id in rooms:
            order = await _room_order(users[0], room_id)
            total += len(order)
            for user in users:
                assert _messages(user, room_id) == order, (user.account.user_id, room_id)
        assert total == per_user * len(users)
    finally:
        for user in users:
            await user.close()


async def test_two_users_chat_across_shards(server, accounts) -> None:
    alice, bob = AsyncUser(server, accounts[0]), AsyncUser(server, accounts[1])
    try:
        rooms = await _rooms_on_both_shards(alice, per_shard=1)
        for room_id in rooms:
            await bob.http.post(f"/join/{room_id}", json={})
        await bob.sync_once()
        for room_id in rooms:
            await alice.send(room_id, f"hello {room_id}", f"h{secrets.token_hex(3)}")
        seen: set[str] = set()
        for _ in range(20):
            await bob.sync_once(timeout_ms=2000)
            seen = {room_id for room_id in rooms if f"hello {room_id}" in _messages(bob, room_id)}
            if seen == set(rooms):
                break
        assert seen == set(rooms)
    finally:
        await alice.close()
        await bob.close()


async def test_killing_a_room_server_loses_and_duplicates_nothing(server, accounts) -> None:
    alice = AsyncUser(server, accounts[2])
    try:
        room_id = (await _rooms_on_both_shards(alice, per_shard=1))[0]
        assert shard_of(room_id, ROOM_SHARDS) == 0
        count = 40

        async def send_all() -> None:
            for n in range(count):
                await alice.send(room_id, f"k{n}", f"kill{n}")
                await asyncio.sleep(0.02)

        async def kill_midway() -> None:
            await asyncio.sleep(0.5)
            ray.kill(ray.get_actor("room_server-0", namespace=NAMESPACE), no_restart=False)

        await asyncio.gather(send_all(), kill_midway())
        # Retrying every txn ID once more must not add anything.
        for n in range(count):
            await alice.send(room_id, f"k{n}", f"kill{n}")
        assert await _room_order(alice, room_id) == [f"k{n}" for n in range(count)]
    finally:
        await alice.close()


async def test_restarting_the_whole_server_keeps_everything(server, accounts) -> None:
    alice = AsyncUser(server, accounts[3])
    try:
        room_id = (await _rooms_on_both_shards(alice, per_shard=1))[1]
        for n in range(3):
            await alice.send(room_id, f"before{n}", f"r{n}")
        await alice.sync_once()
        token_before = alice.since
    finally:
        await alice.close()

    await asyncio.to_thread(server.restart)

    alice = AsyncUser(server, accounts[3])
    try:
        r = await alice.http.get("/account/whoami")
        assert r.status_code == 200 and r.json()["user_id"] == accounts[3].user_id
        assert await _room_order(alice, room_id) == [f"before{n}" for n in range(3)]
        alice.since = token_before
        await alice.send(room_id, "after", "r-after")
        body = await alice.sync_once(timeout_ms=5000)
        assert _messages(alice, room_id) == ["after"], body
    finally:
        await alice.close()
