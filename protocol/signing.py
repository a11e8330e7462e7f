"""Server signing keys, signed JSON, and event signatures.

Spec: appendices "Signing JSON" / "Signing Details" / "Checking for a
Signature" and the cryptographic test vectors; server-server-api "Signing
Events" (adding and validating hashes and signatures), the room versions'
auth rules (who must sign) and rooms/fragments/v5-signing-requirements.

Keys are `signedjson` key objects (nacl ed25519 keys carrying `alg` and
`version`), so they are compatible with Synapse's key files. The signing
itself is done here on our canonical JSON bytes rather than by
`signedjson.sign`, so that signing and hashing share one encoder. Nothing here
fetches keys: callers pass the verify key they already hold.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable, Mapping
from typing import Any

import nacl.exceptions
import nacl.signing
from signedjson import key as sj_key
from signedjson.types import SigningKey, VerifyKey
from unpaddedbase64 import decode_base64, encode_base64

from protocol.canonical_json import CanonicalJsonError, encode_canonical_json
from protocol.hashes import add_content_hash
from protocol.redaction import redact_pdu
from protocol.room_versions import EventFormat, RoomVersion

ED25519 = "ed25519"
# The only signing algorithm the spec defines.
SUPPORTED_ALGORITHMS: frozenset[str] = frozenset({ED25519})


class SignatureError(ValueError):
    """A required signature is missing, malformed or does not verify."""


# ---------------------------------------------------------------- keys


def generate_signing_key(version: str) -> SigningKey:
    """A new random ed25519 signing key with key ID `ed25519:<version>`."""
    _check_key_version(version)
    return sj_key.generate_signing_key(version)


def encode_signing_key_base64(key: SigningKey) -> str:
    """The unpadded base64 of the key's 32-byte seed (the secret part)."""
    return sj_key.encode_signing_key_base64(key)


def decode_signing_key_base64(algorithm: str, version: str, key_base64: str) -> SigningKey:
    """A signing key from its algorithm, version and base64 seed.

    ValueError for an unknown algorithm or a seed that is not 32 bytes.
    """
    _check_key_version(version)
    try:
        return sj_key.decode_signing_key_base64(algorithm, version, key_base64)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise ValueError(f"bad {algorithm} signing key: {exc}") from None


def read_signing_keys(text: str) -> list[SigningKey]:
    """Parse a Synapse-format key file: one `ed25519 <version> <seed>` a line.

    Blank lines are skipped; any other malformed line raises ValueError.
    """
    keys: list[SigningKey] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ValueError(f"signing key line {number}: expected '<alg> <version> <key>'")
        keys.append(decode_signing_key_base64(*parts))
    return keys


def write_signing_keys(keys: Iterable[SigningKey]) -> str:
    """The Synapse-format key file text for `keys` (one line each)."""
    out = io.StringIO()
    sj_key.write_signing_keys(out, list(keys))
    return out.getvalue()


def key_id(key: SigningKey | VerifyKey) -> str:
    """The key's signing key identifier, e.g. `ed25519:a_AbCd`."""
    return f"{key.alg}:{key.version}"


def get_verify_key(key: SigningKey) -> VerifyKey:
    """The public half of a signing key, carrying the same `alg` and `version`."""
    return sj_key.get_verify_key(key)


def verify_key_base64(key: SigningKey | VerifyKey) -> str:
    """The unpadded base64 public key, as published in `verify_keys`.

    Accepts a signing key (its public half is used) or a verify key.
    """
    if isinstance(key, nacl.signing.SigningKey):
        return encode_base64(bytes(key.verify_key))
    return encode_base64(bytes(key))


def decode_verify_key_base64(key_id: str, key_base64: str) -> VerifyKey:
    """A verify key from a key ID (`ed25519:<version>`) and its base64 value.

    ValueError for an unsupported algorithm or a malformed key.
    """
    algorithm, _, version = key_id.partition(":")
    if algorithm not in SUPPORTED_ALGORITHMS or not version:
        raise ValueError(f"unsupported key ID {key_id!r}")
    try:
        return sj_key.decode_verify_key_bytes(key_id, decode_base64(key_base64))
    except Exception as exc:  # binascii.Error or nacl's ValueError/TypeError
        raise ValueError(f"bad verify key for {key_id}: {exc}") from None


def _check_key_version(version: str) -> None:
    """Key versions are opaque but must be usable inside `alg:version` and a key file."""
    if not version or any(c.isspace() for c in version):
        raise ValueError("key version must be non-empty and contain no whitespace")


# ---------------------------------------------------------- signed JSON


