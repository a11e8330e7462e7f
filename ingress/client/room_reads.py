"""Reading rooms (spec: Getting events for a room, Event context, room membership lists).

Every read goes to the requesting user's sync shard: what a user may see is
decided there, from the database.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from ingress.auth import Requester, require_user
from ingress.services import Services, get_services
from protocol.errors import invalid_param
from protocol.identifiers import is_valid_room_id

router = APIRouter()

Membership = Literal["join", "invite", "knock", "leave", "ban"]


def _room_id(room_id: str) -> str:
    if not is_valid_room_id(room_id):
        raise invalid_param("Invalid room ID")
    return room_id


async def _read(services: Services, requester: Requester, method: str, *args: Any, **kwargs: Any) -> Any:
    return await services.router.call(
        "sync", requester.user_id, method, requester.user_id, requester.device_id, *args,
        idempotent=True, **kwargs,
    )


@router.get("/rooms/{room_id}/messages")
async def messages(
    room_id: str,
    dir: Literal["b", "f"],
    from_: str | None = Query(None, alias="from"),
    to: str | None = None,
    limit: int | None = None,
    filter: str | None = None,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _read(
        services, requester, "messages", _room_id(room_id),
        direction=dir, from_token=from_, to_token=to, limit=limit, filter=filter,
    )


@router.get("/rooms/{room_id}/context/{event_id}")
async def context(
    room_id: str,
    event_id: str,
    limit: int | None = None,
    filter: str | None = None,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _read(
        services, requester, "context", _room_id(room_id), event_id, limit=limit, filter=filter
    )


@router.get("/rooms/{room_id}/event/{event_id}")
async def event(
    room_id: str,
    event_id: str,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _read(services, requester, "event", _room_id(room_id), event_id)


@router.get("/rooms/{room_id}/state")
async def state(
    room_id: str,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> list[dict[str, Any]]:
    return await _read(services, requester, "state", _room_id(room_id))


@router.get("/rooms/{room_id}/state/{event_type}")
@router.get("/rooms/{room_id}/state/{event_type}/{state_key:path}")
async def state_event(
    room_id: str,
    event_type: str,
    state_key: str = "",
    format: Literal["content", "event"] = "content",
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _read(
        services, requester, "state_event", _room_id(room_id), event_type, state_key, format
    )


@router.get("/rooms/{room_id}/members")
async def members(
    room_id: str,
    at: str | None = None,
    membership: Membership | None = None,
    not_membership: Membership | None = None,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _read(
        services, requester, "members", _room_id(room_id),
        at=at, membership=membership, not_membership=not_membership,
    )


@router.get("/rooms/{room_id}/joined_members")
async def joined_members(
    room_id: str,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _read(services, requester, "joined_members", _room_id(room_id))


@router.get("/joined_rooms")
async def joined_rooms(
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "sync", requester.user_id, "joined_rooms", requester.user_id, idempotent=True
    )
