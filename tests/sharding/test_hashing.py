from __future__ import annotations

import subprocess
import sys

import pytest

from sharding.hashing import shard_of, stable_hash


def test_known_values_do_not_change() -> None:
    # Pinned: changing the hash would move every room and user to another shard.
    assert stable_hash("!room:example.org") == 2991617879188343915
    assert shard_of("!room:example.org", 4) == 2991617879188343915 % 4


def test_same_in_another_process() -> None:
    code = "from sharding.hashing import stable_hash; print(stable_hash('@alice:example.org'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == stable_hash("@alice:example.org")


def test_spreads_keys_over_shards() -> None:
    counts = [0] * 4
    for i in range(4000):
        counts[shard_of(f"!room{i}:example.org", 4)] += 1
    assert all(800 < c < 1200 for c in counts)


def test_rejects_zero_shards() -> None:
    with pytest.raises(ValueError):
        shard_of("x", 0)
