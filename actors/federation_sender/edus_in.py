"""Applying the EDUs of a received transaction to their owning components.

Every EDU is checked first: the user it speaks for must belong to the
origin server, and typing and receipts count only for users joined to the
room. What fails a check is dropped (EDUs get no answer).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from actors.context import Context
from actors.membership_reads import is_joined
from protocol.identifiers import InvalidIdentifier, server_name_of

log = logging.getLogger("dendray.federation_sender")

PRESENCE_STATES = ("online", "unavailable", "offline")


def _from(user_id: Any, origin: str) -> bool:
    if not isinstance(user_id, str):
        return False
    try:
        return server_name_of(user_id) == origin
    except InvalidIdentifier:
        return False


async def _joined(ctx: Context, room_id: str, user_id: str) -> bool:
    async with ctx.pool.acquire() as conn:
        return await is_joined(conn, room_id, user_id)


async def typing(ctx: Context, origin: str, content: dict[str, Any]) -> None:
    room_id, user_id, is_typing = (content.get("room_id"), content.get("user_id"),
                                   content.get("typing"))
    if not (isinstance(room_id, str) and _from(user_id, origin) and isinstance(is_typing, bool)):
        return
    if await _joined(ctx, room_id, user_id):
        await ctx.router.call("typing", room_id, "remote_typing", room_id, user_id, is_typing)


async def receipt(ctx: Context, origin: str, content: dict[str, Any]) -> None:
    for room_id, by_type in content.items():
        if not isinstance(by_type, dict) or not isinstance(by_type.get("m.read"), dict):
            continue
        for user_id, receipt in by_type["m.read"].items():
            if not (_from(user_id, origin) and isinstance(receipt, dict)):
                continue
            event_ids, data = receipt.get("event_ids"), receipt.get("data")
            if not (isinstance(event_ids, list) and event_ids and isinstance(event_ids[0], str)
                    and isinstance(data, dict)):
                continue
            thread_id = data.get("thread_id")
            if thread_id is not None and not isinstance(thread_id, str):
                continue
            if await _joined(ctx, room_id, user_id):
                await ctx.router.call("receipts", room_id, "remote_receipt", room_id, user_id,
                                      event_ids[0], thread_id)


async def presence(ctx: Context, origin: str, content: dict[str, Any]) -> None:
    push = content.get("push")
    if not isinstance(push, list):
        return
    for update in push:
        if not (isinstance(update, dict) and _from(update.get("user_id"), origin)):
            continue
        state, ago = update.get("presence"), update.get("last_active_ago", 0)
        status_msg = update.get("status_msg")
        if (state not in PRESENCE_STATES or isinstance(ago, bool) or not isinstance(ago, int)
                or (status_msg is not None and not isinstance(status_msg, str))):
            continue
        await ctx.router.call("presence", update["user_id"], "remote_presence",
                              update["user_id"], state, status_msg, max(0, ago))


async def direct_to_device(ctx: Context, origin: str, content: dict[str, Any]) -> None:
    sender, event_type, message_id = (content.get("sender"), content.get("type"),
                                      content.get("message_id"))
    messages = content.get("messages")
    if not (_from(sender, origin) and isinstance(event_type, str)
            and isinstance(message_id, str) and isinstance(messages, dict)):
        return
    local = {user_id: devices for user_id, devices in messages.items()
             if _from(user_id, ctx.server_name) and isinstance(devices, dict)
             and all(isinstance(c, dict) for c in devices.values())}
    if local:
        # On the sender's shard, like a local send: one idempotent write for every recipient.
        await ctx.router.call("accounts", sender, "receive_remote_to_device", sender,
                              event_type, message_id, local)


async def device_list(ctx: Context, origin: str, content: dict[str, Any]) -> None:
    user_id = content.get("user_id")
    if _from(user_id, origin):
        await ctx.router.call("keys", user_id, "remote_device_list_changed", user_id)


HANDLERS: dict[str, Callable[[Context, str, dict[str, Any]], Awaitable[None]]] = {
    "m.typing": typing,
    "m.receipt": receipt,
    "m.presence": presence,
    "m.direct_to_device": direct_to_device,
    "m.device_list_update": device_list,
    "m.signing_key_update": device_list,
}


async def dispatch_edu(ctx: Context, origin: str, edu: Any) -> None:
    if not isinstance(edu, dict) or not isinstance(edu.get("content"), dict):
        return
    handler = HANDLERS.get(edu.get("edu_type"))  # type: ignore[arg-type]
    if handler is None:
        log.debug("ignoring EDU of unknown type %r from %s", edu.get("edu_type"), origin)
        return
    await handler(ctx, origin, edu["content"])
