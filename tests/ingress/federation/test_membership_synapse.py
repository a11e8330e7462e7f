"""Joins, invites and rejections between dendray and a real Synapse, over federation.

Both servers run on loopback (the `server` and `synapse_peer` fixtures); the
users talk to their own server's client API only.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.clients import Account, auth_headers, register


def call(base: str, who: Account, method: str, path: str, body: Any = None,
         params: Any = None, expect: int = 200) -> Any:
    r = httpx.request(method, f"{base}/_matrix/client/v3{path}", json=body, params=params,
                      headers=auth_headers(who), timeout=120)
    assert r.status_code == expect, r.text
    return r.json()


def eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def room_path(room_id: str) -> str:
    return quote(room_id, safe="")


def sync_rooms(base: str, who: Account) -> dict[str, Any]:
    return call(base, who, "GET", "/sync", params={"timeout": "0"})["rooms"]


def membership_on(base: str, who: Account, room_id: str, user_id: str) -> str | None:
    r = httpx.get(
        f"{base}/_matrix/client/v3/rooms/{room_path(room_id)}/state/m.room.member/"
        f"{quote(user_id, safe='')}", headers=auth_headers(who), timeout=30)
    return r.json().get("membership") if r.status_code == 200 else None


@pytest.fixture(scope="module")
def peers(server, synapse_peer) -> tuple[str, str, Account, Account]:
    ours = register(server)
    theirs = register(synapse_peer)
    return server.client_url, synapse_peer.client_url, ours, theirs


def test_join_synapse_room_by_id_and_by_alias(peers, synapse_peer) -> None:
    ours_url, their_url, ours, theirs = peers
    alias_local = f"lounge{secrets.token_hex(3)}"
    room_id = call(their_url, theirs, "POST", "/createRoom", {
        "preset": "public_chat", "name": "Synapse lounge", "room_alias_name": alias_local,
    })["room_id"]
    call(ours_url, ours, "POST", f"/join/{room_path(room_id)}",
         params={"via": synapse_peer.server_name}, body={})
    joined = sync_rooms(ours_url, ours)["join"]
    assert room_id in joined
    state = joined[room_id]["state"]["events"] + joined[room_id]["timeline"]["events"]
    names = [e["content"].get("name") for e in state if e["type"] == "m.room.name"]
    assert names == ["Synapse lounge"]
    # Synapse sees our user joined.
    eventually(lambda: membership_on(their_url, theirs, room_id, ours.user_id) == "join",
               "Synapse to see our join")

    other = call(their_url, theirs, "POST", "/createRoom", {
        "preset": "public_chat", "room_alias_name": alias_local + "b"})["room_id"]
    alias = f"#{alias_local}b:{synapse_peer.server_name}"
    answer = call(ours_url, ours, "POST", f"/join/{quote(alias, safe='')}", body={})
    assert answer["room_id"] == other
    assert other in sync_rooms(ours_url, ours)["join"]


def test_synapse_user_accepts_our_invite(peers, synapse_peer) -> None:
    ours_url, their_url, ours, theirs = peers
    room_id = call(ours_url, ours, "POST", "/createRoom", {"name": "Ours"})["room_id"]
    call(ours_url, ours, "POST", f"/rooms/{room_path(room_id)}/invite",
         {"user_id": theirs.user_id})
    invited = eventually(lambda: room_id in sync_rooms(their_url, theirs)["invite"],
                         "the invite on Synapse")
    assert invited
    call(their_url, theirs, "POST", f"/join/{room_path(room_id)}", body={})
    assert membership_on(ours_url, ours, room_id, theirs.user_id) == "join"


def test_we_reject_a_synapse_invite(peers, synapse_peer) -> None:
    ours_url, their_url, ours, theirs = peers
    room_id = call(their_url, theirs, "POST", "/createRoom", {"name": "Invitation"})["room_id"]
    call(their_url, theirs, "POST", f"/rooms/{room_path(room_id)}/invite",
         {"user_id": ours.user_id})
    invites = eventually(lambda: sync_rooms(ours_url, ours)["invite"].get(room_id),
                         "the invite on dendray")
    stripped = invites["invite_state"]["events"]
    assert {"m.room.create", "m.room.name", "m.room.member"} <= {e["type"] for e in stripped}
    call(ours_url, ours, "POST", f"/rooms/{room_path(room_id)}/leave", body={})
    assert room_id not in sync_rooms(ours_url, ours)["invite"]
    eventually(lambda: membership_on(their_url, theirs, room_id, ours.user_id) == "leave",
               "Synapse to see the rejection")


def timeline_bodies(base: str, who: Account, room_id: str) -> list[str]:
    r = call(base, who, "GET", f"/rooms/{room_path(room_id)}/messages",
             params={"dir": "b", "limit": "50"})
    return [e["content"].get("body") for e in r["chunk"] if e["type"] == "m.room.message"]


def test_messages_flow_both_ways_after_the_join(peers, synapse_peer) -> None:
    ours_url, their_url, ours, theirs = peers
    room_id = call(their_url, theirs, "POST", "/createRoom", {"preset": "public_chat"})["room_id"]
    call(ours_url, ours, "POST", f"/join/{room_path(room_id)}",
         params={"server_name": synapse_peer.server_name}, body={})
    eventually(lambda: membership_on(their_url, theirs, room_id, ours.user_id) == "join",
               "Synapse to see our join")
    call(their_url, theirs, "PUT", f"/rooms/{room_path(room_id)}/send/m.room.message/t1",
         {"msgtype": "m.text", "body": "hello from synapse"})
    eventually(lambda: "hello from synapse" in timeline_bodies(ours_url, ours, room_id),
               "Synapse's message on dendray")
    call(ours_url, ours, "PUT", f"/rooms/{room_path(room_id)}/send/m.room.message/t1",
         {"msgtype": "m.text", "body": "hello from dendray"})
    eventually(lambda: "hello from dendray" in timeline_bodies(their_url, theirs, room_id),
               "our message on Synapse")


def test_we_knock_on_a_synapse_room(peers, synapse_peer) -> None:
    ours_url, their_url, ours, theirs = peers
    room_id = call(their_url, theirs, "POST", "/createRoom", {
        "name": "Knock here", "initial_state": [
            {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}],
    })["room_id"]
    call(ours_url, ours, "POST", f"/knock/{room_path(room_id)}",
         params={"via": synapse_peer.server_name}, body={})
    knocked = sync_rooms(ours_url, ours)["knock"][room_id]["knock_state"]["events"]
    assert {"m.room.create", "m.room.name", "m.room.member"} <= {e["type"] for e in knocked}
    eventually(lambda: membership_on(their_url, theirs, room_id, ours.user_id) == "knock",
               "Synapse to see the knock")
