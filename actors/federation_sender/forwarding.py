"""Marking an event of another server for forwarding to the room's other servers.

Called by the room server inside the transaction that persists an event it
received through send_join/send_leave/send_knock (which we, as the resident
server, must pass on). The federation sender then sends the event like one
of ours, except back to `origin`.
"""

from __future__ import annotations

from typing import Any


async def mark_for_forwarding(conn: Any, event_id: str, origin: str) -> None:
    await conn.execute(
        "INSERT INTO federation_forward (event_id, origin) VALUES ($1, $2)"
        " ON CONFLICT (event_id) DO NOTHING",
        event_id, origin,
    )
