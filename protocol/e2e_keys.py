"""End-to-end encryption keys as signed JSON: their shapes and their signatures.

Spec: client-server-api "End-to-End Encryption" (key algorithms, device keys,
one-time and fallback keys, cross-signing, server-side key backups) and the
appendices' "Signing JSON". A user's keys are signed JSON whose signing
entity is the user ID and whose key IDs are `ed25519:<device ID>` (device
keys) or `ed25519:<public key>` (cross-signing keys). Nothing here stores or
fetches keys: callers pass the public keys they hold.

Malformed input raises `KeyFormatError` (its `bad_json` tells a wrong JSON
type from a wrong value); a missing or bad signature raises
`protocol.signing.SignatureError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from unpaddedbase64 import decode_base64

from protocol.signing import SignatureError, decode_verify_key_base64, verify_json

ED25519 = "ed25519"
MASTER = "master"
SELF_SIGNING = "self_signing"
USER_SIGNING = "user_signing"
CROSS_SIGNING_USAGES = (MASTER, SELF_SIGNING, USER_SIGNING)
ED25519_KEY_BYTES = 32
# Never signed, so never compared or stored as part of a key.
_UNSIGNED_FIELDS = ("signatures", "unsigned")


class KeyFormatError(ValueError):
    """A key object is malformed; `bad_json` when a field has the wrong JSON type."""

    def __init__(self, message: str, *, bad_json: bool = False) -> None:
        super().__init__(message)
        self.bad_json = bad_json


def _shape(message: str) -> KeyFormatError:
    return KeyFormatError(message, bad_json=True)


def split_key_id(key_id: Any) -> tuple[str, str]:
    """`<algorithm>:<id>` as (algorithm, id); both parts must be non-empty."""
    if not isinstance(key_id, str):
        raise _shape("key IDs must be strings")
    algorithm, sep, ident = key_id.partition(":")
    if not sep or not algorithm or not ident:
        raise KeyFormatError(f"key ID {key_id!r} is not <algorithm>:<id>")
    return algorithm, ident


def check_signature(obj: Mapping[str, Any], user_id: str, key_id: str, public_key: str) -> None:
    """`user_id`'s signature with `key_id` on `obj` must verify with `public_key`."""
    try:
        verify_key = decode_verify_key_base64(key_id, public_key)
    except ValueError as e:
        raise SignatureError(f"unusable public key for {key_id}: {e}") from None
    verify_json(obj, user_id, key_id, verify_key)


def signatures_by(obj: Mapping[str, Any], user_id: str) -> dict[str, str]:
    """The signatures `user_id` made on `obj`, by key ID (malformed entries left out)."""
    signatures = obj.get("signatures")
    mine = signatures.get(user_id) if isinstance(signatures, Mapping) else None
    if not isinstance(mine, Mapping):
        return {}
    return {k: v for k, v in mine.items() if isinstance(k, str) and isinstance(v, str)}


def _check_signatures_shape(obj: Mapping[str, Any]) -> None:
    signatures = obj.get("signatures")
    if signatures is None:
        return
    if not isinstance(signatures, Mapping) or not all(
        isinstance(entry, Mapping) and all(isinstance(s, str) for s in entry.values())
        for entry in signatures.values()
    ):
        raise _shape("signatures must map user IDs to objects of key ID to signature")


