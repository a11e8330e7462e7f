"""Send-to-device messaging: the inbox of every local device (on the accounts component).

`send_to_device` runs on the sender's shard and writes, in one transaction,
the sender device's transaction ID and one inbox row per target device, each
with its own `to_device` stream position: a repeated transaction changes
nothing, a failed one leaves nothing. `*` means every device the user has
at that moment; device IDs the user does not have are dropped. Messages to
users of other servers become one `m.direct_to_device` EDU per server,
queued for the federation sender in that same transaction (so exactly once
per client transaction); messages other servers send us arrive through
`receive_remote_to_device`, idempotent on the remote sender and message ID.

The recipient's sync reads its inbox (actors/sync/stream_to_device.py) and,
once the client syncs with a `since` past a message, asks the recipient's
shard (`ack_to_device`) to delete what it has received.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncpg

from actors.context import Context, now_ms
from actors.federation_sender.api import queue_edu_in, wake_destinations
from actors.sync.api import notify_stream
from actors.sync.filters import holds_nul
from protocol.errors import bad_json, invalid_param, missing_param
from protocol.identifiers import is_valid_user_id, server_name_of
from storage.stream_positions import take_positions

STREAM = "to_device"
ALL_DEVICES = "*"
MAX_NAME_LENGTH = 255

Messages = dict[str, dict[str, dict[str, Any]]]


def parse_messages(body: dict[str, Any]) -> Messages:
    messages = body.get("messages")
    if messages is None:
        raise missing_param("Missing 'messages'")
    if not isinstance(messages, dict):
        raise bad_json("'messages' must be an object")
    for user_id, devices in messages.items():
        if not is_valid_user_id(user_id):
            raise bad_json(f"Invalid user ID in 'messages': {user_id!r}")
        if not isinstance(devices, dict):
            raise bad_json("'messages' must map user IDs to objects of device IDs")
        for device_id, content in devices.items():
            if not device_id or "\x00" in device_id:
                raise bad_json("Invalid device ID in 'messages'")
            if not isinstance(content, dict):
                raise bad_json("Each message must be an object")
    if holds_nul(messages):
        raise bad_json("Messages cannot contain U+0000")
    return messages


class ToDeviceMethods:
    """The accounts service's to-device methods (mixed into AccountsService)."""

    ctx: Context

    async def send_to_device(
        self, user_id: str, device_id: str, event_type: str, txn_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        for name in (event_type, txn_id):
            if not name or len(name) > MAX_NAME_LENGTH or "\x00" in name:
                raise invalid_param("Invalid event type or transaction ID")
        messages = parse_messages(body)
        local = {u: d for u, d in messages.items() if server_name_of(u) == self.ctx.server_name}
        remote: dict[str, Messages] = {}
        for u, d in messages.items():
            if server_name_of(u) != self.ctx.server_name:
                remote.setdefault(server_name_of(u), {})[u] = d

        async def run() -> tuple[int, list[str]] | None:
            async with self.ctx.pool.acquire() as conn, conn.transaction():
                if not await _claim_txn(conn, user_id, device_id, txn_id):
                    return None
                for server, server_messages in remote.items():
                    await queue_edu_in(conn, [server], "m.direct_to_device", {
                        "sender": user_id, "type": event_type,
                        "message_id": secrets.token_urlsafe(16), "messages": server_messages})
                return await _deliver(conn, user_id, event_type, local)

        done = await asyncio.shield(run())
        wake_destinations(self.ctx.router, remote)
        if done is not None:
            pos, recipients = done
            notify_stream(self.ctx.router, STREAM, pos, recipients)
        return {}

    async def receive_remote_to_device(
        self, sender: str, event_type: str, message_id: str, messages: Messages
    ) -> None:
        """An `m.direct_to_device` EDU for our users (checked by the federation sender)."""

        async def run() -> tuple[int, list[str]] | None:
            async with self.ctx.pool.acquire() as conn, conn.transaction():
                # A remote sender has no device here: '' keys its message IDs.
                if not await _claim_txn(conn, sender, "", message_id):
                    return None
                return await _deliver(conn, sender, event_type, messages)

        done = await asyncio.shield(run())
        if done is not None:
            pos, recipients = done
            notify_stream(self.ctx.router, STREAM, pos, recipients)

    async def ack_to_device(self, user_id: str, device_id: str, upto: int) -> None:
        """The device has received every message up to `upto`: delete them."""
        await self.ctx.pool.execute(
            "DELETE FROM to_device_inbox WHERE user_id = $1 AND device_id = $2"
            " AND stream_pos <= $3", user_id, device_id, upto,
        )


async def _claim_txn(conn: asyncpg.Connection, sender: str, sender_device: str,
                     txn_id: str) -> bool:
    """True the first time this transaction is seen (the caller then delivers it)."""
    return bool(await conn.fetchval(
        "INSERT INTO to_device_txns (user_id, device_id, txn_id, created_ts)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
        sender, sender_device, txn_id, now_ms(),
    ))


async def _deliver(
    conn: asyncpg.Connection, sender: str, event_type: str, messages: Messages,
) -> tuple[int, list[str]] | None:
    """Store the messages in the local inboxes; the last position and the recipients."""
    if not messages:
        return None
    rows = await conn.fetch(
        "SELECT user_id, device_id FROM devices WHERE user_id = ANY($1::text[])", list(messages)
    )
    devices: dict[str, list[str]] = {}
    for r in rows:
        devices.setdefault(r["user_id"], []).append(r["device_id"])
    targets: dict[tuple[str, str], dict[str, Any]] = {}
    for user_id, by_device in messages.items():
        known = devices.get(user_id, [])
        for device_id, content in by_device.items():
            for target in (known if device_id == ALL_DEVICES else [device_id]):
                if target in known:
                    # An explicit device wins over `*` for the same device.
                    if device_id != ALL_DEVICES or (user_id, target) not in targets:
                        targets[(user_id, target)] = content
    if not targets:
        return None
    last = await take_positions(conn, STREAM, len(targets))
    first = last - len(targets) + 1
    await conn.executemany(
        "INSERT INTO to_device_inbox (user_id, device_id, stream_pos, sender, type, content)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(u, d, first + i, sender, event_type, content)
         for i, ((u, d), content) in enumerate(targets.items())],
    )
    return last, sorted({u for u, _ in targets})
