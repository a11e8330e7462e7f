"""Transactions between dendray and a real Synapse: to-device messages both ways.

`m.direct_to_device` needs no shared room, so it proves the whole path on
its own: our sender's queue and `PUT /send/{txnId}` to Synapse, and Synapse's
transaction to our `/send` endpoint, each ending in the recipient's /sync.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import pytest

from tests.clients import Account, auth_headers, register


def call(base: str, who: Account, method: str, path: str, body: Any = None,
         params: Any = None) -> Any:
    r = httpx.request(method, f"{base}/_matrix/client/v3{path}", json=body, params=params,
                      headers=auth_headers(who), timeout=120)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def peers(server, synapse_peer) -> tuple[str, str, Account, Account]:
    return server.client_url, synapse_peer.client_url, register(server), register(synapse_peer)


def wait_for_to_device(base: str, who: Account, marker: str, deadline_s: float = 90) -> dict:
    since = None
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        params = {"timeout": 5000, **({"since": since} if since else {})}
        sync = call(base, who, "GET", "/sync", params=params)
        since = sync["next_batch"]
        for event in sync.get("to_device", {}).get("events", []):
            if event.get("content", {}).get("marker") == marker:
                return event
    raise AssertionError(f"{who.user_id} never got the to-device message {marker}")


def send_to_device(base: str, who: Account, target: Account, marker: str) -> None:
    call(base, who, "PUT", f"/sendToDevice/m.test.ping/{secrets.token_hex(6)}", {
        "messages": {target.user_id: {target.device_id: {"marker": marker}}}})


def test_to_device_to_synapse(peers) -> None:
    ours_url, their_url, ours, theirs = peers
    call(their_url, theirs, "GET", "/sync", params={"timeout": 0})
    marker = secrets.token_hex(8)
    send_to_device(ours_url, ours, theirs, marker)
    event = wait_for_to_device(their_url, theirs, marker)
    assert event["sender"] == ours.user_id and event["type"] == "m.test.ping"


def test_to_device_from_synapse(peers) -> None:
    ours_url, their_url, ours, theirs = peers
    call(ours_url, ours, "GET", "/sync", params={"timeout": 0})
    marker = secrets.token_hex(8)
    send_to_device(their_url, theirs, ours, marker)
    event = wait_for_to_device(ours_url, ours, marker)
    assert event["sender"] == theirs.user_id and event["type"] == "m.test.ping"
