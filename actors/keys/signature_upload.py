"""POST /keys/signatures/upload: checking each signed object a user sends (spec: "Cross-signing").

A user may sign:
- their own device keys, with their self-signing key;
- their own master key, with their devices' keys;
- another user's master key, with their user-signing key.

The object sent must be the stored key itself (its signed content
unchanged); every signature by the uploader that the stored object does not
already carry must come from the right key and verify. Each object is
judged on its own: a bad one becomes an entry of `failures` and the others
are still stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.keys.cross_signing import CrossSigningKey, Signature
from protocol.e2e_keys import (
    MASTER,
    SELF_SIGNING,
    USER_SIGNING,
    check_signature,
    device_ed25519,
    same_signed_content,
    signatures_by,
)
from protocol.signing import SignatureError


class SignatureFailure(Exception):
    """One signed object of the upload is refused: its entry in `failures`."""

    def __init__(self, errcode: str, error: str) -> None:
        super().__init__(errcode, error)
        self.errcode = errcode
        self.error = error

    def body(self) -> dict[str, str]:
        return {"errcode": self.errcode, "error": self.error}


def invalid_signature(error: str) -> SignatureFailure:
    return SignatureFailure("M_INVALID_SIGNATURE", error)


@dataclass
class SignerKeys:
    """What the uploader's signatures are checked against."""

    user_id: str
    cross_signing: dict[str, CrossSigningKey]
    # The uploader's devices with keys: device ID -> DeviceKeys.
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)


def _new_signatures(obj: dict[str, Any], stored: dict[str, Any], signer: str) -> dict[str, str]:
    """The signer's signatures on `obj` that `stored` does not carry already."""
    held = signatures_by(stored, signer)
    return {k: v for k, v in signatures_by(obj, signer).items() if held.get(k) != v}


def _check_same_key(obj: Any, stored: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise SignatureFailure("M_BAD_JSON", "The signed key must be an object")
    if not same_signed_content(obj, stored):
        raise SignatureFailure("M_INVALID_PARAM", "The signed key does not match the stored key")
    return obj


def _verified(
    obj: dict[str, Any], new: dict[str, str], signer: str, allowed: dict[str, str],
    target_user: str, target_key: str,
) -> list[Signature]:
    """Check each new signature against the allowed signing keys (key ID -> public key)."""
    out = []
    for key_id, signature in new.items():
        public_key = allowed.get(key_id)
        if public_key is None:
            raise invalid_signature(f"{key_id} may not sign this key")
        try:
            check_signature(obj, signer, key_id, public_key)
        except SignatureError as e:
            raise invalid_signature(str(e)) from None
        out.append(Signature(signer, key_id, target_user, target_key, signature))
    return out


def own_key_signatures(signer: SignerKeys, key_id: str, obj: Any) -> list[Signature]:
    """Signatures on one of the uploader's own keys: the master key or a device."""
    user = signer.user_id
    master = signer.cross_signing.get(MASTER)
    if master is not None and key_id == master.public_key:
        signed = _check_same_key(obj, master.key_json)
        devices = {
            f"ed25519:{device}": ed
            for device, keys in signer.devices.items()
            if (ed := device_ed25519(keys)) is not None
        }
        new = _new_signatures(signed, master.key_json, user)
        return _verified(signed, new, user, devices, user, key_id)
    stored = signer.devices.get(key_id)
    if stored is None:
        raise SignatureFailure("M_NOT_FOUND", f"No key {key_id} of {user}")
    signed = _check_same_key(obj, stored)
    self_signing = signer.cross_signing.get(SELF_SIGNING)
    if self_signing is None:
        raise invalid_signature("Upload a self-signing key before signing devices")
    new = _new_signatures(signed, stored, user)
    allowed = {self_signing.key_id: self_signing.public_key}
    return _verified(signed, new, user, allowed, user, key_id)


def other_user_signatures(
    signer: SignerKeys, target_user: str, target_master: CrossSigningKey | None, key_id: str,
    obj: Any,
) -> list[Signature]:
    """The uploader's user-signing signature on another local user's master key."""
    if target_master is None or key_id != target_master.public_key:
        raise SignatureFailure("M_NOT_FOUND", f"No master key {key_id} of {target_user}")
    signed = _check_same_key(obj, target_master.key_json)
    user_signing = signer.cross_signing.get(USER_SIGNING)
    if user_signing is None:
        raise invalid_signature("Upload a user-signing key before signing other users")
    new = _new_signatures(signed, target_master.key_json, signer.user_id)
    allowed = {user_signing.key_id: user_signing.public_key}
    return _verified(signed, new, signer.user_id, allowed, target_user, key_id)
