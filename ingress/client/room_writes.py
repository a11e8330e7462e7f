"""Writes to rooms: createRoom, send, state, redact and membership (client-server API).

Each handler parses, authenticates and hands the write to the room-server
shard that owns the room.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from ingress.auth import Requester, require_user, require_user_rate_limited
from ingress.body import json_body, optional_json_body
from ingress.services import Services, get_services
from protocol.errors import bad_json, invalid_param, missing_param
from protocol.identifiers import is_valid_room_alias, is_valid_room_id, is_valid_user_id

router = APIRouter()


def _room_id(room_id: str) -> str:
    if not is_valid_room_id(room_id):
        raise invalid_param("Invalid room ID")
    return room_id


def _reason(body: dict[str, Any]) -> str | None:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise bad_json("'reason' must be a string")
    return reason


def _target(body: dict[str, Any]) -> str:
    user_id = body.get("user_id")
    if user_id is None:
        raise missing_param("Missing 'user_id'")
    if not isinstance(user_id, str) or not is_valid_user_id(user_id):
        raise invalid_param("Invalid 'user_id'")
    return user_id


@router.post("/createRoom")
async def create_room(
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Any shard may start a room: the one that owns the new room ID finishes it.
    return await services.router.call(
        "room_server", requester.user_id, "create_room", requester.user_id, body
    )


@router.put("/rooms/{room_id}/send/{event_type}/{txn_id}")
async def send_message(
    room_id: str, event_type: str, txn_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Idempotent by (device, txn_id), so a call lost with a restarting actor is retried.
    event_id = await services.router.call(
        "room_server", _room_id(room_id), "send_event", room_id, requester.user_id,
        requester.device_id, txn_id, event_type, body, idempotent=True,
    )
    return {"event_id": event_id}


@router.put("/rooms/{room_id}/state/{event_type}")
@router.put("/rooms/{room_id}/state/{event_type}/{state_key:path}")
async def send_state(
    room_id: str, event_type: str, state_key: str = "",
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    event_id = await services.router.call(
        "room_server", _room_id(room_id), "send_state", room_id, requester.user_id,
        event_type, state_key, body, idempotent=True,
    )
    return {"event_id": event_id}


@router.put("/rooms/{room_id}/redact/{event_id}/{txn_id}")
async def redact(
    room_id: str, event_id: str, txn_id: str,
    body: dict[str, Any] = Depends(optional_json_body),
    requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    new_id = await services.router.call(
        "room_server", _room_id(room_id), "redact", room_id, requester.user_id,
        requester.device_id, txn_id, event_id, _reason(body), idempotent=True,
    )
    return {"event_id": new_id}


async def _membership(
    services: Services, room_id: str, requester: Requester, target: str, action: str,
    reason: str | None, extra: dict[str, Any] | None = None,
) -> str:
    return await services.router.call(
        "room_server", _room_id(room_id), "update_membership", room_id, requester.user_id,
        target, action, reason, extra,
    )


@router.post("/rooms/{room_id}/join")
async def join_room_by_id(
    room_id: str,
    body: dict[str, Any] = Depends(optional_json_body),
    requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    await _membership(services, room_id, requester, requester.user_id, "join", _reason(body))
    return {"room_id": room_id}


async def _join_or_knock(
    action: str, target: str, body: dict[str, Any], requester: Requester, services: Services,
    via: list[str],
) -> dict[str, Any]:
    """`via` (and the deprecated `server_name`) name servers to join a remote room through."""
    reason = _reason(body)
    if target.startswith("#"):
        if not is_valid_room_alias(target):
            raise invalid_param("Invalid room alias")
        room_id = await services.router.call(
            "room_server", target, "membership_by_alias", target, requester.user_id, action,
            reason, via,
        )
        return {"room_id": room_id}
    await _membership(services, target, requester, requester.user_id, action, reason,
                      {"via": via})
    return {"room_id": target}


@router.post("/join/{room_id_or_alias}")
async def join(
    room_id_or_alias: str,
    body: dict[str, Any] = Depends(optional_json_body),
    via: list[str] = Query([]),
    server_name: list[str] = Query([]),
    requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _join_or_knock("join", room_id_or_alias, body, requester, services,
                                [*via, *server_name])


@router.post("/knock/{room_id_or_alias}")
async def knock(
    room_id_or_alias: str,
    body: dict[str, Any] = Depends(optional_json_body),
    via: list[str] = Query([]),
    server_name: list[str] = Query([]),
    requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _join_or_knock("knock", room_id_or_alias, body, requester, services,
                                [*via, *server_name])


@router.post("/rooms/{room_id}/leave")
async def leave(
    room_id: str,
    body: dict[str, Any] = Depends(optional_json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    await _membership(services, room_id, requester, requester.user_id, "leave", _reason(body))
    return {}


@router.post("/rooms/{room_id}/invite")
async def invite(
    room_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user_rate_limited),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    if "user_id" not in body and "medium" in body:
        raise invalid_param("Third-party invites are not supported by this server")
    extra = {"is_direct": True} if body.get("is_direct") is True else None
    await _membership(services, room_id, requester, _target(body), "invite", _reason(body), extra)
    return {}


async def _moderate(
    action: str, room_id: str, body: dict[str, Any], requester: Requester, services: Services
) -> dict[str, Any]:
    await _membership(services, room_id, requester, _target(body), action, _reason(body))
    return {}


@router.post("/rooms/{room_id}/kick")
async def kick(
    room_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _moderate("kick", room_id, body, requester, services)


@router.post("/rooms/{room_id}/ban")
async def ban(
    room_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _moderate("ban", room_id, body, requester, services)


@router.post("/rooms/{room_id}/unban")
async def unban(
    room_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _moderate("unban", room_id, body, requester, services)


@router.post("/rooms/{room_id}/forget")
async def forget(
    room_id: str,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    await services.router.call(
        "room_server", _room_id(room_id), "forget_room", room_id, requester.user_id
    )
    return {}


@router.put("/directory/room/{room_alias}")
async def create_alias(
    room_alias: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    room_id = body.get("room_id")
    if not isinstance(room_id, str):
        raise missing_param("Missing 'room_id'")
    await services.router.call(
        "room_server", _room_id(room_id), "create_alias", room_alias, room_id, requester.user_id
    )
    return {}


@router.delete("/directory/room/{room_alias}")
async def delete_alias(
    room_alias: str,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    await services.router.call(
        "room_server", room_alias, "delete_alias", room_alias, requester.user_id
    )
    return {}


@router.put("/directory/list/room/{room_id}")
async def set_room_visibility(
    room_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    await services.router.call(
        "room_server", _room_id(room_id), "set_directory_visibility", room_id,
        requester.user_id, body.get("visibility", "public"),
    )
    return {}
