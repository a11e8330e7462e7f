"""Signature checks on a received PDU (server-server API, "Validating hashes and
signatures on received events").

Every server that must sign the event (`protocol.signing.servers_that_must_sign`:
the sender's server unless the event is a third-party invite, the event ID's
origin in v1/v2, a restricted join's authorising server) needs a signature on
the redacted event under a key we can fetch and trust. From room version 5 a
key only counts if it was valid when the event was sent, so the key fetch asks
for keys valid until at least the event's `origin_server_ts`.

Key fetching comes in as `fetch_keys(server, key_ids, minimum_valid_until_ts)`
returning `{key_id: unpadded base64 verify key}` (in the actors,
`actors.server_keys.api.verify_keys`), so this module does no I/O of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from protocol.room_versions import RoomVersion
from protocol.signing import (
    SignatureError,
    decode_verify_key_base64,
    servers_that_must_sign,
    signature_key_ids,
    verify_event_signature,
)

FetchKeys = Callable[[str, list[str], int], Awaitable[Mapping[str, str]]]

__all__ = ["FetchKeys", "SignatureError", "check_event_signatures"]


async def check_event_signatures(
    pdu: Mapping[str, Any], room_version: RoomVersion, fetch_keys: FetchKeys
) -> None:
    """Raise SignatureError unless every server that must sign `pdu` did, verifiably."""
    try:
        servers = servers_that_must_sign(pdu, room_version)
    except ValueError as e:
        raise SignatureError(str(e)) from None
    minimum_valid_until = _minimum_valid_until(pdu, room_version)
    for server in sorted(servers):
        await _check_server(pdu, room_version, server, minimum_valid_until, fetch_keys)


async def _check_server(
    pdu: Mapping[str, Any], room_version: RoomVersion, server: str,
    minimum_valid_until: int, fetch_keys: FetchKeys,
) -> None:
    key_ids = signature_key_ids(pdu, server)
    if not key_ids:
        raise SignatureError(f"the event is not signed by {server}")
    keys = await fetch_keys(server, key_ids, minimum_valid_until)
    verified = 0
    for key_id in key_ids:
        key_b64 = keys.get(key_id)
        if key_b64 is None:
            continue
        try:
            verify_key = decode_verify_key_base64(key_id, key_b64)
        except ValueError as e:
            raise SignatureError(f"unusable key {key_id} of {server}: {e}") from None
        # A signature under a key we trust must verify: one bad one is forgery.
        verify_event_signature(pdu, room_version, server, key_id, verify_key)
        verified += 1
    if not verified:
        raise SignatureError(f"no key of {server} that signed the event could be fetched")


def _minimum_valid_until(pdu: Mapping[str, Any], room_version: RoomVersion) -> int:
    if not room_version.enforce_key_validity:
        return 0
    ts = pdu.get("origin_server_ts")
    return ts if isinstance(ts, int) and not isinstance(ts, bool) else 0

