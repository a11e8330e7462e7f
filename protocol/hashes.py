"""Content hashes and reference hashes of PDUs.

Spec: server-server-api "Calculating the content hash for an event" and
"Calculating the reference hash for an event".

The content hash covers the whole unredacted event and is stored in the event
(`hashes.sha256`); the signature covers the redacted event, including that
hash, so a receiver can tell a redacted copy from a tampered one. The
reference hash covers the redacted event and is what v3+ event IDs are made
of, so it does not change when the event is redacted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from unpaddedbase64 import decode_base64, encode_base64

from protocol.canonical_json import encode_canonical_json
from protocol.redaction import redact_pdu
from protocol.room_versions import RoomVersion

# Keys that are not covered by the content hash: `unsigned` changes in transit,
# `signatures` depend on the hash, and a hash cannot cover itself.
_NOT_IN_CONTENT_HASH = ("unsigned", "signatures", "hashes")
# Keys removed from the redacted event before the reference hash. `age_ts` is
# a top-level key of very old events; redaction drops it too, but the spec
# names it, so it is removed explicitly.
_NOT_IN_REFERENCE_HASH = ("signatures", "unsigned", "age_ts")


def compute_content_hash(pdu: Mapping[str, Any]) -> bytes:
    """The SHA-256 content hash of a PDU (raw digest bytes)."""
    hashed = {k: v for k, v in pdu.items() if k not in _NOT_IN_CONTENT_HASH}
    return hashlib.sha256(encode_canonical_json(hashed)).digest()


def add_content_hash(pdu: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the PDU with `hashes.sha256` set to its content hash.

    Other entries of `hashes` (future algorithms) are kept.
    """
    out = dict(pdu)
    old = pdu.get("hashes")
    hashes = dict(old) if isinstance(old, Mapping) else {}
    hashes["sha256"] = encode_base64(compute_content_hash(pdu))
    out["hashes"] = hashes
    return out


def check_content_hash(pdu: Mapping[str, Any]) -> bool:
    """Whether `hashes.sha256` is present, decodable and matches the content.

    False means the event was redacted (or tampered with) on its way here; the
    spec says to carry on with the redacted copy (`pdu_after_hash_check`).
    """
    hashes = pdu.get("hashes")
    if not isinstance(hashes, Mapping):
        return False
    claimed_b64 = hashes.get("sha256")
    if not isinstance(claimed_b64, str):
        return False
    try:
        claimed = decode_base64(claimed_b64)
    except Exception:  # binascii.Error, ValueError: any undecodable value is a mismatch
        return False
    return hmac.compare_digest(claimed, compute_content_hash(pdu))


def pdu_after_hash_check(pdu: Mapping[str, Any], room_version: RoomVersion) -> dict[str, Any]:
    """The PDU to keep after checking its content hash.

    The spec: if the hash check fails, assume we were given a redacted copy and
    use the redacted copy we compute ourselves rather than what we received.
    """
    if check_content_hash(pdu):
        return dict(pdu)
    return redact_pdu(pdu, room_version)


def compute_reference_hash(pdu: Mapping[str, Any], room_version: RoomVersion) -> bytes:
    """The SHA-256 reference hash of a PDU (raw digest bytes)."""
    redacted = redact_pdu(pdu, room_version)
    for key in _NOT_IN_REFERENCE_HASH:
        redacted.pop(key, None)
    return hashlib.sha256(encode_canonical_json(redacted)).digest()
