"""The shard's memory of valid access tokens, so most requests skip the database.

Every change to a user's tokens runs on that user's shard, which drops the
affected entries right after committing. A lookup that raced with such a
change must not put back what was just dropped, so each fill carries the
`epoch` read before its database query and is refused if any invalidation
happened since.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_CAPACITY = 100_000


@dataclass(frozen=True)
class CachedToken:
    user_id: str
    device_id: str
    expires_ts: int | None


class TokenCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, CachedToken] = OrderedDict()
        self._epoch = 0

    @property
    def epoch(self) -> int:
        return self._epoch

    def get(self, digest: bytes) -> CachedToken | None:
        entry = self._entries.get(digest)
        if entry is not None:
            self._entries.move_to_end(digest)
        return entry

    def put(self, digest: bytes, entry: CachedToken, epoch: int) -> None:
        """Remember a token read from the database at `epoch`, unless invalidated since."""
        if epoch != self._epoch:
            return
        self._entries[digest] = entry
        self._entries.move_to_end(digest)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def drop(self, digests: Iterable[bytes]) -> None:
        """Forget these tokens (the digests the database returned when deleting them)."""
        self._epoch += 1
        for digest in digests:
            self._entries.pop(digest, None)
