"""Account data and room tags (spec: Client Config, Room Tagging): on the user's accounts shard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.get("/user/{user_id}/account_data/{event_type}")
async def get_account_data(
    user_id: str, event_type: str,
    requester: Requester = Depends(require_user), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "get_account_data", requester.user_id, user_id, None, event_type,
        idempotent=True,
    )


@router.put("/user/{user_id}/account_data/{event_type}")
async def put_account_data(
    user_id: str, event_type: str, body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user), services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Writing the same content twice leaves the same data: safe to retry.
    return await services.router.call(
        "accounts", user_id, "put_account_data", requester.user_id, user_id, None, event_type,
        body, idempotent=True,
    )


@router.get("/user/{user_id}/rooms/{room_id}/account_data/{event_type}")
async def get_room_account_data(
    user_id: str, room_id: str, event_type: str,
    requester: Requester = Depends(require_user), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "get_account_data", requester.user_id, user_id, room_id,
        event_type, idempotent=True,
    )


@router.put("/user/{user_id}/rooms/{room_id}/account_data/{event_type}")
async def put_room_account_data(
    user_id: str, room_id: str, event_type: str, body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "put_account_data", requester.user_id, user_id, room_id,
        event_type, body, idempotent=True,
    )


@router.get("/user/{user_id}/rooms/{room_id}/tags")
async def get_tags(
    user_id: str, room_id: str,
    requester: Requester = Depends(require_user), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "get_tags", requester.user_id, user_id, room_id, idempotent=True
    )


@router.put("/user/{user_id}/rooms/{room_id}/tags/{tag}")
async def put_tag(
    user_id: str, room_id: str, tag: str, body: dict[str, Any] = Depends(json_body),
    requester: Requester = Depends(require_user), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "put_tag", requester.user_id, user_id, room_id, tag, body,
        idempotent=True,
    )


@router.delete("/user/{user_id}/rooms/{room_id}/tags/{tag}")
async def delete_tag(
    user_id: str, room_id: str, tag: str,
    requester: Requester = Depends(require_user), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "accounts", user_id, "delete_tag", requester.user_id, user_id, room_id, tag,
        idempotent=True,
    )
