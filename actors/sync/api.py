"""What other components call on the sync component.

`notify_stream` is how the owner of a non-room stream (streams.py) wakes the
long-polls of the users a committed change concerns.
"""

from __future__ import annotations

from collections.abc import Iterable

from sharding.router import Router


def notify_stream(router: Router, stream: str, pos: int, user_ids: Iterable[str]) -> None:
    """Fire-and-forget `on_stream(stream, pos, users)` on each sync shard holding some of the users.

    Call it after the change is committed (or, for memory-only streams, applied):
    a woken sync reads the change right away.
    """
    by_shard: dict[int, list[str]] = {}
    for user in set(user_ids):
        by_shard.setdefault(router.shard_for("sync", user), []).append(user)
    for shard, users in by_shard.items():
        router.notify("sync", shard, "on_stream", stream, pos, users)
