"""Federation queries between dendray and a real Synapse: profiles, keys, room directories.

Each side's client asks its own server about the other side's users and
rooms, so each server both makes and answers the federation requests
(`/query/profile`, `/user/keys/query`, `/user/keys/claim`, `/publicRooms`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.actors.keys.helpers import ClientDevice
from tests.clients import Account, auth_headers, register
from tests.openapi import assert_matches


def call(base: str, who: Account | None, method: str, path: str, body: Any = None,
         params: Any = None, expect: int = 200) -> Any:
    r = httpx.request(method, f"{base}/_matrix/client/v3{path}", json=body, params=params,
                      headers=auth_headers(who) if who else {}, timeout=120)
    assert r.status_code == expect, r.text
    return r.json()


@pytest.fixture(scope="module")
def peers(server, synapse_peer) -> tuple[str, str, Account, Account]:
    ours = register(server)
    theirs = register(synapse_peer)
    return server.client_url, synapse_peer.client_url, ours, theirs


def eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def set_name(base: str, who: Account, name: str) -> None:
    call(base, who, "PUT", f"/profile/{quote(who.user_id, safe='')}/displayname",
         {"displayname": name})


def test_profiles_both_ways(peers) -> None:
    ours_url, their_url, ours, theirs = peers
    set_name(ours_url, ours, "Ours")
    set_name(their_url, theirs, "Theirs")
    profile = call(ours_url, None, "GET", f"/profile/{quote(theirs.user_id, safe='')}")
    assert profile.get("displayname") == "Theirs"
    assert_matches("profile.yaml", "/profile/{userId}", "get", 200, profile)
    field = call(ours_url, None, "GET", f"/profile/{quote(theirs.user_id, safe='')}/displayname")
    assert field == {"displayname": "Theirs"}
    call(ours_url, None, "GET", f"/profile/{quote(theirs.user_id, safe='')}/avatar_url",
         expect=404)
    # Synapse's client reads ours through Synapse: our /query/profile answered it.
    seen = call(their_url, theirs, "GET", f"/profile/{quote(ours.user_id, safe='')}")
    assert seen.get("displayname") == "Ours"


def upload_keys(base: str, who: Account, otks: int) -> dict[str, Any]:
    """Upload signed device keys and one-time keys; the device keys uploaded."""
    device = ClientDevice(who.user_id, who.device_id)
    keys = device.device_keys()
    call(base, who, "POST", "/keys/upload", {
        "device_keys": keys, "one_time_keys": device.one_time_keys(otks)})
    return keys


def test_keys_both_ways(peers) -> None:
    ours_url, their_url, ours, theirs = peers
    their_device = upload_keys(their_url, theirs, 2)
    our_device = upload_keys(ours_url, ours, 2)

    queried = call(ours_url, ours, "POST", "/keys/query",
                   {"device_keys": {theirs.user_id: []}, "timeout": 30_000})
    assert_matches("keys.yaml", "/keys/query", "post", 200, queried)
    assert queried["failures"] == {}
    served = queried["device_keys"][theirs.user_id][theirs.device_id]
    assert served["keys"] == their_device["keys"]
    assert served["signatures"] == their_device["signatures"]
    claimed = call(ours_url, ours, "POST", "/keys/claim", {
        "one_time_keys": {theirs.user_id: {theirs.device_id: "signed_curve25519"}}})
    assert_matches("keys.yaml", "/keys/claim", "post", 200, claimed)
    (key_id,) = claimed["one_time_keys"][theirs.user_id][theirs.device_id]
    assert key_id.startswith("signed_curve25519:")

    # Synapse's client asks Synapse, which asks our /user/keys/query and /claim.
    seen = call(their_url, theirs, "POST", "/keys/query", {"device_keys": {ours.user_id: []}})
    assert seen["device_keys"][ours.user_id][ours.device_id]["keys"] == our_device["keys"]
    got = call(their_url, theirs, "POST", "/keys/claim", {
        "one_time_keys": {ours.user_id: {ours.device_id: "signed_curve25519"}}})
    assert list(got["one_time_keys"][ours.user_id][ours.device_id])[0].startswith(
        "signed_curve25519:")


def test_unreachable_servers_are_failures(peers) -> None:
    ours_url, _, ours, _ = peers
    # Port 9 (discard) on loopback: nothing listens there.
    nobody = "@nobody:127.0.0.1:9"
    answer = call(ours_url, ours, "POST", "/keys/query",
                  {"device_keys": {nobody: []}, "timeout": 5_000})
    assert list(answer["failures"]) == ["127.0.0.1:9"]


def test_public_rooms_both_ways(peers, server, synapse_peer) -> None:
    ours_url, their_url, ours, theirs = peers
    tag = secrets.token_hex(4)
    their_room = call(their_url, theirs, "POST", "/createRoom", {
        "preset": "public_chat", "visibility": "public", "name": f"Synapse {tag}"})["room_id"]
    our_room = call(ours_url, ours, "POST", "/createRoom", {
        "preset": "public_chat", "visibility": "public", "name": f"Dendray {tag}"})["room_id"]

    # Synapse lists a new room once its room statistics catch up; searches are
    # not cached there, plain pages are (so the plain page comes second).
    def searched() -> list[str]:
        found = call(ours_url, ours, "POST", "/publicRooms", {
            "filter": {"generic_search_term": tag}}, params={"server": synapse_peer.server_name})
        assert_matches("list_public_rooms.yaml", "/publicRooms", "post", 200, found)
        return [r["room_id"] for r in found["chunk"]]

    assert eventually(searched, "Synapse's directory to list the room") == [their_room]
    page = call(ours_url, ours, "GET", "/publicRooms",
                params={"server": synapse_peer.server_name, "limit": "50"})
    assert_matches("list_public_rooms.yaml", "/publicRooms", "get", 200, page)
    assert their_room in [r["room_id"] for r in page["chunk"]]

    seen = call(their_url, theirs, "POST", "/publicRooms", {
        "filter": {"generic_search_term": tag}}, params={"server": server.config.server_name})
    assert [r["room_id"] for r in seen["chunk"]] == [our_room]
    listed = call(their_url, theirs, "GET", "/publicRooms",
                  params={"server": server.config.server_name, "limit": "50"})
    assert our_room in [r["room_id"] for r in listed["chunk"]]


def test_federation_endpoints_need_a_signature_and_unknown_queries_are_unrecognized(
    server,
) -> None:
    base = f"{server.client_url}/_matrix/federation/v1"
    for path in ("/query/profile?user_id=%40a%3Ab", "/user/devices/%40a%3Ab", "/publicRooms",
                 "/hierarchy/%21r%3Ab"):
        r = httpx.get(base + path, timeout=30)
        assert (r.status_code, r.json()["errcode"]) == (401, "M_UNAUTHORIZED"), path
    r = httpx.get(base + "/query/nosuchtype", timeout=30)
    assert (r.status_code, r.json()["errcode"]) == (404, "M_UNRECOGNIZED")
