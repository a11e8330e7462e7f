"""Stable shard selection: the same key maps to the same shard in every process.

Python's `hash()` is salted per process, so it must never pick a shard.
"""

from __future__ import annotations

import hashlib


def stable_hash(key: str) -> int:
    """A 64-bit hash of `key` that is the same on every machine and run."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


def shard_of(key: str, n: int) -> int:
    """The shard in [0, n) that owns `key`."""
    if n < 1:
        raise ValueError("shard count must be at least 1")
    return stable_hash(key) % n
