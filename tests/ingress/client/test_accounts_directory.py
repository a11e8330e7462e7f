"""Accounts meeting rooms, through HTTP: the user directory, profile updates, deactivation."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx

from storage.pool import connect
from tests.clients import Account, auth_headers, register
from tests.openapi import assert_matches

V3 = "/_matrix/client/v3"


def create_room(server, account: Account, preset: str) -> str:
    r = httpx.post(f"{server.client_url}{V3}/createRoom", headers=auth_headers(account),
                   json={"preset": preset}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["room_id"]


def join(server, account: Account, room_id: str) -> None:
    r = httpx.post(f"{server.client_url}{V3}/rooms/{room_id}/join",
                   headers=auth_headers(account), json={}, timeout=60)
    assert r.status_code == 200, r.text


def search(server, account: Account, term: str) -> list[str]:
    r = httpx.post(f"{server.client_url}{V3}/user_directory/search",
                   headers=auth_headers(account), json={"search_term": term})
    assert r.status_code == 200, r.text
    assert_matches("users.yaml", "/user_directory/search", "post", 200, r.json())
    return [user["user_id"] for user in r.json()["results"]]


def member_event(server, room_id: str, user_id: str) -> tuple[str | None, dict[str, Any]]:
    """(membership, content) of the user's current member event, read from the database."""

    async def read() -> tuple[str | None, dict[str, Any]]:
        conn = await connect(server.config.database.dsn)
        try:
            row = await conn.fetchrow(
                "SELECT cs.membership, e.pdu->'content' AS content FROM current_state cs"
                " JOIN events e ON e.event_id = cs.event_id WHERE cs.room_id = $1"
                " AND cs.type = 'm.room.member' AND cs.state_key = $2", room_id, user_id)
        finally:
            await conn.close()
        return (row["membership"], row["content"]) if row else (None, {})

    return asyncio.run(read())


def test_directory_finds_members_of_public_and_shared_rooms(server) -> None:
    tag = f"ud{secrets.token_hex(3)}"
    alice, bob, carol, dave = (register(server, f"{tag}{n}") for n in ("alice", "bob", "carol",
                                                                      "dave"))
    public = create_room(server, alice, "public_chat")
    join(server, bob, public)
    private = create_room(server, dave, "private_chat")
    httpx.post(f"{server.client_url}{V3}/rooms/{private}/invite", headers=auth_headers(dave),
               json={"user_id": carol.user_id}, timeout=60)
    join(server, carol, private)

    assert set(search(server, carol, f"{tag}bob")) == {bob.user_id}
    assert set(search(server, carol, tag)) == {alice.user_id, bob.user_id, carol.user_id,
                                               dave.user_id}
    # Dave shares no room with Bob but Bob is in a public room; Alice cannot see Dave.
    assert search(server, dave, f"{tag}bob") == [bob.user_id]
    assert search(server, alice, f"{tag}dave") == []


def test_displayname_reaches_joined_rooms_and_deactivation_leaves_them(server) -> None:
    alice, bob = register(server), register(server)
    room_id = create_room(server, alice, "public_chat")
    join(server, bob, room_id)
    r = httpx.put(f"{server.client_url}{V3}/profile/{bob.user_id}/displayname",
                  headers=auth_headers(bob), json={"displayname": "Bobby"}, timeout=60)
    assert r.status_code == 200
    membership, content = member_event(server, room_id, bob.user_id)
    assert membership == "join" and content.get("displayname") == "Bobby"
    assert search(server, alice, "bobby") == [bob.user_id]

    url = f"{server.client_url}{V3}/account/deactivate"
    session = httpx.post(url, json={}, headers=auth_headers(bob)).json()["session"]
    r = httpx.post(url, headers=auth_headers(bob), timeout=60, json={"auth": {
        "type": "m.login.password", "password": "pw", "session": session,
        "identifier": {"type": "m.id.user", "user": bob.user_id}}})
    assert r.status_code == 200, r.text
    assert member_event(server, room_id, bob.user_id)[0] == "leave"
    assert search(server, alice, "bobby") == []
