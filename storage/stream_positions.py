"""Positions of the persisted sync streams (table `stream_positions`, migration 0005).

A stream's owner takes positions with `take_positions` inside the transaction
that writes the stream's rows. The UPDATE locks the stream's row until that
transaction ends, so writers of one stream commit their positions in order:
whenever a reader sees `pos = P`, every row with a position up to P is
committed and visible. "New since T" is then simply `stream_pos > T`, and a
sync token can never skip a row committed later at a lower position.

The lock makes one stream's writes commit one at a time; keep the
transactions that take positions short (no calls to other actors inside).
"""

from __future__ import annotations

from typing import Any

# The persisted streams: the names are the SyncToken stream names.
PERSISTED_STREAMS = ("account_data", "receipts", "presence", "to_device", "device_lists")


async def take_positions(conn: Any, stream: str, count: int = 1) -> int:
    """Reserve `count` new positions of `stream`; returns the last (they are last-count+1..last).

    Must run inside the caller's transaction (the one writing the rows).
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    pos = await conn.fetchval(
        "UPDATE stream_positions SET pos = pos + $2 WHERE stream = $1 RETURNING pos", stream, count
    )
    if pos is None:
        raise KeyError(f"unknown stream {stream!r}")
    return int(pos)


async def current_position(conn: Any, stream: str) -> int:
    """The stream's committed position: every row up to it is visible."""
    pos = await conn.fetchval("SELECT pos FROM stream_positions WHERE stream = $1", stream)
    if pos is None:
        raise KeyError(f"unknown stream {stream!r}")
    return int(pos)


async def current_positions(conn: Any) -> dict[str, int]:
    """Every persisted stream's committed position, in one query."""
    rows = await conn.fetch("SELECT stream, pos FROM stream_positions")
    return {r["stream"]: int(r["pos"]) for r in rows}
