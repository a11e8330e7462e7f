"""Typing notifications (spec: Typing Notifications): handed to the room's typing shard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services
from protocol.errors import invalid_param
from protocol.identifiers import is_valid_room_id

router = APIRouter()


@router.put("/rooms/{room_id}/typing/{user_id}")
async def set_typing(
    room_id: str, user_id: str,
    body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    if not is_valid_room_id(room_id):
        raise invalid_param("Invalid room ID")
    # Setting the same state twice is harmless: safe to retry.
    return await services.router.call(
        "typing", room_id, "set_typing", requester.user_id, room_id, user_id, body,
        idempotent=True,
    )
