"""`GET /_matrix/federation/v1/version` and `/.well-known/matrix/server` (server-server "Server discovery")."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, Depends

from ingress.services import Services, get_services
from protocol.errors import not_found

router = APIRouter()


def _version() -> str:
    try:
        return version("dendray")
    except PackageNotFoundError:
        return "unknown"


@router.get("/_matrix/federation/v1/version")
async def server_version() -> dict[str, Any]:
    return {"server": {"name": "dendray", "version": _version()}}


@router.get("/.well-known/matrix/server")
async def well_known_server(services: Services = Depends(get_services)) -> dict[str, Any]:
    delegated = services.config.federation.well_known_server
    if not delegated:
        raise not_found("No server delegation")
    return {"m.server": delegated}
