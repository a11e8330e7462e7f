"""Alias resolution, local aliases and the published room directory end to end."""

from __future__ import annotations

import secrets

import httpx

from tests.e2e_server import SERVER_NAME
from tests.ingress.client.sync_client import V3, Client, fresh_account
from tests.openapi import assert_matches


def test_aliases_and_public_rooms(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    local = f"dir{secrets.token_hex(4)}"
    alias = f"#{local}:{SERVER_NAME}"
    room = alice.create_room(room_alias_name=local, preset="public_chat", visibility="public",
                             name=f"Directory {local}", topic="listed")
    anonymous = httpx.Client(base_url=server.client_url + V3, timeout=30)

    resolved = anonymous.get(f"/directory/room/{alias.replace('#', '%23')}")
    assert resolved.status_code == 200, resolved.text
    assert_matches("directory.yaml", "/directory/room/{roomAlias}", "get", 200, resolved.json())
    assert resolved.json() == {"room_id": room, "servers": [SERVER_NAME]}
    missing = anonymous.get(f"/directory/room/%23missing:{SERVER_NAME}")
    assert missing.status_code == 404 and missing.json()["errcode"] == "M_NOT_FOUND"
    bad = anonymous.get("/directory/room/nonsense")
    assert bad.status_code == 400 and bad.json()["errcode"] == "M_INVALID_PARAM"

    aliases = alice.ok(alice.get(f"/rooms/{room}/aliases"))
    assert_matches("directory.yaml", "/rooms/{roomId}/aliases", "get", 200, aliases)
    assert aliases == {"aliases": [alias]}
    eve = Client(server, fresh_account(server, "eve"))
    assert eve.get(f"/rooms/{room}/aliases").status_code == 403

    listed = anonymous.get("/directory/list/room/" + room)
    assert listed.json() == {"visibility": "public"}
    assert_matches("list_public_rooms.yaml", "/directory/list/room/{roomId}", "get", 200,
                   listed.json())
    assert anonymous.get(f"/directory/list/room/!unknown:{SERVER_NAME}").status_code == 404

    page = anonymous.get("/publicRooms", params={"limit": 50})
    assert page.status_code == 200
    assert_matches("list_public_rooms.yaml", "/publicRooms", "get", 200, page.json())
    searched = alice.ok(alice.http.post("/publicRooms", json={
        "filter": {"generic_search_term": local.upper()}, "limit": 5}))
    assert_matches("list_public_rooms.yaml", "/publicRooms", "post", 200, searched)
    assert [c["room_id"] for c in searched["chunk"]] == [room]
    entry = searched["chunk"][0]
    assert entry["name"] == f"Directory {local}" and entry["topic"] == "listed"
    assert entry["canonical_alias"] == alias and entry["num_joined_members"] == 1
    r = alice.http.post("/publicRooms", json={"filter": {"room_types": "m.space"}})
    assert r.status_code == 400 and r.json()["errcode"] == "M_BAD_JSON"
    r = anonymous.get("/publicRooms", params={"since": "bogus"})
    assert r.status_code == 400 and r.json()["errcode"] == "M_INVALID_PARAM"
