"""Server-side key backups (spec: "Server-side key backups", key_backup.yaml)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.body import json_body
from ingress.services import Services, get_services

router = APIRouter()


@router.post("/room_keys/version")
async def create_version(
    requester: Requester = Depends(require_user), body: dict[str, Any] = Depends(json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Not retried: each call creates a new version.
    return await services.router.call(
        "keys", requester.user_id, "create_backup_version", requester.user_id, body
    )


@router.get("/room_keys/version")
async def current_version(
    requester: Requester = Depends(require_user), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "keys", requester.user_id, "backup_version", requester.user_id, None, idempotent=True
    )


@router.get("/room_keys/version/{version}")
async def get_version(
    version: str, requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "keys", requester.user_id, "backup_version", requester.user_id, version, idempotent=True
    )


@router.put("/room_keys/version/{version}")
async def update_version(
    version: str, requester: Requester = Depends(require_user),
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await services.router.call(
        "keys", requester.user_id, "update_backup_version", requester.user_id, version, body,
        idempotent=True,
    )


@router.delete("/room_keys/version/{version}")
async def delete_version(
    version: str, requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Deleting a deleted version succeeds: safe to retry.
    return await services.router.call(
        "keys", requester.user_id, "delete_backup_version", requester.user_id, version,
        idempotent=True,
    )


# The three granularities of /room_keys/keys share their handlers: all rooms,
# one room, one session. Storing keeps the better key, so a retry is harmless.


async def _put(
    services: Services, requester: Requester, version: str, body: dict[str, Any],
    *where: str,
) -> dict[str, Any]:
    return await services.router.call(
        "keys", requester.user_id, "put_room_keys", requester.user_id, version, body, *where,
        idempotent=True,
    )


async def _get(services: Services, requester: Requester, version: str, *where: str) -> dict[str, Any]:
    return await services.router.call(
        "keys", requester.user_id, "get_room_keys", requester.user_id, version, *where,
        idempotent=True,
    )


async def _delete(
    services: Services, requester: Requester, version: str, *where: str
) -> dict[str, Any]:
    return await services.router.call(
        "keys", requester.user_id, "delete_room_keys", requester.user_id, version, *where,
        idempotent=True,
    )


@router.put("/room_keys/keys")
async def put_all(
    version: str, requester: Requester = Depends(require_user),
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _put(services, requester, version, body)


@router.put("/room_keys/keys/{room_id}")
async def put_room(
    room_id: str, version: str, requester: Requester = Depends(require_user),
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _put(services, requester, version, body, room_id)


@router.put("/room_keys/keys/{room_id}/{session_id}")
async def put_session(
    room_id: str, session_id: str, version: str, requester: Requester = Depends(require_user),
    body: dict[str, Any] = Depends(json_body), services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _put(services, requester, version, body, room_id, session_id)


@router.get("/room_keys/keys")
async def get_all(
    version: str, requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _get(services, requester, version)


@router.get("/room_keys/keys/{room_id}")
async def get_room(
    room_id: str, version: str, requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _get(services, requester, version, room_id)


@router.get("/room_keys/keys/{room_id}/{session_id}")
async def get_session(
    room_id: str, session_id: str, version: str, requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _get(services, requester, version, room_id, session_id)


@router.delete("/room_keys/keys")
async def delete_all(
    version: str, requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _delete(services, requester, version)


@router.delete("/room_keys/keys/{room_id}")
async def delete_room(
    room_id: str, version: str, requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _delete(services, requester, version, room_id)


@router.delete("/room_keys/keys/{room_id}/{session_id}")
async def delete_session(
    room_id: str, session_id: str, version: str, requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return await _delete(services, requester, version, room_id, session_id)
