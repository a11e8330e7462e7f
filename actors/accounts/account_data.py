"""Account data and room tags (spec: Client Config, Room Tagging), on the user's accounts shard.

The `account_data` table keeps the latest content per user, room ('' for
global) and type. Each write takes an `account_data` stream position in its
transaction (storage/stream_positions.py) and then wakes the user's syncs;
/sync sends each changed type once (actors/sync/stream_account_data.py).

Room tags are the room's `m.tag` account data, `{"tags": {tag: {...}}}`,
changed one tag at a time: the read-modify-write is safe because taking the
stream position locks the stream until the transaction ends.

Clients may not write `m.fully_read` or `m.push_rules` (405, M_BAD_JSON): the
server manages them. The receipts component sets `m.fully_read` through
`put_fully_read`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from actors.context import Context
from actors.sync.api import notify_stream
from actors.sync.filters import holds_nul
from protocol.errors import MatrixError, bad_json, forbidden, invalid_param, not_found
from protocol.identifiers import is_valid_room_id
from storage.stream_positions import take_positions

STREAM = "account_data"
GLOBAL = ""
TAG = "m.tag"
FULLY_READ = "m.fully_read"
SERVER_MANAGED = (FULLY_READ, "m.push_rules")
MAX_NAME_LENGTH = 255


def _check_names(requester: str, user_id: str, room_id: str | None, *names: str) -> None:
    if requester != user_id:
        raise forbidden("Cannot access the account data of other users")
    if room_id is not None and not is_valid_room_id(room_id):
        raise invalid_param("Invalid room ID")
    for name in names:
        if not name or len(name) > MAX_NAME_LENGTH or "\x00" in name:
            raise invalid_param("Invalid account data type or tag")


def _check_content(content: dict[str, Any]) -> None:
    if holds_nul(content):
        raise bad_json("Account data cannot contain U+0000")


def _server_managed(event_type: str) -> MatrixError:
    return MatrixError(405, "M_BAD_JSON", f"{event_type} is managed by the server")


async def read(pool: asyncpg.Pool, user_id: str, room_id: str, event_type: str) -> Any:
    return await pool.fetchval(
        "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3",
        user_id, room_id, event_type,
    )


async def write(conn: asyncpg.Connection, user_id: str, room_id: str, event_type: str,
                content: dict[str, Any]) -> int:
    """Store `content` with a new stream position (inside the caller's transaction)."""
    pos = await take_positions(conn, STREAM)
    await conn.execute(
        "INSERT INTO account_data (user_id, room_id, type, content, stream_pos)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, room_id, type)"
        " DO UPDATE SET content = EXCLUDED.content, stream_pos = EXCLUDED.stream_pos",
        user_id, room_id, event_type, content, pos,
    )
    return pos


class AccountDataMethods:
    """The accounts service's account-data and tag methods (mixed into AccountsService)."""

    ctx: Context

    async def _commit_account_data(self, work: Any) -> None:
        """Run `work(conn) -> pos | None` in one transaction, then wake the user's syncs.

        Shielded: a client hanging up must not cancel a write half-way.
        """

        async def run() -> int | None:
            async with self.ctx.pool.acquire() as conn, conn.transaction():
                return await work(conn)

        return await asyncio.shield(run())

    def _announce_account_data(self, user_id: str, pos: int | None) -> None:
        if pos is not None:
            notify_stream(self.ctx.router, STREAM, pos, [user_id])

    async def get_account_data(
        self, requester: str, user_id: str, room_id: str | None, event_type: str
    ) -> dict[str, Any]:
        _check_names(requester, user_id, room_id, event_type)
        content = await read(self.ctx.pool, user_id, room_id or GLOBAL, event_type)
        if content is None:
            raise not_found("Account data not found")
        return content

    async def put_account_data(
        self, requester: str, user_id: str, room_id: str | None, event_type: str,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        _check_names(requester, user_id, room_id, event_type)
        if event_type in SERVER_MANAGED:
            raise _server_managed(event_type)
        _check_content(content)

        async def work(conn: asyncpg.Connection) -> int:
            return await write(conn, user_id, room_id or GLOBAL, event_type, content)

        self._announce_account_data(user_id, await self._commit_account_data(work))
        return {}

    async def get_tags(self, requester: str, user_id: str, room_id: str) -> dict[str, Any]:
        _check_names(requester, user_id, room_id)
        content = await read(self.ctx.pool, user_id, room_id, TAG)
        tags = content.get("tags") if isinstance(content, dict) else None
        return {"tags": tags if isinstance(tags, dict) else {}}

    async def put_tag(
        self, requester: str, user_id: str, room_id: str, tag: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        _check_names(requester, user_id, room_id, tag)
        order = body.get("order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
            raise bad_json("'order' must be a number")
        _check_content(body)
        return await self._change_tags(user_id, room_id, tag, body)

    async def delete_tag(
        self, requester: str, user_id: str, room_id: str, tag: str
    ) -> dict[str, Any]:
        _check_names(requester, user_id, room_id, tag)
        return await self._change_tags(user_id, room_id, tag, None)

    async def _change_tags(
        self, user_id: str, room_id: str, tag: str, value: dict[str, Any] | None
    ) -> dict[str, Any]:
        async def work(conn: asyncpg.Connection) -> int | None:
            # The position first: its lock makes this read-modify-write atomic.
            pos = await take_positions(conn, STREAM)
            content = await conn.fetchval(
                "SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2"
                " AND type = $3", user_id, room_id, TAG,
            )
            tags = content.get("tags") if isinstance(content, dict) else None
            tags = dict(tags) if isinstance(tags, dict) else {}
            if value is None:
                if tag not in tags:
                    return None
                del tags[tag]
            else:
                tags[tag] = value
            await conn.execute(
                "INSERT INTO account_data (user_id, room_id, type, content, stream_pos)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, room_id, type)"
                " DO UPDATE SET content = EXCLUDED.content, stream_pos = EXCLUDED.stream_pos",
                user_id, room_id, TAG, {"tags": tags}, pos,
            )
            return pos

        self._announce_account_data(user_id, await self._commit_account_data(work))
        return {}

    async def put_fully_read(self, user_id: str, room_id: str, event_id: str) -> dict[str, Any]:
        """Set the read marker (called by the receipts component, which checked the event)."""

        async def work(conn: asyncpg.Connection) -> int:
            return await write(conn, user_id, room_id, FULLY_READ, {"event_id": event_id})

        self._announce_account_data(user_id, await self._commit_account_data(work))
        return {}
