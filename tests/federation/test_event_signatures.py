"""Signature checks on received PDUs, with keys handed in by a fake key fetcher."""

from __future__ import annotations

import pytest

from federation.event_signatures import SignatureError, check_event_signatures
from protocol.room_versions import room_version
from protocol.signing import generate_signing_key, key_id, sign_event, verify_key_base64

A, B = "a.test", "b.test"
KEYS = {A: generate_signing_key("a1"), B: generate_signing_key("b1")}


def pdu(version: str, sender_server: str = A, event_id: str | None = None) -> dict:
    event = {"type": "m.room.message", "sender": f"@u:{sender_server}", "room_id": "!r:a.test",
             "content": {"body": "x"}, "origin_server_ts": 1000, "prev_events": [],
             "auth_events": [], "depth": 1}
    if event_id:
        event["event_id"] = event_id
    return event


def fetcher(valid_until: int = 10**13, asked: list | None = None):
    async def fetch(server: str, key_ids: list[str], minimum: int) -> dict[str, str]:
        if asked is not None:
            asked.append((server, minimum))
        key = KEYS.get(server)
        return {key_id(key): verify_key_base64(key)} if key and valid_until >= minimum else {}
    return fetch


async def test_sender_signature_verifies_and_asks_for_key_valid_at_the_event() -> None:
    v = room_version("10")
    signed = sign_event(pdu("10"), v, A, KEYS[A])
    asked: list = []
    await check_event_signatures(signed, v, fetcher(asked=asked))
    assert asked == [(A, 1000)]


async def test_unsigned_wrong_key_or_expired_key_fail() -> None:
    v = room_version("10")
    with pytest.raises(SignatureError):
        await check_event_signatures(sign_event(pdu("10"), v, B, KEYS[B]), v, fetcher())
    forged = sign_event(pdu("10"), v, A, generate_signing_key("a1"))
    with pytest.raises(SignatureError):
        await check_event_signatures(forged, v, fetcher())
    with pytest.raises(SignatureError):
        await check_event_signatures(sign_event(pdu("10"), v, A, KEYS[A]), v, fetcher(500))


async def test_v1_event_ids_need_their_origin_too() -> None:
    v = room_version("1")
    event = pdu("1", event_id="$abc:b.test")
    only_sender = sign_event(event, v, A, KEYS[A])
    with pytest.raises(SignatureError):
        await check_event_signatures(only_sender, v, fetcher())
    both = sign_event(only_sender, v, B, KEYS[B])
    await check_event_signatures(both, v, fetcher())
