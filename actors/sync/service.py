"""The sync component's logic (a plain class; actor.py wraps it for Ray)."""

from __future__ import annotations

from actors.context import Context


class SyncService:
    def __init__(self, ctx: Context, shard: int) -> None:
        self.ctx = ctx
        self.shard = shard

    async def recover(self) -> None:
        """Rebuild what this shard caches from PostgreSQL (nothing yet)."""
