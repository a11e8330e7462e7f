"""Client-server API routers, one module per spec section.

`ROUTERS` pairs each router with its path prefixes (None: /v3 and /r0).
"""

from __future__ import annotations

from fastapi import APIRouter

from ingress import admin
from ingress.client import (
    account,
    account_data,
    cross_signing,
    devices,
    directory_reads,
    filters,
    key_backup,
    keys,
    login,
    presence,
    profile,
    receipts,
    register,
    room_reads,
    room_writes,
    search,
    sync,
    to_device,
    typing,
    user_directory,
    versions,
)

UNVERSIONED: list[APIRouter] = [
    versions.unversioned,
    admin.router,
]

ROUTERS: list[tuple[APIRouter, tuple[str, ...] | None]] = [
    (versions.router, None),
    (room_writes.router, None),
    (register.router, None),
    (register.v1_router, ("/_matrix/client/v1",)),
    (login.router, None),
    (account.router, None),
    (devices.router, None),
    (profile.router, None),
    (user_directory.router, None),
    (sync.router, None),
    (filters.router, None),
    (room_reads.router, None),
    (directory_reads.router, None),
    (keys.router, None),
    (cross_signing.router, None),
    (key_backup.router, None),
    (typing.router, None),
    (receipts.router, None),
    (presence.router, None),
    (account_data.router, None),
    (to_device.router, None),
    (search.router, None),
]