def _signing_bytes(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON of `obj` without `signatures` and `unsigned` (never signed)."""
    return encode_canonical_json(
        {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    )


def sign_json(obj: Mapping[str, Any], server_name: str, key: SigningKey) -> dict[str, Any]:
    """A copy of `obj` with this server's signature added.

    Existing signatures (ours under other key IDs, and other servers') are
    kept; `unsigned` is carried over but not signed.
    """
    signature = key.sign(_signing_bytes(obj)).signature
    out = dict(obj)
    old = obj.get("signatures")
    signatures = copy.deepcopy(dict(old)) if isinstance(old, Mapping) else {}
    ours = signatures.get(server_name)
    ours = dict(ours) if isinstance(ours, Mapping) else {}
    ours[key_id(key)] = encode_base64(signature)
    signatures[server_name] = ours
    out["signatures"] = signatures
    return out


def signature_key_ids(obj: Mapping[str, Any], server_name: str) -> list[str]:
    """The key IDs `server_name` signed `obj` with, limited to supported algorithms."""
    signatures = obj.get("signatures")
    if not isinstance(signatures, Mapping):
        return []
    entry = signatures.get(server_name)
    if not isinstance(entry, Mapping):
        return []
    return [k for k in entry if isinstance(k, str) and k.partition(":")[0] in SUPPORTED_ALGORITHMS]


def verify_json(
    obj: Mapping[str, Any], server_name: str, key_id: str, verify_key: VerifyKey
) -> None:
    """Check `server_name`'s signature under `key_id` on `obj`; SignatureError if bad.

    Follows "Checking for a Signature": the entry must exist, the algorithm
    must be understood, the signature must decode and verify over the
    canonical JSON without `signatures` and `unsigned`.
    """
    if key_id.partition(":")[0] not in SUPPORTED_ALGORITHMS:
        raise SignatureError(f"unsupported signing algorithm in {key_id!r}")
    signatures = obj.get("signatures")
    entry = signatures.get(server_name) if isinstance(signatures, Mapping) else None
    if not isinstance(entry, Mapping):
        raise SignatureError(f"not signed by {server_name}")
    signature_b64 = entry.get(key_id)
    if not isinstance(signature_b64, str):
        raise SignatureError(f"no signature from {server_name} with {key_id}")
    try:
        signature = decode_base64(signature_b64)
    except Exception:  # binascii.Error or ValueError: undecodable means invalid
        raise SignatureError(f"signature from {server_name} is not base64") from None
    try:
        message = _signing_bytes(obj)
    except CanonicalJsonError as exc:
        # An object no server could have signed canonically is simply unsigned.
        raise SignatureError(f"cannot encode the signed object: {exc}") from None
    try:
        verify_key.verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError) as exc:
        raise SignatureError(f"bad signature from {server_name} with {key_id}: {exc}") from None


# --------------------------------------------------------------- events


def sign_event(
    pdu: Mapping[str, Any], room_version: RoomVersion, server_name: str, key: SigningKey
) -> dict[str, Any]:
    """The PDU with this server's signature attached (a new dict).

    Adds the content hash first if `hashes.sha256` is missing (a hash that is
    present is kept, so co-signing another server's event never changes it),
    then signs the redacted event, so the signature survives redaction.
    """
    hashes = pdu.get("hashes")
    if isinstance(hashes, Mapping) and isinstance(hashes.get("sha256"), str):
        full = dict(pdu)
    else:
        full = add_content_hash(pdu)
    signed_redacted = sign_json(redact_pdu(full, room_version), server_name, key)
    full["signatures"] = signed_redacted["signatures"]
    return full


def verify_event_signature(
    pdu: Mapping[str, Any],
    room_version: RoomVersion,
    server_name: str,
    key_id: str,
    verify_key: VerifyKey,
) -> None:
    """Check `server_name`'s signature on the redacted PDU; SignatureError if bad.

    Works the same on a full event and on a redacted copy. The content hash is
    a separate check (`protocol.hashes.check_content_hash`).
    """
    verify_json(redact_pdu(pdu, room_version), server_name, key_id, verify_key)


def key_valid_for_event(
    pdu: Mapping[str, Any], room_version: RoomVersion, valid_until_ts: int
) -> bool:
    """Whether a key valid until `valid_until_ts` may vouch for this event.

    v5+ requires `valid_until_ts >= origin_server_ts`. The caller passes the
    effective validity: for keys from `/_matrix/key/v2`, the lesser of
    `valid_until_ts` and 7 days after it fetched them; for old keys, their
    `expired_ts`.
    """
    if not room_version.enforce_key_validity:
        return True
    ts = pdu.get("origin_server_ts")
    if not isinstance(ts, int) or isinstance(ts, bool):
        return False
    return valid_until_ts >= ts


def _server_of(identifier: Any, what: str) -> str:
    """The server name of a `@user:server` or `$event:server` identifier."""
    if not isinstance(identifier, str):
        raise ValueError(f"{what} is not a string")
    _, sep, server = identifier.partition(":")
    if not sep or not server:
        raise ValueError(f"{what} {identifier!r} has no server name")
    return server


def _is_third_party_invite(pdu: Mapping[str, Any]) -> bool:
    """An invite made from a third-party invite (`content.third_party_invite`)."""
    content = pdu.get("content")
    return (
        pdu.get("type") == "m.room.member"
        and isinstance(content, Mapping)
        and content.get("membership") == "invite"
        and "third_party_invite" in content
    )


def servers_that_must_sign(pdu: Mapping[str, Any], room_version: RoomVersion) -> set[str]:
    """The servers whose signatures the PDU needs to be accepted.

    - The sender's server, except for an invite made from a third-party
      invite: its sender must be the inviter, but the invitee's server may
      have built and sent it; `signed` from the identity server (checked by
      the auth rules) vouches for it instead.
    - v1/v2: the server that created the event ID.
    - v8+ (restricted joins): the server of the user named in
      `content.join_authorised_via_users_server` of a member event.

    ValueError if one of those identifiers has no server name.
    """
    servers: set[str] = set()
    if not _is_third_party_invite(pdu):
        servers.add(_server_of(pdu.get("sender"), "sender"))
    if room_version.event_format is EventFormat.V1:
        servers.add(_server_of(pdu.get("event_id"), "event_id"))
    content = pdu.get("content")
    if (
        room_version.restricted_join
        and pdu.get("type") == "m.room.member"
        and isinstance(content, Mapping)
        and "join_authorised_via_users_server" in content
    ):
        servers.add(
            _server_of(
                content["join_authorised_via_users_server"], "join_authorised_via_users_server"
            )
        )
    return servers