def _string_map(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise _shape(f"{name} must be an object of strings")
    return dict(value)


def check_device_keys(obj: Any, user_id: str, device_id: str) -> str:
    """Validate a `DeviceKeys` object uploaded by `user_id`'s `device_id`; its ed25519 key.

    The object must name that user and device, carry `ed25519:<device_id>`,
    and be signed by that key.
    """
    if not isinstance(obj, Mapping):
        raise _shape("device_keys must be an object")
    for name in ("user_id", "device_id"):
        if not isinstance(obj.get(name), str):
            raise _shape(f"device_keys.{name} must be a string")
    if obj["user_id"] != user_id or obj["device_id"] != device_id:
        raise KeyFormatError("device_keys must be for the requesting user and device")
    algorithms = obj.get("algorithms")
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise _shape("device_keys.algorithms must be an array of strings")
    keys = _string_map(obj.get("keys"), "device_keys.keys")
    for key_id in keys:
        split_key_id(key_id)
    _check_signatures_shape(obj)
    if not isinstance(obj.get("signatures"), Mapping):
        raise _shape("device_keys.signatures must be an object")
    ed25519 = keys.get(f"{ED25519}:{device_id}")
    if ed25519 is None:
        raise KeyFormatError(f"device_keys.keys has no {ED25519}:{device_id} key")
    check_signature(obj, user_id, f"{ED25519}:{device_id}", ed25519)
    return ed25519


def device_ed25519(device_keys: Mapping[str, Any]) -> str | None:
    """The device's ed25519 public key from its stored `DeviceKeys`."""
    keys = device_keys.get("keys")
    value = keys.get(f"{ED25519}:{device_keys.get('device_id')}") if isinstance(keys, Mapping) else None
    return value if isinstance(value, str) else None


def check_one_time_key(
    key_id: Any, value: Any, user_id: str, device_id: str, ed25519: str | None
) -> tuple[str, str]:
    """Validate one one-time or fallback key; (algorithm, key ID without the algorithm).

    A key object (`signed_curve25519` and any other object) must carry a
    `key` and the device's signature; a plain string key is only accepted for
    algorithms that are not `signed_*`.
    """
    algorithm, ident = split_key_id(key_id)
    if isinstance(value, str):
        if algorithm.startswith("signed_"):
            raise _shape(f"{key_id} must be a signed key object")
        return algorithm, ident
    if not isinstance(value, Mapping):
        raise _shape(f"{key_id} must be a string or a key object")
    if not isinstance(value.get("key"), str):
        raise _shape(f"{key_id}.key must be a string")
    if "fallback" in value and not isinstance(value["fallback"], bool):
        raise _shape(f"{key_id}.fallback must be a boolean")
    _check_signatures_shape(value)
    if ed25519 is None:
        raise KeyFormatError("upload the device keys before signed one-time or fallback keys")
    check_signature(value, user_id, f"{ED25519}:{device_id}", ed25519)
    return algorithm, ident


def check_cross_signing_key(obj: Any, user_id: str, usage: str) -> str:
    """Validate a `CrossSigningKey` of `user_id` meant for `usage`; its public key."""
    if not isinstance(obj, Mapping):
        raise _shape(f"the {usage} key must be an object")
    if obj.get("user_id") != user_id:
        raise KeyFormatError(f"the {usage} key must be for {user_id}")
    usages = obj.get("usage")
    if not isinstance(usages, list) or not all(isinstance(u, str) for u in usages):
        raise _shape(f"the {usage} key's usage must be an array of strings")
    if usage not in usages:
        raise KeyFormatError(f"the {usage} key's usage must include {usage!r}")
    keys = _string_map(obj.get("keys"), f"the {usage} key's keys")
    if len(keys) != 1:
        raise KeyFormatError(f"the {usage} key must have exactly one public key")
    [(key_id, public_key)] = keys.items()
    algorithm, ident = split_key_id(key_id)
    if algorithm != ED25519 or ident != public_key:
        raise KeyFormatError(f"the {usage} key's key ID must be ed25519:<its public key>")
    try:
        raw = decode_base64(public_key)
    except Exception:  # binascii.Error or ValueError: not base64 at all
        raise KeyFormatError(f"the {usage} key is not unpadded base64") from None
    if len(raw) != ED25519_KEY_BYTES:
        raise KeyFormatError(f"the {usage} key is not a 32-byte ed25519 key")
    _check_signatures_shape(obj)
    return public_key


def signed_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What the signatures cover: the object without `signatures` and `unsigned`."""
    return {k: v for k, v in obj.items() if k not in _UNSIGNED_FIELDS}


def same_signed_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two signed objects sign the same content (their signatures may differ)."""
    return signed_part(a) == signed_part(b)


def add_signatures(
    obj: Mapping[str, Any], extra: Iterable[tuple[str, str, str]]
) -> dict[str, Any]:
    """A copy of `obj` with more signatures: (signer user, signer key ID, signature)."""
    out = dict(obj)
    signatures = {u: dict(s) for u, s in (obj.get("signatures") or {}).items()}
    for signer, key_id, signature in extra:
        signatures.setdefault(signer, {})[key_id] = signature
    if signatures:
        out["signatures"] = signatures
    return out


# --- server-side key backups ---------------------------------------------------


def backup_key_rank(is_verified: bool, first_message_index: int, forwarded_count: int) -> tuple[int, int, int]:
    """Lower ranks are better keys for the same session (spec: "Server-side key backups").

    A verified key beats an unverified one; then the key that decrypts from an
    earlier message; then the key forwarded fewer times.
    """
    return (0 if is_verified else 1, first_message_index, forwarded_count)


def backup_key_replaces(old: tuple[int, int, int], new: tuple[int, int, int]) -> bool:
    """Whether a key ranked `new` replaces the stored one ranked `old` (ties keep the old)."""
    return new < old
