"""What a client does with keys, for the keys tests: devices, one-time keys, cross-signing.

Keys are real ed25519 keys and objects are signed as the spec's "Signing
JSON" says, with the user ID as the signing entity.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import nacl.signing
from unpaddedbase64 import encode_base64

from protocol.signing import sign_json


def signing_key(version: str | None = None) -> Any:
    """An ed25519 key usable by `sign_json`; its version defaults to its public key."""
    key = nacl.signing.SigningKey.generate()
    key.alg = "ed25519"
    key.version = version or public(key)
    return key


def public(key: Any) -> str:
    return encode_base64(bytes(key.verify_key))


def curve25519() -> str:
    """Stands in for a Curve25519 public key: the server never uses it, only stores it."""
    return encode_base64(secrets.token_bytes(32))


@dataclass
class ClientDevice:
    user_id: str
    device_id: str
    key: Any = None
    _next_key: int = field(default=0)

    def __post_init__(self) -> None:
        if self.key is None:
            self.key = signing_key(self.device_id)

    @property
    def ed25519(self) -> str:
        return public(self.key)

    def device_keys(self) -> dict[str, Any]:
        return sign_json({
            "user_id": self.user_id,
            "device_id": self.device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {
                f"curve25519:{self.device_id}": curve25519(),
                f"ed25519:{self.device_id}": self.ed25519,
            },
        }, self.user_id, self.key)

    def one_time_keys(self, count: int, *, fallback: bool = False) -> dict[str, Any]:
        out = {}
        for _ in range(count):
            self._next_key += 1
            obj: dict[str, Any] = {"key": curve25519()}
            if fallback:
                obj["fallback"] = True
            out[f"signed_curve25519:AAAA{self._next_key:04d}"] = sign_json(obj, self.user_id, self.key)
        return out


@dataclass
class CrossSigning:
    """A user's three cross-signing keys and their uploadable JSON."""

    user_id: str
    master: Any = field(default_factory=signing_key)
    self_signing: Any = field(default_factory=signing_key)
    user_signing: Any = field(default_factory=signing_key)

    def key_json(self, usage: str) -> dict[str, Any]:
        key = getattr(self, usage)
        obj = {"user_id": self.user_id, "usage": [usage],
               "keys": {f"ed25519:{public(key)}": public(key)}}
        return obj if usage == "master" else sign_json(obj, self.user_id, self.master)

    def upload_body(self, auth: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {f"{u}_key": self.key_json(u) for u in ("master", "self_signing", "user_signing")}
        if auth is not None:
            body["auth"] = auth
        return body
