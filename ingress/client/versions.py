"""Server discovery and feature advertisement: /versions, /.well-known, /capabilities."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.services import Services, get_services
from protocol.room_versions import KNOWN_ROOM_VERSIONS

unversioned = APIRouter()
router = APIRouter()

SPEC_VERSIONS = [f"v1.{n}" for n in range(1, 20)]


@unversioned.get("/_matrix/client/versions")
async def versions() -> dict[str, Any]:
    return {"versions": ["r0.6.1", *SPEC_VERSIONS], "unstable_features": {}}


@unversioned.get("/.well-known/matrix/client")
async def well_known_client(services: Services = Depends(get_services)) -> dict[str, Any]:
    return {"m.homeserver": {"base_url": services.config.public_baseurl.rstrip("/")}}


@router.get("/capabilities")
async def capabilities(
    _: Requester = Depends(require_user), services: Services = Depends(get_services)
) -> dict[str, Any]:
    return {
        "capabilities": {
            "m.room_versions": {
                "default": services.config.default_room_version,
                "available": dict.fromkeys(KNOWN_ROOM_VERSIONS, "stable"),
            },
            "m.change_password": {"enabled": True},
            "m.set_displayname": {"enabled": True},
            "m.set_avatar_url": {"enabled": True},
            "m.3pid_changes": {"enabled": False},
            "m.get_login_token": {"enabled": False},
        }
    }
