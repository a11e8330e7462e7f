"""Server key answers (`/_matrix/key/v2/server`): building ours, checking others'.

Spec: server-server-api "Retrieving server keys", "Publishing Keys",
"Querying Keys Through Another Server"; the room versions' key validity
rule (v5+: a key vouches only for what it signed before `valid_until_ts`,
and a receiver trusts that date at most 7 days ahead of when it fetched).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from signedjson.types import SigningKey

from protocol.signing import (
    SignatureError,
    decode_verify_key_base64,
    key_id,
    sign_json,
    verify_json,
    verify_key_base64,
)

# How long a receiver trusts a key answer at most, whatever valid_until_ts says.
MAX_TRUST_MS = 7 * 24 * 3600 * 1000


class KeyResponseError(ValueError):
    """A key answer that is malformed, for another server, or not self-signed."""


@dataclass(frozen=True)
class OldKey:
    key_id: str
    key: str
    expired_ts: int


@dataclass(frozen=True)
class KeyResponse:
    server_name: str
    valid_until_ts: int
    verify_keys: dict[str, str]
    old_verify_keys: dict[str, OldKey] = field(default_factory=dict)


def build_key_response(
    server_name: str, signing_key: SigningKey, old_keys: Iterable[OldKey], valid_until_ts: int
) -> dict[str, Any]:
    """Our signed answer: the current key in `verify_keys`, former ones in `old_verify_keys`."""
    body = {
        "server_name": server_name,
        "valid_until_ts": valid_until_ts,
        "verify_keys": {key_id(signing_key): {"key": verify_key_base64(signing_key)}},
        "old_verify_keys": {k.key_id: {"key": k.key, "expired_ts": k.expired_ts}
                            for k in old_keys},
    }
    return sign_json(body, server_name, signing_key)


def parse_key_response(response: Any, expected_server: str) -> KeyResponse:
    """Check a server's own key answer: its shape, its name and its self-signature.

    It must be signed by at least one of its `verify_keys`, and every
    signature it carries from those keys must verify.
    """
    if not isinstance(response, Mapping):
        raise KeyResponseError("key answer is not an object")
    if response.get("server_name") != expected_server:
        raise KeyResponseError(f"key answer is for {response.get('server_name')!r}, "
                               f"not {expected_server!r}")
    valid_until = response.get("valid_until_ts")
    if not _is_int(valid_until):
        raise KeyResponseError("key answer has no integer valid_until_ts")
    verify_keys = _keys(response.get("verify_keys"), "verify_keys")
    old = response.get("old_verify_keys", {})
    old_keys: dict[str, OldKey] = {}
    for kid, entry in _entries(old, "old_verify_keys").items():
        expired_ts = entry.get("expired_ts")
        if not _is_int(expired_ts):
            raise KeyResponseError(f"old key {kid} has no integer expired_ts")
        old_keys[kid] = OldKey(kid, verify_keys_value(entry, kid), expired_ts)
    signatures = response.get("signatures")
    ours = signatures.get(expected_server) if isinstance(signatures, Mapping) else None
    signed_with = [kid for kid in verify_keys if isinstance(ours, Mapping) and kid in ours]
    if not signed_with:
        raise KeyResponseError("key answer is not signed by any of its verify_keys")
    for kid in signed_with:
        try:
            verify_json(response, expected_server, kid,
                        decode_verify_key_base64(kid, verify_keys[kid]))
        except (SignatureError, ValueError) as e:
            raise KeyResponseError(f"key answer self-signature {kid}: {e}") from None
    return KeyResponse(expected_server, valid_until, verify_keys, old_keys)


def check_notary_signature(
    response: Mapping[str, Any], notary: str, notary_keys: Mapping[str, str]
) -> None:
    """The notary's countersignature with one of its pinned keys; KeyResponseError otherwise."""
    for kid, key in notary_keys.items():
        signatures = response.get("signatures")
        if not isinstance(signatures, Mapping) or kid not in (signatures.get(notary) or {}):
            continue
        try:
            verify_json(response, notary, kid, decode_verify_key_base64(kid, key))
        except (SignatureError, ValueError) as e:
            raise KeyResponseError(f"notary signature {kid}: {e}") from None
        return
    raise KeyResponseError(f"key answer not signed by notary {notary}")


def countersign(response: Mapping[str, Any], server_name: str, key: SigningKey) -> dict[str, Any]:
    """A notary's copy of an answer: the original signatures plus ours."""
    return sign_json(response, server_name, key)


def trusted_until(valid_until_ts: int, fetched_ts: int) -> int:
    """How long a current key is trusted: its validity, at most 7 days after fetching."""
    return min(valid_until_ts, fetched_ts + MAX_TRUST_MS)


def verify_keys_value(entry: Mapping[str, Any], kid: str) -> str:
    key = entry.get("key")
    if not isinstance(key, str):
        raise KeyResponseError(f"key {kid} has no key")
    try:
        decode_verify_key_base64(kid, key)
    except ValueError as e:
        raise KeyResponseError(str(e)) from None
    return key


def _keys(value: Any, what: str) -> dict[str, str]:
    return {kid: verify_keys_value(entry, kid) for kid, entry in _entries(value, what).items()}


def _entries(value: Any, what: str) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise KeyResponseError(f"{what} is not an object")
    out: dict[str, Mapping[str, Any]] = {}
    for kid, entry in value.items():
        if not isinstance(entry, Mapping):
            raise KeyResponseError(f"{what}.{kid} is not an object")
        # Keys of algorithms we do not know are skipped, not an error.
        if kid.partition(":")[0] != "ed25519":
            continue
        out[kid] = entry
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
