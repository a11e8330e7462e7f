"""An encrypted conversation between two matrix-nio clients (nio's `e2e` extra, on vodozemac).

Alice and Bob each log in with an Olm account kept in a temporary store,
upload their device and one-time keys, and share a room with encryption
on. Alice's message goes out as `m.room.encrypted` (Megolm), its room key
as an Olm-encrypted to-device message after claiming one of Bob's one-time
keys; Bob's client decrypts both. Everything the server sees is ciphertext,
so this exercises upload, query, claim, /sync's device lists and key
counts, and to-device delivery exactly as a real client uses them.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    KeysUploadResponse,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from tests.clients import register

ENCRYPTION = {"type": "m.room.encryption", "state_key": "",
              "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


async def _login(server: Any, store: Path, name: str) -> AsyncClient:
    account = register(server, f"{name}{secrets.token_hex(4)}")
    path = store / name
    path.mkdir()
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    client = AsyncClient(server.client_url, account.user_id, store_path=str(path), config=config)
    logged_in = await client.login("pw", device_name=f"{name}'s nio")
    assert isinstance(logged_in, LoginResponse), logged_in
    assert client.olm is not None  # encryption really is on
    uploaded = await client.keys_upload()
    assert isinstance(uploaded, KeysUploadResponse), uploaded
    assert uploaded.signed_curve25519_count > 0
    return client


@pytest.fixture
async def pair(server: Any, tmp_path: Path) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    alice = await _login(server, tmp_path, "alice")
    bob = await _login(server, tmp_path, "bob")
    try:
        yield alice, bob
    finally:
        await alice.close()
        await bob.close()


async def _sync(client: AsyncClient) -> SyncResponse:
    response = await client.sync(timeout=0)
    assert isinstance(response, SyncResponse), response
    if client.should_query_keys:
        await client.keys_query()
    return response


async def test_encrypted_message_between_two_nio_clients(
    server: Any, pair: tuple[AsyncClient, AsyncClient],
) -> None:
    alice, bob = pair
    await _sync(alice)
    await _sync(bob)
    created = await alice.room_create(invite=[bob.user_id], initial_state=[ENCRYPTION])
    assert isinstance(created, RoomCreateResponse), created
    room_id = created.room_id
    await _sync(bob)
    assert isinstance(await bob.join(room_id), JoinResponse)
    before = (await _sync(bob)).device_key_count.signed_curve25519
    await _sync(alice)
    room = alice.rooms[room_id]
    assert room.encrypted and bob.user_id in room.users
    # Alice's client now knows Bob's device from /keys/query.
    assert bob.device_id in alice.device_store[bob.user_id]

    sent = await alice.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": "only for bob"},
        ignore_unverified_devices=True,
    )
    assert isinstance(sent, RoomSendResponse), sent
    # What the server holds is ciphertext (nio would hand back its own decryption).
    raw = httpx.get(
        f"{server.client_url}/_matrix/client/v3/rooms/{room_id}/event/{sent.event_id}",
        headers={"Authorization": f"Bearer {alice.access_token}"}, timeout=30,
    ).json()
    assert raw["type"] == "m.room.encrypted"
    assert raw["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert "only for bob" not in str(raw)

    response = await _sync(bob)
    # One of Bob's one-time keys went to the Olm session that carried the room key.
    assert response.device_key_count.signed_curve25519 == before - 1
    events = response.rooms.join[room_id].timeline.events
    texts = [e.body for e in events if isinstance(e, RoomMessageText)]
    undecrypted = [e for e in events if isinstance(e, MegolmEvent)]
    assert texts == ["only for bob"] and undecrypted == []
    decrypted = next(e for e in events if isinstance(e, RoomMessageText))
    assert decrypted.decrypted and decrypted.sender == alice.user_id
