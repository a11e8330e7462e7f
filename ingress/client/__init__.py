"""Client-server API routers, one module per spec section.

`ROUTERS` pairs each router with its path prefixes (None: /v3 and /r0).
"""

from __future__ import annotations

from fastapi import APIRouter

from ingress.client import room_writes, versions

UNVERSIONED: list[APIRouter] = [versions.unversioned]

ROUTERS: list[tuple[APIRouter, tuple[str, ...] | None]] = [
    (versions.router, None),
    (room_writes.router, None),
]
