"""Reading the room directory (spec: Room aliases, Published room directory).

Alias resolution and the public room list need no user, so any sync shard
serves them (the key only spreads the load).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services
from protocol.errors import invalid_param
from protocol.identifiers import is_valid_room_id

router = APIRouter()


@router.get("/directory/room/{room_alias}")
async def resolve_alias(
    room_alias: str, services: Services = Depends(get_services)
) -> dict[str, Any]:
    return await services.router.call(
        "sync", room_alias, "resolve_alias", room_alias, idempotent=True
    )


@router.get("/rooms/{room_id}/aliases")
async def room_aliases(
    room_id: str,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    if not is_valid_room_id(room_id):
        raise invalid_param("Invalid room ID")
    return await services.router.call(
        "sync", requester.user_id, "room_aliases", requester.user_id, room_id, idempotent=True
    )


@router.get("/directory/list/room/{room_id}")
async def room_visibility(
    room_id: str, services: Services = Depends(get_services)
) -> dict[str, Any]:
    if not is_valid_room_id(room_id):
        raise invalid_param("Invalid room ID")
    return await services.router.call(
        "sync", room_id, "room_visibility", room_id, idempotent=True
    )


@router.get("/publicRooms")
async def public_rooms(
    limit: int | None = None,
    since: str | None = None,
    server: str | None = None,
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "sync", since or "", "public_rooms", limit=limit, since=since, server=server,
        idempotent=True,
    )


@router.post("/publicRooms")
async def search_public_rooms(
    server: str | None = None,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "sync", requester.user_id, "public_rooms", server=server, body=body, idempotent=True
    )
