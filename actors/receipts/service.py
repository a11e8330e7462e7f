"""The receipts component: read receipts and read markers (sharded by room ID).

Receipts (`m.read`, `m.read.private`, unthreaded or per thread) are kept in
the `receipts` table, the latest per room, type, user and thread, with the
receipted event's place in the room's order: a receipt only moves forward
(the upsert itself refuses an older event, so concurrent requests cannot
move it back). Each change takes a `receipts` stream position and wakes the
syncs of the room's members (only the owner's, for a private receipt).

The read marker `m.fully_read` is room account data, kept by the accounts
component; it moves forward too, checked here under the room's lock, the one
place its writes for that room pass through.

Every request is validated in full before anything is written: a bad event
in a `read_markers` body changes nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from actors.context import Context, now_ms
from actors.federation_sender.api import queue_edu
from actors.federation_sender.destinations import servers_of
from actors.keyed_lock import KeyedLock
from actors.membership_reads import is_joined, joined_members
from actors.sync.api import notify_stream
from protocol.errors import bad_json, forbidden, invalid_param, not_found
from protocol.identifiers import is_valid_event_id, server_name_of
from storage.stream_positions import take_positions

STREAM = "receipts"
READ = "m.read"
READ_PRIVATE = "m.read.private"
FULLY_READ = "m.fully_read"
RECEIPT_TYPES = (READ, READ_PRIVATE, FULLY_READ)
MAIN = "main"
THREAD = "m.thread"
# Relations followed from an event to find its thread (spec: 3 hops are enough).
THREAD_HOPS = 3

_UPSERT = (
    "INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, room_seq, ts,"
    " stream_pos) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET"
    " event_id = EXCLUDED.event_id, room_seq = EXCLUDED.room_seq, ts = EXCLUDED.ts,"
    " stream_pos = EXCLUDED.stream_pos WHERE receipts.room_seq < EXCLUDED.room_seq"
)


@dataclass(frozen=True)
class Mark:
    """One validated receipt or marker to set."""

    receipt_type: str
    event_id: str
    room_seq: int
    thread_id: str  # '' for unthreaded


class ReceiptsService:
    def __init__(self, ctx: Context, shard: int) -> None:
        self.ctx = ctx
        self.shard = shard
        self._locks = KeyedLock()

    async def recover(self) -> None:
        """Nothing cached: receipts are read from the database when needed."""

    # --- the client API ---------------------------------------------------------

    async def post_receipt(
        self, requester: str, room_id: str, receipt_type: str, event_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        if receipt_type not in RECEIPT_TYPES:
            raise invalid_param(f"Receipt type must be one of {', '.join(RECEIPT_TYPES)}")
        thread_id = body.get("thread_id")
        if thread_id is not None:
            if not isinstance(thread_id, str) or not thread_id:
                raise invalid_param("thread_id field must be a non-empty string")
            if receipt_type == FULLY_READ:
                raise invalid_param("thread_id is not allowed for m.fully_read")
            if thread_id != MAIN and not is_valid_event_id(thread_id):
                raise invalid_param("thread_id must be 'main' or an event ID")
        marks = await self._validate(requester, room_id, [(receipt_type, event_id, thread_id)])
        await self._apply(requester, room_id, marks)
        return {}

    async def set_read_markers(
        self, requester: str, room_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        wanted = []
        for receipt_type in (FULLY_READ, READ, READ_PRIVATE):
            value = body.get(receipt_type)
            if value is None:
                continue
            if not isinstance(value, str):
                raise bad_json(f"'{receipt_type}' must be an event ID")
            wanted.append((receipt_type, value, None))
        marks = await self._validate(requester, room_id, wanted)
        await self._apply(requester, room_id, marks)
        return {}

    # --- validation -------------------------------------------------------------

    async def _validate(
        self, user_id: str, room_id: str, wanted: list[tuple[str, str, str | None]]
    ) -> list[Mark]:
        async with self.ctx.pool.acquire() as conn:
            if not await is_joined(conn, room_id, user_id):
                raise forbidden("You are not joined to this room")
            marks = []
            for receipt_type, event_id, thread_id in wanted:
                if not is_valid_event_id(event_id) or "\x00" in event_id:
                    raise not_found("Unknown event")
                room_seq = await conn.fetchval(
                    "SELECT room_seq FROM events WHERE event_id = $1 AND room_id = $2"
                    " AND NOT outlier AND rejected_reason IS NULL",
                    event_id, room_id,
                )
                if room_seq is None:
                    raise not_found("Unknown event in this room")
                if thread_id is not None:
                    thread = await _thread_of(conn, event_id)
                    if thread_id == MAIN and thread is not None:
                        raise invalid_param("The event is in a thread, not the main timeline")
                    if thread_id != MAIN and thread_id not in (thread, event_id):
                        raise invalid_param("The event is not in this thread")
                marks.append(Mark(receipt_type, event_id, room_seq, thread_id or ""))
        return marks

    # --- writes -----------------------------------------------------------------

    async def _apply(self, user_id: str, room_id: str, marks: list[Mark]) -> None:
        """Write the marks to completion, even if the request goes away."""
        await asyncio.shield(self._apply_locked(user_id, room_id, marks))

    async def _apply_locked(self, user_id: str, room_id: str, marks: list[Mark]) -> None:
        async with self._locks.hold(room_id):
            for mark in marks:
                if mark.receipt_type == FULLY_READ:
                    await self._set_fully_read(user_id, room_id, mark)
            receipts = [m for m in marks if m.receipt_type != FULLY_READ]
            if receipts:
                await self._write_receipts(user_id, room_id, receipts)

    async def _write_receipts(self, user_id: str, room_id: str, marks: list[Mark]) -> None:
        ts = now_ms()
        async with self.ctx.pool.acquire() as conn:
            async with conn.transaction():
                last = await take_positions(conn, STREAM, len(marks))
                moved = []
                for i, m in enumerate(marks):
                    pos = last - len(marks) + 1 + i
                    status = await conn.execute(
                        _UPSERT, room_id, m.receipt_type, user_id, m.thread_id, m.event_id,
                        m.room_seq, ts, pos,
                    )
                    if status.endswith(" 1"):
                        moved.append(m)
            if not moved:
                return
            public = any(m.receipt_type != READ_PRIVATE for m in moved)
            users = await joined_members(conn, room_id) if public else [user_id]
        notify_stream(self.ctx.router, STREAM, last, users)
        self._federate(user_id, room_id, [m for m in moved if m.receipt_type == READ], ts, users)

    def _federate(self, user_id: str, room_id: str, marks: list[Mark], ts: int,
                  members: list[str]) -> None:
        """Send a local user's public read receipts to the room's other servers."""
        if not marks or server_name_of(user_id) != self.ctx.server_name:
            return
        servers = servers_of(members) - {self.ctx.server_name}
        for m in marks:
            # One EDU per receipt: a user has one entry per room in an EDU, and
            # threaded receipts of one user are separate receipts.
            data: dict[str, Any] = {"ts": ts}
            if m.thread_id:
                data["thread_id"] = m.thread_id
            receipt = {"event_ids": [m.event_id], "data": data}
            queue_edu(self.ctx.router, servers, "m.receipt", {room_id: {READ: {user_id: receipt}}})

    async def remote_receipt(self, room_id: str, user_id: str, event_id: str,
                             thread_id: str | None) -> None:
        """An `m.receipt` from the user's server (checked there: the user is joined)."""
        async with self.ctx.pool.acquire() as conn:
            room_seq = await conn.fetchval(
                "SELECT room_seq FROM events WHERE event_id = $1 AND room_id = $2"
                " AND NOT outlier AND rejected_reason IS NULL", event_id, room_id)
        if room_seq is None:
            return  # an event we do not have (yet): nothing to mark
        await self._apply(user_id, room_id, [Mark(READ, event_id, room_seq, thread_id or "")])

    async def _set_fully_read(self, user_id: str, room_id: str, mark: Mark) -> None:
        current = await self.ctx.pool.fetchval(
            "SELECT e.room_seq FROM account_data a JOIN events e"
            " ON e.event_id = a.content->>'event_id' AND e.room_id = a.room_id"
            " WHERE a.user_id = $1 AND a.room_id = $2 AND a.type = $3",
            user_id, room_id, FULLY_READ,
        )
        if current is not None and current >= mark.room_seq:
            return
        await self.ctx.router.call(
            "accounts", user_id, "put_fully_read", user_id, room_id, mark.event_id,
            idempotent=True,
        )


async def _thread_of(conn: Any, event_id: str) -> str | None:
    """The thread root the event belongs to, or None for the main timeline."""
    current = event_id
    for _ in range(THREAD_HOPS):
        row = await conn.fetchrow(
            "SELECT relates_to, rel_type FROM event_relations WHERE event_id = $1", current
        )
        if row is None:
            return None
        if row["rel_type"] == THREAD:
            return row["relates_to"]
        current = row["relates_to"]
    return None
